/** Reading certificates: the facts the hub records and the spoke reports, and key ownership. */
import { PkiError } from "./errors.ts";
import { sha256Fingerprint } from "./fingerprint.ts";
import type { KeyPair } from "./keys.ts";
import { pemToDer, splitPemBundle } from "./pem.ts";
import { subjectOf, subjectValues, type Subject } from "./subject.ts";
import { X509Certificate } from "./x509.ts";

export interface CertificateInfo {
  subject: Subject;
  /** Upper-case hex. */
  serial: string;
  /** Lower-case hex SHA-256 of the DER. */
  sha256: string;
  notBefore: Date;
  notAfter: Date;
  /** The issuer's distinguished name. */
  issuer: string;
}

/** Parses the first certificate of `pem`; throws PkiError "bad-pem" or "bad-certificate". */
export function parseCertificate(pem: string): { cert: X509Certificate; der: Uint8Array<ArrayBuffer> } {
  const der = pemToDer(splitPemBundle(pem)[0] ?? pem, "CERTIFICATE");
  try {
    return { cert: new X509Certificate(der), der };
  } catch (cause) {
    throw new PkiError("bad-certificate", "The certificate cannot be parsed.", { cause });
  }
}

/** The facts about the first certificate of `pem` (a `crt` bundle starts with the leaf). */
export function certificateInfo(pem: string): CertificateInfo {
  const { cert, der } = parseCertificate(pem);
  return {
    subject: subjectOf(subjectValues(cert.subjectName)),
    serial: cert.serialNumber.toUpperCase(),
    sha256: sha256Fingerprint(der),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    issuer: cert.issuer,
  };
}

/** Whether `key`'s public half is the certificate's public key (compared as SPKI DER). */
export async function keyMatchesCertificate(key: KeyPair, certPem: string): Promise<boolean> {
  const { cert } = parseCertificate(certPem);
  const ours = new Uint8Array(await crypto.subtle.exportKey("spki", key.publicKey));
  return Buffer.from(ours).equals(Buffer.from(cert.publicKey.rawData));
}
