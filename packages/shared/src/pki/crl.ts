/**
 * Certificate revocation lists (RFC 5280 §5): one per CA, signed by it, with the CRL number and the
 * authority key identifier, listing the serials of the certificates it issued that are revoked.
 *
 * The DER is written here rather than by @peculiar/x509's X509CrlGenerator: that one's ASN.1 work
 * takes over a second per thousand entries, and a fleet's CRL holds a hundred thousand. The
 * extensions still come from x509 (they are few and small); the signature from node:crypto, which
 * gives ECDSA signatures in the DER form X.509 wants.
 */
import { KeyObject, sign } from "node:crypto";
import type { CertificateAuthority } from "./ca.ts";
import type { KeyAlgorithm } from "./keys.ts";
import { AuthorityKeyIdentifierExtension, Extension } from "./x509.ts";

export interface CrlEntry {
  /** Hex, as the store keeps it. */
  serial: string;
  revokedAt: Date;
}

export interface CrlOptions {
  ca: CertificateAuthority;
  entries: readonly CrlEntry[];
  thisUpdate: Date;
  nextUpdate: Date;
  /** The CRL number: must grow with every CRL the CA issues. */
  number: bigint;
}

const CRL_NUMBER_OID = "2.5.29.20";

/** The DER of the CRL. */
export function createCrl(opts: CrlOptions): Uint8Array {
  const { ca } = opts;
  const algorithm = SIGNATURE[ca.key.algorithm];
  const extensions = [
    new AuthorityKeyIdentifierExtension(ca.subjectKeyId),
    new Extension(CRL_NUMBER_OID, false, new Uint8Array(integer(opts.number.toString(16)))),
  ].map((extension) => Buffer.from(extension.rawData));
  const revoked = revokedCertificates(opts.entries);
  const tbs = tlv(0x30, [
    integer("1"), // v2
    algorithm.identifier,
    Buffer.from(ca.cert.subjectName.toArrayBuffer()),
    time(opts.thisUpdate),
    time(opts.nextUpdate),
    ...(opts.entries.length > 0 ? [revoked] : []),
    tlv(0xa0, [tlv(0x30, extensions)]),
  ]);
  const signature = sign(algorithm.hash, tbs, KeyObject.from(ca.key.privateKey));
  return new Uint8Array(tlv(0x30, [tbs, algorithm.identifier, tlv(0x03, [Buffer.from([0]), signature])]));
}

/** AlgorithmIdentifier DER and node:crypto hash of the signature `signingAlgorithm` (keys.ts) makes. */
const SIGNATURE: Record<KeyAlgorithm, { identifier: Buffer; hash: string | null }> = {
  "ecdsa-p256": { identifier: Buffer.from("300a06082a8648ce3d040302", "hex"), hash: "sha256" },
  "ecdsa-p384": { identifier: Buffer.from("300a06082a8648ce3d040303", "hex"), hash: "sha384" },
  ed25519: { identifier: Buffer.from("300506032b6570", "hex"), hash: null },
  rsa2048: { identifier: Buffer.from("300d06092a864886f70d01010b0500", "hex"), hash: "sha256" },
  rsa3072: { identifier: Buffer.from("300d06092a864886f70d01010b0500", "hex"), hash: "sha256" },
  rsa4096: { identifier: Buffer.from("300d06092a864886f70d01010b0500", "hex"), hash: "sha256" },
};

/**
 * `SEQUENCE OF SEQUENCE { serial INTEGER, revocationDate Time }`, written into one buffer: a
 * hundred thousand entries would otherwise cost several small buffers each.
 */
function revokedCertificates(entries: readonly CrlEntry[]): Buffer {
  const times = new Map<number, Buffer>();
  const encoded = entries.map((entry) => {
    const at = entry.revokedAt.getTime();
    let when = times.get(at);
    if (when === undefined) times.set(at, (when = time(entry.revokedAt)));
    return { serial: integer(entry.serial), when };
  });
  const bodyLength = (e: { serial: Buffer; when: Buffer }) => e.serial.length + e.when.length;
  const total = encoded.reduce((sum, e) => sum + 1 + lengthBytes(bodyLength(e)).length + bodyLength(e), 0);
  const header = [0x30, ...lengthBytes(total)];
  const out = Buffer.allocUnsafe(header.length + total);
  out.set(header, 0);
  let offset = header.length;
  for (const e of encoded) {
    const entryHeader = [0x30, ...lengthBytes(bodyLength(e))];
    out.set(entryHeader, offset);
    offset += entryHeader.length;
    offset += e.serial.copy(out, offset);
    offset += e.when.copy(out, offset);
  }
  return out;
}

function tlv(tag: number, parts: readonly Buffer[]): Buffer {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  return Buffer.concat([Buffer.from([tag, ...lengthBytes(length)]), ...parts]);
}

function lengthBytes(length: number): number[] {
  if (length < 0x80) return [length];
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return [0x80 | bytes.length, ...bytes];
}

/** A non-negative INTEGER from hex digits. */
function integer(hex: string): Buffer {
  let digits = hex.replace(/^0+(?=.)/, "");
  if (digits.length % 2 === 1) digits = `0${digits}`;
  // A leading byte with the high bit set would read as negative.
  if (/^[89a-f]/i.test(digits)) digits = `00${digits}`;
  return tlv(0x02, [Buffer.from(digits, "hex")]);
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §5.1.2.4). */
function time(date: Date): Buffer {
  const iso = date.toISOString();
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "");
  const year = date.getUTCFullYear();
  return year < 2050
    ? tlv(0x17, [Buffer.from(`${digits.slice(2)}Z`, "ascii")])
    : tlv(0x18, [Buffer.from(`${digits}Z`, "ascii")]);
}
