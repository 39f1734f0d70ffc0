/**
 * What every certificate and CRL a CA signs has in common, worked out once per CA and kept beside it
 * (docs/pki.md#how-a-certificate-is-built): the issuer name, the signature AlgorithmIdentifier, the
 * authority key identifier, and the private key as a node:crypto KeyObject, which signs synchronously
 * and gives ECDSA signatures in the DER form X.509 wants.
 */
import { KeyObject, sign } from "node:crypto";
import type { CertificateAuthority } from "./ca.ts";
import { DerReader, NULL, Tag, contextPrimitive, extension, oid, rawOf, sequence } from "./der.ts";
import type { KeyAlgorithm } from "./keys.ts";

export interface CaSigner {
  /** The CA certificate's subject, byte for byte: the issuer of everything it signs. */
  issuerName: Buffer;
  /** The AlgorithmIdentifier of the signatures it makes. */
  algorithm: Buffer;
  /** The authority key identifier extension (non-critical, keyIdentifier only). */
  authorityKeyId: Buffer;
  sign(data: Uint8Array): Buffer;
}

/** The signature algorithm of each key kind, as `signingAlgorithm` (keys.ts) names it for WebCrypto. */
export const SIGNATURE_ALGORITHMS: Record<KeyAlgorithm, { identifier: Buffer; hash: string | null }> = {
  "ecdsa-p256": { identifier: sequence(oid("1.2.840.10045.4.3.2")), hash: "sha256" },
  "ecdsa-p384": { identifier: sequence(oid("1.2.840.10045.4.3.3")), hash: "sha384" },
  ed25519: { identifier: sequence(oid("1.3.101.112")), hash: null },
  rsa2048: { identifier: sequence(oid("1.2.840.113549.1.1.11"), NULL), hash: "sha256" },
  rsa3072: { identifier: sequence(oid("1.2.840.113549.1.1.11"), NULL), hash: "sha256" },
  rsa4096: { identifier: sequence(oid("1.2.840.113549.1.1.11"), NULL), hash: "sha256" },
};

export const AUTHORITY_KEY_IDENTIFIER = "2.5.29.35";

/** `AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING }`, non-critical. */
export function authorityKeyIdExtension(keyIdHex: string): Buffer {
  return extension(
    AUTHORITY_KEY_IDENTIFIER,
    false,
    sequence(contextPrimitive(0, Buffer.from(keyIdHex, "hex"))),
  );
}

const signers = new WeakMap<CertificateAuthority, CaSigner>();

export function signerOf(ca: CertificateAuthority): CaSigner {
  let signer = signers.get(ca);
  if (signer === undefined) {
    const { identifier, hash } = SIGNATURE_ALGORITHMS[ca.key.algorithm];
    const key = KeyObject.from(ca.key.privateKey);
    signer = {
      issuerName: subjectNameOf(new Uint8Array(ca.cert.rawData)),
      algorithm: identifier,
      authorityKeyId: authorityKeyIdExtension(ca.subjectKeyId),
      sign: (data) => sign(hash, data, key),
    };
    signers.set(ca, signer);
  }
  return signer;
}

/** The subject Name of a certificate, as its DER has it. */
function subjectNameOf(certificate: Uint8Array): Buffer {
  const tbs = DerReader.inside(certificate, new DerReader(certificate).next(Tag.sequence));
  const fields = DerReader.inside(certificate, tbs.next(Tag.sequence));
  if (fields.peekTag() === 0xa0) fields.next(); // version
  fields.next(Tag.integer); // serialNumber
  fields.next(Tag.sequence); // signature
  fields.next(Tag.sequence); // issuer
  fields.next(Tag.sequence); // validity
  return Buffer.from(rawOf(certificate, fields.next(Tag.sequence)));
}
