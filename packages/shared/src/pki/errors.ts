/**
 * Every refusal of the PKI layer carries a stable code, so that the hub can map it to a status and
 * message without parsing prose.
 */
export type PkiErrorCode =
  | "bad-pem"
  | "bad-base64"
  | "bad-csr"
  | "bad-signature"
  | "weak-key"
  | "key-not-allowed"
  | "subject"
  | "bad-key"
  | "bad-ca"
  | "bad-certificate";

export class PkiError extends Error {
  readonly code: PkiErrorCode;

  constructor(code: PkiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PkiError";
    this.code = code;
  }
}
