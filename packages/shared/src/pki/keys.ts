import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";
import { PkiError } from "./errors.ts";
import { derToPem, pemToDer } from "./pem.ts";

import { keyAlgorithms, type KeyAlgorithm } from "../contract/fields.ts";

// The list is part of the wire contract (the hub advertises one as "key-algorithm"); defined there once.
export { keyAlgorithms, type KeyAlgorithm };

export interface KeyPair {
  algorithm: KeyAlgorithm;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

const RSA_HASH = "SHA-256";

export function isKeyAlgorithm(value: string): value is KeyAlgorithm {
  return (keyAlgorithms as readonly string[]).includes(value);
}

/** WebCrypto import/generate parameters of each algorithm (RSA signs PKCS#1 v1.5 with SHA-256). */
export function importParams(algorithm: KeyAlgorithm): RsaHashedImportParams | EcKeyImportParams | Algorithm {
  switch (algorithm) {
    case "rsa2048":
    case "rsa3072":
    case "rsa4096":
      return { name: "RSASSA-PKCS1-v1_5", hash: RSA_HASH };
    case "ecdsa-p256":
      return { name: "ECDSA", namedCurve: "P-256" };
    case "ecdsa-p384":
      return { name: "ECDSA", namedCurve: "P-384" };
    case "ed25519":
      return { name: "Ed25519" };
  }
}

/** The signature algorithm a key of this kind signs certificates and CSRs with. */
export function signingAlgorithm(algorithm: KeyAlgorithm): Algorithm | EcdsaParams {
  switch (algorithm) {
    case "ecdsa-p256":
      return { name: "ECDSA", hash: "SHA-256" };
    case "ecdsa-p384":
      return { name: "ECDSA", hash: "SHA-384" };
    case "ed25519":
      return { name: "Ed25519" };
    default:
      return { name: "RSASSA-PKCS1-v1_5", hash: RSA_HASH };
  }
}

export async function generateKeyPair(algorithm: KeyAlgorithm): Promise<KeyPair> {
  const params = importParams(algorithm);
  const generate: Algorithm =
    params.name === "RSASSA-PKCS1-v1_5"
      ? ({
          ...params,
          modulusLength: Number(algorithm.slice(3)),
          publicExponent: new Uint8Array([1, 0, 1]),
        } as RsaHashedKeyGenParams)
      : params;
  const pair = (await crypto.subtle.generateKey(generate, true, ["sign", "verify"])) as CryptoKeyPair;
  return { algorithm, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

export async function exportPrivateKeyPem(key: KeyPair): Promise<string> {
  const der = await crypto.subtle.exportKey("pkcs8", key.privateKey);
  return derToPem(new Uint8Array(der), "PRIVATE KEY");
}

/**
 * Reads PKCS#8 ("PRIVATE KEY") and, because operators bring keys made by `openssl genrsa` or
 * `openssl ecparam -genkey`, also PKCS#1 "RSA PRIVATE KEY" and SEC1 "EC PRIVATE KEY".
 */
export async function importPrivateKeyPem(pem: string): Promise<KeyPair> {
  const der = pemToDer(pem, ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"]);
  let keyObject: KeyObject;
  try {
    const type = pem.includes("RSA PRIVATE KEY")
      ? "pkcs1"
      : pem.includes("EC PRIVATE KEY")
        ? "sec1"
        : "pkcs8";
    keyObject = createPrivateKey({ key: Buffer.from(der), format: "der", type });
  } catch (cause) {
    throw new PkiError("bad-key", "Key: the private key cannot be parsed.", { cause });
  }
  const { algorithm } = describeKey(keyObject);
  if (!isKeyAlgorithm(algorithm)) {
    throw new PkiError("key-not-allowed", `Key: ${algorithm} keys are not supported.`);
  }
  const pkcs8 = keyObject.export({ format: "der", type: "pkcs8" });
  const spki = createPublicKey(keyObject).export({ format: "der", type: "spki" });
  const params = importParams(algorithm);
  const [privateKey, publicKey] = await Promise.all([
    crypto.subtle.importKey("pkcs8", pkcs8, params, true, ["sign"]),
    crypto.subtle.importKey("spki", spki, params, true, ["verify"]),
  ]);
  return { algorithm, privateKey, publicKey };
}

/**
 * Names any key the way KeyAlgorithm does ("rsa1024", "ecdsa-p521", "ed448" for those outside the
 * allow-list), with its size in bits for RSA.
 */
export function describeKey(key: KeyObject): { algorithm: string; bits?: number } {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case "rsa": {
      const bits = details.modulusLength ?? 0;
      return { algorithm: `rsa${bits}`, bits };
    }
    case "ec": {
      const curve = details.namedCurve ?? "unknown";
      const name = { prime256v1: "p256", secp384r1: "p384", secp521r1: "p521" }[curve] ?? curve;
      return { algorithm: `ecdsa-${name}` };
    }
    default:
      return { algorithm: key.asymmetricKeyType ?? "unknown" };
  }
}
