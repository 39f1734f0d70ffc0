/**
 * Signing a runtime's certificate (docs/pki.md#the-issued-certificate). The CSR must already have passed parseCsr (signature)
 * and the policy checks; this only builds and signs the leaf, as DER written directly around what
 * is the same for every certificate of the CA (docs/pki.md#how-a-certificate-is-built).
 */
import { createHash } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";
import type { Clock } from "../time/index.ts";
import type { CertificateAuthority } from "./ca.ts";
import type { ParsedCsr } from "./csr.ts";
import {
  DerReader,
  Tag,
  bitString,
  bitStringBytes,
  context,
  contextPrimitive,
  extension,
  integer,
  octetString,
  oid,
  sequence,
  time,
} from "./der.ts";
import { PkiError } from "./errors.ts";
import { derToPem } from "./pem.ts";
import { signerOf } from "./signer.ts";
import { subjectName } from "./subject.ts";
import { randomSerial, validityWindow } from "./validity.ts";

export interface IssuedCertificate {
  pem: string;
  /** Upper-case hex. */
  serial: string;
  sha256: string;
  notBefore: Date;
  notAfter: Date;
  issuerSha256: string;
}

export interface IssueOptions {
  csr: ParsedCsr;
  ca: CertificateAuthority;
  validityMs: number;
  clock: Clock;
  /** "client" for runtimes; "server" for the hub's own serving certificate. */
  usage?: "client" | "server";
  dnsNames?: string[];
  ipAddresses?: string[];
  /** URL of the issuing CA's CRL, carried as the CRL Distribution Point. */
  crlDistributionPoint?: string;
}

const VERSION_3 = context(0, integer("2"));
const BASIC_CONSTRAINTS = extension("2.5.29.19", true, sequence()); // cA FALSE (the default), critical
// keyUsage BIT STRINGs: digitalSignature (bit 0); with keyEncipherment (bit 2) for RSA keys, whose
// key transport it names. ECDSA/Ed25519 keys cannot encipher.
const KEY_USAGE = {
  other: extension("2.5.29.15", true, Buffer.from([Tag.bitString, 2, 7, 0x80])),
  rsa: extension("2.5.29.15", true, Buffer.from([Tag.bitString, 2, 5, 0xa0])),
};
const EXTENDED_KEY_USAGE = {
  client: extension("2.5.29.37", false, sequence(oid("1.3.6.1.5.5.7.3.2"))),
  server: extension("2.5.29.37", false, sequence(oid("1.3.6.1.5.5.7.3.1"))),
};
const SUBJECT_KEY_IDENTIFIER = "2.5.29.14";
const SUBJECT_ALT_NAME = "2.5.29.17";
const CRL_DISTRIBUTION_POINTS = "2.5.29.31";

/** notAfter is now + validityMs, cut to the CA's own notAfter so a leaf never outlives its issuer. */
export function issueCertificate(opts: IssueOptions): Promise<IssuedCertificate> {
  return Promise.resolve().then(() => issueCertificateSync(opts));
}

/** issueCertificate without the promise: building and signing are synchronous. */
export function issueCertificateSync(opts: IssueOptions): IssuedCertificate {
  const { csr, ca } = opts;
  const now = opts.clock.now();
  if (now >= ca.cert.notAfter) {
    throw new PkiError(
      "bad-ca",
      `The signing CA "${ca.cert.subject}" expired at ${ca.cert.notAfter.toISOString()}.`,
    );
  }
  const { notBefore, notAfter } = validityWindow(now, opts.validityMs, ca.cert.notAfter);
  const signer = signerOf(ca);
  const serial = randomSerial();
  const tbs = sequence(
    VERSION_3,
    integer(serial),
    signer.algorithm,
    signer.issuerName,
    sequence(time(notBefore), time(notAfter)),
    subjectName(csr.subject),
    csr.spki,
    context(3, sequence(...leafExtensions(opts, signer.authorityKeyId))),
  );
  const der = sequence(tbs, signer.algorithm, bitString(signer.sign(tbs)));
  return {
    pem: derToPem(der),
    serial,
    sha256: createHash("sha256").update(der).digest("hex"),
    notBefore,
    notAfter,
    issuerSha256: ca.sha256,
  };
}

/** In the order the certificates issued before carried them. */
function leafExtensions(opts: IssueOptions, authorityKeyId: Buffer): Buffer[] {
  const names = [
    ...(opts.dnsNames ?? []).map(dnsName),
    ...(opts.ipAddresses ?? []).map((ip) => contextPrimitive(7, ipAddressBytes(ip))),
  ];
  return [
    BASIC_CONSTRAINTS,
    opts.csr.keyAlgorithm.startsWith("rsa") ? KEY_USAGE.rsa : KEY_USAGE.other,
    opts.usage === "server" ? EXTENDED_KEY_USAGE.server : EXTENDED_KEY_USAGE.client,
    extension(SUBJECT_KEY_IDENTIFIER, false, octetString(subjectKeyId(opts.csr.spki))),
    authorityKeyId,
    ...(names.length > 0 ? [extension(SUBJECT_ALT_NAME, false, sequence(...names))] : []),
    ...(opts.crlDistributionPoint === undefined ? [] : [crlDistributionPoints(opts.crlDistributionPoint)]),
  ];
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's bytes. */
export function subjectKeyId(spki: Uint8Array): Buffer {
  const fields = DerReader.inside(spki, new DerReader(spki).next(Tag.sequence));
  fields.next(Tag.sequence);
  return createHash("sha1")
    .update(bitStringBytes(spki, fields.next(Tag.bitString)))
    .digest();
}

/** `dNSName [2] IMPLICIT IA5String`. */
function dnsName(name: string): Buffer {
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]+$/.test(name)) throw new Error(`Not an IA5String DNS name: ${JSON.stringify(name)}`);
  return contextPrimitive(2, Buffer.from(name, "latin1"));
}

/** `DistributionPoint { distributionPoint [0] { fullName [0] { uniformResourceIdentifier [6] } } }`. */
function crlDistributionPoints(url: string): Buffer {
  const uri = contextPrimitive(6, Buffer.from(url, "utf8"));
  return extension(CRL_DISTRIBUTION_POINTS, false, sequence(sequence(context(0, context(0, uri)))));
}

/** The 4 or 16 bytes of an IP address (IPv6 may embed a dotted IPv4 tail). */
export function ipAddressBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split(".").map(Number));
  if (!isIPv6(ip)) throw new Error(`Not an IP address: ${JSON.stringify(ip)}`);
  let text = ip.replace(/%.*$/, "");
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (v4 !== undefined) {
    const [a = 0, b = 0, c = 0, d = 0] = v4.split(".").map(Number);
    text = `${text.slice(0, -v4.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", tail] = text.split("::");
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
  const out = Buffer.alloc(16);
  all.forEach((group, i) => out.writeUInt16BE(parseInt(group, 16), i * 2));
  return out;
}
