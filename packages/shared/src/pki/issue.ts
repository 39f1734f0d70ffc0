/**
 * Signing a runtime's certificate (docs/pki.md#the-issued-certificate). The CSR must already have passed parseCsr (signature)
 * and the policy checks; this only builds and signs the leaf.
 */
import { createHash } from "node:crypto";
import type { Clock } from "../time/index.ts";
import type { CertificateAuthority } from "./ca.ts";
import type { ParsedCsr } from "./csr.ts";
import { PkiError } from "./errors.ts";
import { signingAlgorithm } from "./keys.ts";
import { derToPem } from "./pem.ts";
import { subjectToJsonName } from "./subject.ts";
import { randomSerial, validityWindow } from "./validity.ts";
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  CRLDistributionPointsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509CertificateGenerator,
  type Extension,
  type JsonGeneralName,
} from "./x509.ts";

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

/** notAfter is now + validityMs, cut to the CA's own notAfter so a leaf never outlives its issuer. */
export async function issueCertificate(opts: IssueOptions): Promise<IssuedCertificate> {
  const { csr, ca } = opts;
  const now = opts.clock.now();
  if (now >= ca.cert.notAfter) {
    throw new PkiError(
      "bad-ca",
      `The signing CA "${ca.cert.subject}" expired at ${ca.cert.notAfter.toISOString()}.`,
    );
  }
  const { notBefore, notAfter } = validityWindow(now, opts.validityMs, ca.cert.notAfter);
  const cert = await X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: subjectToJsonName(csr.subject),
    issuer: ca.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: csr.spki,
    signingKey: ca.key.privateKey,
    signingAlgorithm: signingAlgorithm(ca.key.algorithm),
    extensions: await leafExtensions(opts),
  });
  const der = new Uint8Array(cert.rawData);
  return {
    pem: derToPem(der),
    serial: cert.serialNumber.toUpperCase(),
    sha256: createHash("sha256").update(der).digest("hex"),
    notBefore,
    notAfter,
    issuerSha256: ca.sha256,
  };
}

async function leafExtensions(opts: IssueOptions): Promise<Extension[]> {
  const rsa = opts.csr.keyAlgorithm.startsWith("rsa");
  const names: JsonGeneralName[] = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(opts.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  return [
    new BasicConstraintsExtension(false, undefined, true),
    // keyEncipherment only means something for RSA key transport; ECDSA/Ed25519 keys cannot encipher.
    new KeyUsagesExtension(KeyUsageFlags.digitalSignature | (rsa ? KeyUsageFlags.keyEncipherment : 0), true),
    new ExtendedKeyUsageExtension([
      opts.usage === "server" ? ExtendedKeyUsage.serverAuth : ExtendedKeyUsage.clientAuth,
    ]),
    await SubjectKeyIdentifierExtension.create(opts.csr.spki),
    new AuthorityKeyIdentifierExtension(opts.ca.subjectKeyId),
    ...(names.length > 0 ? [new SubjectAlternativeNameExtension(names)] : []),
    ...(opts.crlDistributionPoint === undefined
      ? []
      : [new CRLDistributionPointsExtension([opts.crlDistributionPoint])]),
  ];
}
