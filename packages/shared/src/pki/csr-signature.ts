/**
 * The signature algorithms a CSR may be signed with: the ones @peculiar/x509 verified before
 * (RSA PKCS#1 v1.5 and ECDSA with SHA-1/256/384/512, RSA-PSS, Ed25519), verified by node:crypto.
 * An algorithm outside this list, or one that does not fit the key, fails verification.
 */
import { constants, verify, type KeyObject } from "node:crypto";
import { DerError, DerReader, Tag, oid, valueOf, type Element } from "./der.ts";

export type CsrSignatureAlgorithm =
  | { kind: "rsa" | "ecdsa"; hash: string }
  | { kind: "rsa-pss"; hash: string; saltLength: number }
  | { kind: "ed25519" }
  | { kind: "unknown" };

const hex = (dotted: string) => oid(dotted).toString("hex");

const HASHES = new Map([
  [hex("1.3.14.3.2.26"), "sha1"],
  [hex("2.16.840.1.101.3.4.2.1"), "sha256"],
  [hex("2.16.840.1.101.3.4.2.2"), "sha384"],
  [hex("2.16.840.1.101.3.4.2.3"), "sha512"],
]);

const SIMPLE = new Map<string, CsrSignatureAlgorithm>([
  [hex("1.2.840.113549.1.1.5"), { kind: "rsa", hash: "sha1" }],
  [hex("1.2.840.113549.1.1.11"), { kind: "rsa", hash: "sha256" }],
  [hex("1.2.840.113549.1.1.12"), { kind: "rsa", hash: "sha384" }],
  [hex("1.2.840.113549.1.1.13"), { kind: "rsa", hash: "sha512" }],
  [hex("1.2.840.10045.4.1"), { kind: "ecdsa", hash: "sha1" }],
  [hex("1.2.840.10045.4.3.2"), { kind: "ecdsa", hash: "sha256" }],
  [hex("1.2.840.10045.4.3.3"), { kind: "ecdsa", hash: "sha384" }],
  [hex("1.2.840.10045.4.3.4"), { kind: "ecdsa", hash: "sha512" }],
  [hex("1.3.101.112"), { kind: "ed25519" }],
]);
const RSASSA_PSS = hex("1.2.840.113549.1.1.10");
const MGF1 = hex("1.2.840.113549.1.1.8");

/** The algorithm of the AlgorithmIdentifier at `element`; "unknown" for anything not listed above. */
export function csrSignatureAlgorithm(der: Uint8Array, element: Element): CsrSignatureAlgorithm {
  try {
    const fields = DerReader.inside(der, element);
    const id = fields.next(Tag.oid);
    const key = Buffer.from(der.subarray(id.start, id.end)).toString("hex");
    if (key === RSASSA_PSS) return pssParameters(der, fields);
    const simple = SIMPLE.get(key);
    if (simple === undefined) return { kind: "unknown" };
    // Parameters are absent or NULL (RFC 4055 wants NULL for RSA, RFC 5758 absent for ECDSA).
    if (!fields.atEnd()) fields.next(Tag.null);
    fields.finish();
    return simple;
  } catch {
    return { kind: "unknown" };
  }
}

/**
 * `RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] DEFAULT sha1, maskGenAlgorithm [1] DEFAULT
 * mgf1SHA1, saltLength [2] INTEGER DEFAULT 20, trailerField [3] DEFAULT 1 }` (RFC 4055). node:crypto,
 * like WebCrypto, masks with the signature's own hash: another MGF1 hash is not supported.
 */
function pssParameters(der: Uint8Array, fields: DerReader): CsrSignatureAlgorithm {
  let hash = "sha1";
  let mgfHash = "sha1";
  let saltLength = 20;
  const params = fields.atEnd() ? undefined : DerReader.inside(der, fields.next(Tag.sequence));
  fields.finish();
  while (params && !params.atEnd()) {
    const field = params.next();
    const inner = DerReader.inside(der, field);
    switch (field.tag) {
      case 0xa0:
        hash = hashOf(der, inner.next(Tag.sequence));
        break;
      case 0xa1: {
        const mgf = DerReader.inside(der, inner.next(Tag.sequence));
        const mgfId = mgf.next(Tag.oid);
        if (Buffer.from(der.subarray(mgfId.start, mgfId.end)).toString("hex") !== MGF1)
          return { kind: "unknown" };
        mgfHash = hashOf(der, mgf.next(Tag.sequence));
        break;
      }
      case 0xa2:
        saltLength = smallInteger(der, inner.next(Tag.integer));
        break;
      case 0xa3:
        if (smallInteger(der, inner.next(Tag.integer)) !== 1) return { kind: "unknown" };
        break;
      default:
        return { kind: "unknown" };
    }
    inner.finish();
  }
  return mgfHash === hash ? { kind: "rsa-pss", hash, saltLength } : { kind: "unknown" };
}

function hashOf(der: Uint8Array, element: Element): string {
  const fields = DerReader.inside(der, element);
  const id = fields.next(Tag.oid);
  const hash = HASHES.get(Buffer.from(der.subarray(id.start, id.end)).toString("hex"));
  if (hash === undefined) throw new DerError("unknown hash");
  if (!fields.atEnd()) fields.next(Tag.null);
  fields.finish();
  return hash;
}

function smallInteger(der: Uint8Array, element: Element): number {
  const bytes = valueOf(der, element);
  if (bytes.length === 0 || bytes.length > 2 || (bytes[0] ?? 0) & 0x80) throw new DerError("bad integer");
  return bytes.reduce((value, byte) => value * 256 + byte, 0);
}

/** Whether `signature` over `data` verifies with `key` under `algorithm`; false for any mismatch. */
export function verifyCsrSignature(
  algorithm: CsrSignatureAlgorithm,
  key: KeyObject,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  const type = key.asymmetricKeyType;
  try {
    switch (algorithm.kind) {
      case "rsa":
        return type === "rsa" && verify(algorithm.hash, data, key, signature);
      case "rsa-pss":
        return (
          type === "rsa" &&
          verify(
            algorithm.hash,
            data,
            { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: algorithm.saltLength },
            signature,
          )
        );
      case "ecdsa":
        return type === "ec" && verify(algorithm.hash, data, key, signature);
      case "ed25519":
        return type === "ed25519" && verify(null, data, key, signature);
      case "unknown":
        return false;
    }
  } catch {
    return false;
  }
}
