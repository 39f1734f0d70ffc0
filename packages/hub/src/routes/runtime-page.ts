/**
 * The `continue` token of `GET /v1/runtimes` (docs/api.md#list-runtimes): the last id of a page, so the
 * next page is a keyset read after it. Opaque to clients (base64url of a small versioned JSON, as
 * Kubernetes' list `continue`), so that what it holds can change without changing the API.
 */
import { RUNTIME_PAGE_DEFAULT, runtimeIdPattern } from "@tether/shared/contract";
import { HttpError } from "../errors.ts";

const RUNTIME_ID = new RegExp(runtimeIdPattern, "u");
const MAX_RUNTIME_ID = 63;

export function encodeContinue(lastId: string): string {
  return Buffer.from(JSON.stringify({ v: 1, after: lastId })).toString("base64url");
}

/** The id to list after; a token this hub did not make (or made for another version) is a 400. */
export function decodeContinue(token: string): string {
  const refused = new HttpError(400, "continue: not a token from a previous page of this list.");
  const bytes = Buffer.from(token, "base64url");
  // Node's decoder skips what is not base64url; only a canonical encoding is a token we made.
  if (bytes.toString("base64url") !== token) throw refused;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw refused;
  }
  const { v, after } = (parsed ?? {}) as { v?: unknown; after?: unknown };
  if (v !== 1 || typeof after !== "string" || after.length > MAX_RUNTIME_ID || !RUNTIME_ID.test(after)) {
    throw refused;
  }
  return after;
}

/** The query's limit; the route's schema already holds it to 1-1000 in decimal. */
export function pageLimit(text: string | undefined): number {
  return text === undefined ? RUNTIME_PAGE_DEFAULT : Number(text);
}
