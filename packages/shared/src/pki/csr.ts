/**
 * PKCS#10 certificate signing requests: the spoke builds one for its key and assigned subject; the
 * hub parses it, checks that the key really signed it, and only then looks at subject and key policy.
 * Both directions are written and read as DER here (docs/pki.md#how-a-certificate-is-built); the
 * key itself is node:crypto's to parse and verify with.
 */
import { KeyObject, createPublicKey, sign } from "node:crypto";
import { ErrorMessages } from "../contract/errors.ts";
import {
  DerError,
  DerReader,
  Tag,
  bitString,
  bitStringBytes,
  context,
  integer,
  sequence,
  valueOf,
  type Element,
} from "./der.ts";
import { PkiError } from "./errors.ts";
import { describeKey, importParams, isKeyAlgorithm, type KeyAlgorithm, type KeyPair } from "./keys.ts";
import { derToPem, pemToDer } from "./pem.ts";
import { csrSignatureAlgorithm, verifyCsrSignature } from "./csr-signature.ts";
import { SIGNATURE_ALGORITHMS } from "./signer.ts";
import { nameValues, subjectName, subjectOf, type Subject, type SubjectField } from "./subject.ts";

export interface ParsedCsr {
  subject: Subject;
  /** Every value of each subject field, so that a repeated field is not mistaken for a match. */
  subjectValues: Record<SubjectField, string[]>;
  /** tether's name for the key ("rsa2048", "ecdsa-p256", ...), or what it is when unsupported ("rsa1024"). */
  keyAlgorithm: string;
  /** RSA modulus or curve size. */
  keyBits?: number;
  /** The key as WebCrypto's; made when first read. */
  publicKey: CryptoKey;
  /** SubjectPublicKeyInfo DER: what the issued certificate carries, without re-exporting the key. */
  spki: Uint8Array<ArrayBuffer>;
  der: Uint8Array;
}

const CSR_LABELS = ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"];

/** A CSR for `key` and `subject`, signed the way `signingAlgorithm` (keys.ts) says; PEM. */
export function createCsr(key: KeyPair, subject: Subject): Promise<string> {
  const { identifier, hash } = SIGNATURE_ALGORITHMS[key.algorithm];
  const spki = KeyObject.from(key.publicKey).export({ format: "der", type: "spki" });
  // version 0, no attributes.
  const info = sequence(integer("0"), subjectName(subject), spki, context(0));
  const signature = sign(hash, info, KeyObject.from(key.privateKey));
  return Promise.resolve(derToPem(sequence(info, identifier, bitString(signature)), "CERTIFICATE REQUEST"));
}

/** Parses a PEM CSR and verifies its signature; throws PkiError "bad-pem", "bad-csr", "bad-signature" or "key-not-allowed". */
export function parseCsr(pem: string): Promise<ParsedCsr> {
  try {
    return Promise.resolve(parseCsrSync(pem));
  } catch (error) {
    return Promise.reject(error as Error);
  }
}

/** parseCsr without the promise: the work is synchronous (node:crypto verifies in the calling thread). */
export function parseCsrSync(pem: string): ParsedCsr {
  const der = csrDer(pem);
  let structure: CsrStructure;
  let key: KeyObject;
  try {
    structure = readStructure(der);
    key = createPublicKey({ key: Buffer.from(structure.spki), format: "der", type: "spki" });
  } catch (error) {
    throw new PkiError("bad-csr", ErrorMessages.csrUnparsable, { cause: error });
  }
  const { algorithm, bits } = describeKey(key);
  // Keys node:crypto verifies but WebCrypto could not (DSA, other curves, RSA-PSS keys) stay outside the allow-list.
  const importAs: KeyAlgorithm | undefined = isKeyAlgorithm(algorithm)
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
  const signatureAlgorithm = csrSignatureAlgorithm(der, structure.signatureAlgorithm);
  if (!verifyCsrSignature(signatureAlgorithm, key, structure.info, structure.signature)) {
    throw new PkiError("bad-signature", ErrorMessages.csrBadSignature);
  }
  const values = structure.subjectValues;
  let publicKey: CryptoKey | undefined;
  return {
    subject: subjectOf(values),
    subjectValues: values,
    keyAlgorithm: algorithm,
    keyBits: bits,
    get publicKey(): CryptoKey {
      // node:crypto and the DOM typings name the same WebCrypto CryptoKey differently.
      publicKey ??= key.toCryptoKey(importParams(importAs), true, ["verify"]) as unknown as CryptoKey;
      return publicKey;
    },
    spki: structure.spki,
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

interface CsrStructure {
  /** The signed bytes: certificationRequestInfo, as sent. */
  info: Uint8Array;
  subjectValues: Record<SubjectField, string[]>;
  spki: Uint8Array<ArrayBuffer>;
  signatureAlgorithm: Element;
  signature: Uint8Array;
}

/**
 * ```
 * CertificationRequest ::= SEQUENCE {
 *   certificationRequestInfo SEQUENCE {
 *     version INTEGER, subject Name,
 *     subjectPKInfo SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING },
 *     attributes [0] IMPLICIT SET OF SEQUENCE { type OBJECT IDENTIFIER, values SET } },
 *   signatureAlgorithm AlgorithmIdentifier,
 *   signature BIT STRING }
 * ```
 * Throws DerError on anything else, trailing bytes included.
 */
function readStructure(der: Uint8Array): CsrStructure {
  const outer = new DerReader(der);
  const request = DerReader.inside(der, outer.next(Tag.sequence));
  outer.finish();
  const info = request.next(Tag.sequence);
  const signatureAlgorithm = request.next(Tag.sequence);
  const signature = bitStringBytes(der, request.next(Tag.bitString));
  request.finish();

  const fields = DerReader.inside(der, info);
  if (valueOf(der, fields.next(Tag.integer)).length === 0) throw new DerError("empty version");
  const subject = fields.next(Tag.sequence);
  const spki = fields.next(Tag.sequence);
  const spkiFields = DerReader.inside(der, spki);
  spkiFields.next(Tag.sequence);
  bitStringBytes(der, spkiFields.next(Tag.bitString));
  spkiFields.finish();
  // Some older tools leave the attributes out altogether.
  if (!fields.atEnd()) {
    const attributes = DerReader.inside(der, fields.next(0xa0));
    while (!attributes.atEnd()) {
      const attribute = DerReader.inside(der, attributes.next(Tag.sequence));
      attribute.next(Tag.oid);
      attribute.next(Tag.set);
      attribute.finish();
    }
  }
  fields.finish();
  return {
    info: der.subarray(info.start, info.end),
    subjectValues: nameValues(der, subject),
    spki: der.slice(spki.start, spki.end),
    signatureAlgorithm,
    signature,
  };
}
