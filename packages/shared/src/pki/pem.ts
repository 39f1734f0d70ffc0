import { ErrorMessages } from "../contract/errors.ts";
import { PkiError } from "./errors.ts";

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Every PEM block in `text`, each normalised to 64-column lines and a trailing newline. */
export function splitPemBundle(text: string): string[] {
  const blocks: string[] = [];
  for (const match of text.matchAll(BLOCK)) {
    const label = match[1] ?? "";
    blocks.push(derToPem(decodeBody(match[2] ?? "", label), label));
  }
  return blocks;
}

/**
 * The DER of the single PEM block in `pem`. With `labels`, the block must carry one of them.
 * Anything else (no block, two blocks, bad base64 inside) is a "bad-pem" PkiError.
 */
export function pemToDer(pem: string, label?: string | readonly string[]): Uint8Array<ArrayBuffer> {
  const labels = typeof label === "string" ? [label] : label;
  const matches = [...pem.matchAll(BLOCK)];
  const match = matches[0];
  if (!match || matches.length !== 1) {
    throw new PkiError("bad-pem", `PEM: expected exactly one PEM block, found ${matches.length}.`);
  }
  const found = match[1] ?? "";
  if (labels && !labels.includes(found)) {
    throw new PkiError("bad-pem", `PEM: expected a ${labels.join(" or ")} block, found ${found}.`);
  }
  const outside = pem.replace(match[0], "").trim();
  if (outside !== "") throw new PkiError("bad-pem", "PEM: unexpected text around the PEM block.");
  return decodeBody(match[2] ?? "", found);
}

export function derToPem(der: Uint8Array | ArrayBuffer, label = "CERTIFICATE"): string {
  const body = Buffer.from(der instanceof ArrayBuffer ? new Uint8Array(der) : der).toString("base64");
  let text = `-----BEGIN ${label}-----\n`;
  for (let i = 0; i < body.length; i += 64) text += `${body.slice(i, i + 64)}\n`;
  return `${text}-----END ${label}-----\n`;
}

/** base64 of the PEM text, as the Kyma-compatible API carries certificates and CSRs. */
export function encodeBase64Pem(pem: string): string {
  return Buffer.from(pem, "utf8").toString("base64");
}

/**
 * Strict inverse of encodeBase64Pem: Node's own decoder silently skips bad characters, which would
 * turn garbage into an empty or truncated CSR instead of the error docs/api.md#errors asks for.
 */
export function decodeBase64Pem(text: string): string {
  if (text === "" || !STRICT_BASE64.test(text)) throw new PkiError("bad-base64", ErrorMessages.invalidBase64);
  return Buffer.from(text, "base64").toString("utf8");
}

function decodeBody(body: string, label: string): Uint8Array<ArrayBuffer> {
  const compact = body.replace(/\s+/g, "");
  if (compact === "" || !STRICT_BASE64.test(compact)) {
    throw new PkiError("bad-pem", `PEM: the ${label} block is not valid base64.`);
  }
  return new Uint8Array(Buffer.from(compact, "base64"));
}
