/**
 * The `*-data` fields of a kubeconfig: base64 of PEM text. Decoding is strict because Node's own
 * base64 decoder silently skips bad characters, which would turn a pasting mistake into a confusing
 * TLS failure much later.
 */
import { KubeconfigError } from "./errors.ts";

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

export interface PemBlock {
  label: string;
  /** The base64 body without line breaks: equal bodies mean equal DER. */
  body: string;
}

export function encodeData(pem: string): string {
  return Buffer.from(pem, "utf8").toString("base64");
}

/** Decodes a `*-data` field and checks that it holds PEM blocks whose label matches `label`. */
export function decodeData(field: string, data: string, label: RegExp): string {
  if (data === "" || !BASE64.test(data)) {
    throw new KubeconfigError("invalid-data", `${field} is not base64`);
  }
  const pem = Buffer.from(data, "base64").toString("utf8");
  checkPem(field, pem, label);
  return pem;
}

export function checkPem(field: string, pem: string, label: RegExp): void {
  const blocks = pemBlocks(pem);
  if (blocks.length === 0) throw new KubeconfigError("invalid-data", `${field} holds no PEM block`);
  const wrong = blocks.find((block) => !label.test(block.label) || !BASE64.test(block.body));
  if (wrong)
    throw new KubeconfigError(
      "invalid-data",
      `${field} holds a malformed or unexpected "${wrong.label}" block`,
    );
}

export function pemBlocks(pem: string): PemBlock[] {
  return [...pem.matchAll(PEM_BLOCK)].map(([, label, body]) => ({
    label: label ?? "",
    body: (body ?? "").replace(/\s+/g, ""),
  }));
}

export const CERTIFICATE = /^CERTIFICATE$/;
export const PRIVATE_KEY = /^(RSA |EC )?PRIVATE KEY$/;
