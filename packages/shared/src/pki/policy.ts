/**
 * The hub's signing policy on a parsed (and signature-checked) CSR: subject field by field, then the
 * key. Each check throws a PkiError whose message is what the spoke's operator reads.
 */
import { ErrorMessages, subjectFieldMessages } from "../contract/errors.ts";
import type { ParsedCsr } from "./csr.ts";
import { PkiError } from "./errors.ts";
import type { KeyAlgorithm } from "./keys.ts";
import { subjectFields, type Subject } from "./subject.ts";

/**
 * Security strength in bits (NIST SP 800-57 part 1, table 2): ed25519 and P-256 match RSA-3072, P-384
 * is stronger than any RSA size we issue for. RSA-4096 sits between the 3072 and 7680 rows.
 */
const STRENGTH: Record<KeyAlgorithm, number> = {
  rsa2048: 112,
  rsa3072: 128,
  rsa4096: 140,
  "ecdsa-p256": 128,
  "ecdsa-p384": 192,
  ed25519: 128,
};

const ALLOW_LIST = "allowed are RSA >= 2048 bits, ECDSA P-256 or P-384, Ed25519";

function rsaStrength(bits: number): number {
  if (bits >= 15360) return 256;
  if (bits >= 7680) return 192;
  if (bits >= 4096) return 140;
  if (bits >= 3072) return 128;
  return 112;
}

/** The key's strength in bits, or undefined when the key is outside the allow-list. */
export function keyStrength(csr: Pick<ParsedCsr, "keyAlgorithm" | "keyBits">): number | undefined {
  if (csr.keyAlgorithm in STRENGTH) return STRENGTH[csr.keyAlgorithm as KeyAlgorithm];
  if (/^rsa\d+$/.test(csr.keyAlgorithm) && (csr.keyBits ?? 0) >= 2048) return rsaStrength(csr.keyBits ?? 0);
  return undefined;
}

/** Refuses keys outside the allow-list ("key-not-allowed") and keys weaker than `minimum` ("weak-key"). */
export function checkKeyAllowed(csr: ParsedCsr, minimum: KeyAlgorithm): void {
  const found = csr.keyAlgorithm;
  const weakRsa = /^rsa\d+$/.test(found) && (csr.keyBits ?? 0) < 2048;
  const strength = keyStrength(csr);
  if (strength === undefined && !weakRsa) {
    throw new PkiError("key-not-allowed", `${ErrorMessages.csrKeyNotAllowed} Found ${found}; ${ALLOW_LIST}.`);
  }
  if (strength === undefined || strength < STRENGTH[minimum]) {
    throw new PkiError(
      "weak-key",
      `${ErrorMessages.csrKeyNotAllowed} Found ${found}; the hub requires ${minimum} or a key at least as strong (${ALLOW_LIST}).`,
    );
  }
}

/**
 * The CSR's subject must equal the assigned one, compared CN first and then C, O, OU, L, ST, so that
 * the first difference names the field; the RDN order inside the CSR does not matter.
 */
export function checkSubject(csr: ParsedCsr, expected: Subject): void {
  for (const field of subjectFields) {
    // An absent field reads as the empty value; a repeated one never matches.
    const values = csr.subjectValues[field].length === 0 ? [""] : csr.subjectValues[field];
    if (values.length !== 1 || values[0] !== expected[field])
      throw new PkiError("subject", subjectFieldMessages[field]);
  }
}
