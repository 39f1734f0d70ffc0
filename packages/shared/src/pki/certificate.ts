/** Reading certificates: the facts the hub records and the spoke reports, and key ownership. */
import { DerReader, Tag, readTime, valueOf } from "./der.ts";
import { PkiError } from "./errors.ts";
import { sha256Fingerprint } from "./fingerprint.ts";
import type { KeyPair } from "./keys.ts";
import { pemToDer, splitPemBundle } from "./pem.ts";
import { nameValues, subjectOf, type Subject } from "./subject.ts";
import { Name, X509Certificate } from "./x509.ts";

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

/**
 * The facts about the first certificate of `pem` (a `crt` bundle starts with the leaf), read from
 * its DER: this runs on every new mTLS connection. The issuer's text is made only when read.
 */
export function certificateInfo(pem: string): CertificateInfo {
  const der = pemToDer(splitPemBundle(pem)[0] ?? pem, "CERTIFICATE");
  let facts: ReturnType<typeof readCertificate>;
  try {
    facts = readCertificate(der);
  } catch (cause) {
    throw new PkiError("bad-certificate", "The certificate cannot be parsed.", { cause });
  }
  const { issuerName, ...rest } = facts;
  let issuer: string | undefined;
  return {
    ...rest,
    sha256: sha256Fingerprint(der),
    get issuer(): string {
      issuer ??= new Name(issuerName).toString();
      return issuer;
    },
  };
}

/** `Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version, serial, signature, issuer, validity, subject, ... }, ... }` */
function readCertificate(der: Uint8Array) {
  const outer = new DerReader(der);
  const certificate = DerReader.inside(der, outer.next(Tag.sequence));
  outer.finish();
  const tbs = DerReader.inside(der, certificate.next(Tag.sequence));
  if (tbs.peekTag() === 0xa0) tbs.next();
  const serial = valueOf(der, tbs.next(Tag.integer));
  tbs.next(Tag.sequence);
  const issuer = tbs.next(Tag.sequence);
  const validity = DerReader.inside(der, tbs.next(Tag.sequence));
  const notBefore = readTime(der, validity.next());
  const notAfter = readTime(der, validity.next());
  validity.finish();
  const subject = tbs.next(Tag.sequence);
  return {
    subject: subjectOf(nameValues(der, subject)),
    // Without the zero byte DER puts before a high first bit, as x509 showed serials.
    serial: Buffer.from(serial.length > 1 && serial[0] === 0 ? serial.subarray(1) : serial)
      .toString("hex")
      .toUpperCase(),
    notBefore,
    notAfter,
    issuerName: der.slice(issuer.start, issuer.end),
  };
}

/** Whether `key`'s public half is the certificate's public key (compared as SPKI DER). */
export async function keyMatchesCertificate(key: KeyPair, certPem: string): Promise<boolean> {
  const { cert } = parseCertificate(certPem);
  const ours = new Uint8Array(await crypto.subtle.exportKey("spki", key.publicKey));
  return Buffer.from(ours).equals(Buffer.from(cert.publicKey.rawData));
}
