/**
 * PKCS#10 certificate signing requests: the spoke builds one for its key and assigned subject; the
 * hub parses it, checks that the key really signed it, and only then looks at subject and key policy.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import { ErrorMessages } from "../contract/errors.ts";
import { PkiError } from "./errors.ts";
import { describeKey, importParams, isKeyAlgorithm, signingAlgorithm, type KeyPair } from "./keys.ts";
import { pemToDer } from "./pem.ts";
import { subjectOf, subjectToJsonName, subjectValues, type Subject, type SubjectField } from "./subject.ts";
import { Pkcs10CertificateRequest, Pkcs10CertificateRequestGenerator } from "./x509.ts";

export interface ParsedCsr {
  subject: Subject;
  /** Every value of each subject field, so that a repeated field is not mistaken for a match. */
  subjectValues: Record<SubjectField, string[]>;
  /** tether's name for the key ("rsa2048", "ecdsa-p256", ...), or what it is when unsupported ("rsa1024"). */
  keyAlgorithm: string;
  /** RSA modulus or curve size. */
  keyBits?: number;
  publicKey: CryptoKey;
  /** SubjectPublicKeyInfo DER: what the issued certificate carries, without re-exporting the key. */
  spki: Uint8Array<ArrayBuffer>;
  der: Uint8Array;
}

const CSR_LABELS = ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"];

export async function createCsr(key: KeyPair, subject: Subject): Promise<string> {
  const csr = await Pkcs10CertificateRequestGenerator.create({
    name: subjectToJsonName(subject),
    keys: { privateKey: key.privateKey, publicKey: key.publicKey },
    signingAlgorithm: signingAlgorithm(key.algorithm),
  });
  return `${csr.toString("pem")}\n`;
}

/** Parses a PEM CSR and verifies its signature; throws PkiError "bad-pem", "bad-csr", "bad-signature" or "key-not-allowed". */
export async function parseCsr(pem: string): Promise<ParsedCsr> {
  const der = csrDer(pem);
  let csr: Pkcs10CertificateRequest;
  let key: KeyObject;
  try {
    csr = new Pkcs10CertificateRequest(der);
    key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: "der", type: "spki" });
  } catch (error) {
    throw new PkiError("bad-csr", ErrorMessages.csrUnparsable, { cause: error });
  }
  const { algorithm, bits } = describeKey(key);
  // Keys WebCrypto cannot verify with (DSA, other curves, RSA-PSS keys) are outside the allow-list anyway.
  const importAs = isKeyAlgorithm(algorithm)
    ? algorithm
    : key.asymmetricKeyType === "rsa"
      ? "rsa2048"
      : undefined;
  if (!importAs) {
    throw new PkiError(
      "key-not-allowed",
      `${ErrorMessages.csrKeyNotAllowed} Found ${algorithm}; allowed are RSA >= 2048 bits, ECDSA P-256 or P-384, Ed25519.`,
    );
  }
  await verifySignature(csr);
  return {
    subject: subjectOf(csr.subjectName),
    subjectValues: subjectValues(csr.subjectName),
    keyAlgorithm: algorithm,
    keyBits: bits,
    // node:crypto and the DOM typings name the same WebCrypto CryptoKey differently.
    publicKey: key.toCryptoKey(importParams(importAs), true, ["verify"]) as unknown as CryptoKey,
    spki: new Uint8Array(csr.publicKey.rawData),
    der,
  };
}

function csrDer(pem: string): Uint8Array<ArrayBuffer> {
  const label = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
  if (label === undefined || !CSR_LABELS.includes(label))
    throw new PkiError("bad-pem", ErrorMessages.csrNotPem);
  try {
    return pemToDer(pem, label);
  } catch (error) {
    throw new PkiError("bad-pem", ErrorMessages.csrNotPem, { cause: error });
  }
}

async function verifySignature(csr: Pkcs10CertificateRequest): Promise<void> {
  let valid: boolean;
  try {
    valid = await csr.verify();
  } catch (error) {
    throw new PkiError("bad-signature", ErrorMessages.csrBadSignature, { cause: error });
  }
  if (!valid) throw new PkiError("bad-signature", ErrorMessages.csrBadSignature);
}
