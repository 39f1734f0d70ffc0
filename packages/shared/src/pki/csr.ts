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
  isOid,
  oid,
  rawOf,
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
  return Promise.resolve().then(() => parseCsrSync(pem));
}

/** parseCsr without the promise: the work is synchronous (node:crypto verifies in the calling thread). */
export function parseCsrSync(pem: string): ParsedCsr {
  const der = csrDer(pem);
  let structure: CsrStructure;
  let key: KeyObject;
  try {
    structure = readStructure(der);
    // As PEM text, not `{ key: der, format: "der" }`: node:crypto tells an options object from a
    // KeyObject or CryptoKey by brand checks that throw, which cost as much as the key parse itself
    // (118 against 49 µs per P-256 key on Node 24).
    key = createPublicKey(derToPem(structure.spki, "PUBLIC KEY"));
  } catch (error) {
    throw new PkiError("bad-csr", ErrorMessages.csrUnparsable, { cause: error });
  }
  // Read from the SPKI where we know the key kind: node:crypto's asymmetricKeyDetails costs about as
  // much again as parsing the key.
  const { algorithm, bits } = structure.key ?? describeKey(key);
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
  /** What describeKey would say, when the SPKI names a key kind it knows. */
  key: { algorithm: string; bits?: number } | undefined;
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
  const keyAlgorithm = spkiFields.next(Tag.sequence);
  const publicKey = bitStringBytes(der, spkiFields.next(Tag.bitString));
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
    key: keyKind(der, keyAlgorithm, publicKey),
    signatureAlgorithm,
    signature,
  };
}

const EC_PUBLIC_KEY = oid("1.2.840.10045.2.1");
const RSA_ENCRYPTION = oid("1.2.840.113549.1.1.1");
const ED25519 = oid("1.3.101.112");
const CURVES = new Map([
  [oid("1.2.840.10045.3.1.7").toString("hex"), "ecdsa-p256"],
  [oid("1.3.132.0.34").toString("hex"), "ecdsa-p384"],
  [oid("1.3.132.0.35").toString("hex"), "ecdsa-p521"],
]);

/**
 * The key's name as describeKey gives it, for the kinds the allow-list is about (named P-256/P-384/
 * P-521, RSA, Ed25519); undefined for the rest, which describeKey then names.
 */
function keyKind(
  der: Uint8Array,
  algorithm: Element,
  publicKey: Uint8Array,
): { algorithm: string; bits?: number } | undefined {
  const fields = DerReader.inside(der, algorithm);
  const id = fields.next(Tag.oid);
  if (isOid(der, id, ED25519) && fields.atEnd()) return { algorithm: "ed25519" };
  if (isOid(der, id, EC_PUBLIC_KEY) && fields.peekTag() === Tag.oid) {
    const curve = fields.next(Tag.oid);
    const name = CURVES.get(Buffer.from(rawOf(der, curve)).toString("hex"));
    return fields.atEnd() && name !== undefined ? { algorithm: name } : undefined;
  }
  if (isOid(der, id, RSA_ENCRYPTION)) {
    // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
    const rsa = DerReader.inside(publicKey, new DerReader(publicKey).next(Tag.sequence));
    const modulus = valueOf(publicKey, rsa.next(Tag.integer));
    let start = 0;
    while (start < modulus.length && modulus[start] === 0) start++;
    const top = modulus[start] ?? 0;
    const bits = top === 0 ? 0 : (modulus.length - start - 1) * 8 + (32 - Math.clz32(top));
    return { algorithm: `rsa${bits}`, bits };
  }
  return undefined;
}
