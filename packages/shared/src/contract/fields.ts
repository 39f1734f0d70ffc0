/**
 * Field constraints shared by several requests and responses. They exist once so that the hub's
 * validation, the OpenAPI document and the spoke's checks agree on what an id or a hash looks like.
 */

/** Key algorithms the hub may advertise as `key-algorithm` (docs/api.md#csr-info), weakest RSA first. */
export const keyAlgorithms = [
  "rsa2048",
  "rsa3072",
  "rsa4096",
  "ecdsa-p256",
  "ecdsa-p384",
  "ed25519",
] as const;
export type KeyAlgorithm = (typeof keyAlgorithms)[number];

/**
 * A runtime id becomes the certificate's CN and, on the spoke, a Kubernetes object name: a DNS label
 * keeps it valid in both places (and under X.509's 64-character CN bound).
 */
export const runtimeIdPattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
export const runtimeIdSchema = {
  type: "string",
  minLength: 1,
  maxLength: 63,
  pattern: runtimeIdPattern,
  description: "Runtime id: a DNS label (1-63 characters of a-z, 0-9 and '-', alphanumeric at both ends).",
} as const;

/**
 * Tenant and group become the subject's O and OU. The subject travels as "O=...,OU=..." text, so ','
 * and '=' cannot appear in a value; 64 is X.509's upper bound for both attributes (RFC 5280). They
 * arrive in HTTP headers, whose bytes Node reads as Latin-1: UTF-8 text would be stored as mojibake
 * (with C1 control characters), so a value is printable ASCII, and anything else is refused.
 */
const subjectValue = (what: string) =>
  ({
    type: "string",
    minLength: 1,
    maxLength: 64,
    pattern: "^[\\x20-\\x2B\\x2D-\\x3C\\x3E-\\x7E]+$",
    description: `${what}: 1-64 printable ASCII characters, without ',' or '='.`,
  }) as const;
export const tenantSchema = subjectValue("Tenant (the certificate's O)");
export const groupSchema = subjectValue("Group (the certificate's OU)");

export const labelsSchema = {
  type: "object",
  additionalProperties: { type: "string" },
  description: "Free-form labels, string to string.",
} as const;

/** The syntax `parseDuration` of `@tether/shared/time` reads ("90s", "10m", "1h30m", "24h"). */
export const durationSchema = {
  type: "string",
  pattern: "^(\\d+(\\.\\d+)?(ms|s|m|h|d))+$",
  description: 'A duration: numbers with units ms, s, m, h, d, e.g. "10m" or "1h30m".',
} as const;

export const sha256HexSchema = {
  type: "string",
  pattern: "^[0-9a-fA-F]{64}$",
  description: "SHA-256 of the certificate's DER, 64 hex digits (case-insensitive).",
} as const;

/** Serial numbers as openssl prints them: upper-case hex without colons. */
export const serialSchema = { type: "string", pattern: "^[0-9A-F]+$" } as const;

/** Standard base64 with padding, as Kyma clients expect for PEM text. */
export const base64Schema = {
  type: "string",
  minLength: 1,
  pattern: "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
  description: "Base64 (standard alphabet, padded) of PEM text.",
} as const;

export const absoluteUrlSchema = { type: "string", format: "uri" } as const;
export const timestampSchema = { type: "string", format: "date-time" } as const;
export const nullableTimestampSchema = { type: ["string", "null"], format: "date-time" } as const;
