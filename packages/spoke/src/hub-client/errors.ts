/**
 * Every failure of a call to the hub becomes one HubError that says, in an operator's words, what
 * happened and whether trying again can help: network trouble, timeouts, 5xx and 429 are transient;
 * a refusal (4xx), an untrusted serving certificate or a malformed answer are not.
 */
export type HubErrorKind = "network" | "timeout" | "tls" | "http" | "contract";

export class HubError extends Error {
  readonly kind: HubErrorKind;
  /** The HTTP status, for kind "http". */
  readonly status: number | undefined;
  /** The hub's own words from its `{code, error}` body, e.g. "Certificate has been revoked.". */
  readonly hubMessage: string | undefined;

  constructor(
    kind: HubErrorKind,
    message: string,
    options: { status?: number; hubMessage?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.name = "HubError";
    this.kind = kind;
    this.status = options.status;
    this.hubMessage = options.hubMessage;
  }

  get transient(): boolean {
    if (this.kind === "network" || this.kind === "timeout") return true;
    return this.kind === "http" && this.status !== undefined && (this.status >= 500 || this.status === 429);
  }
}

/** The URL without its query: token URLs carry the token there, and a token never reaches a log. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.origin}${parsed.pathname}`;
  } catch {
    return "<invalid URL>";
  }
}

/** OpenSSL's verdicts on the hub's serving certificate, as Node reports them in `code`. */
const tlsTrustCodes = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** transport.ts fails a call that outlived its deadline with ETIMEDOUT, as the kernel does a connect. */
const timeoutCodes = new Set(["ETIMEDOUT"]);

/** Turns whatever Node threw into a HubError. */
export function transportError(error: unknown, method: string, url: string, timeoutMs: number): HubError {
  if (error instanceof HubError) return error;
  const target = `${method} ${redactUrl(url)}`;
  const code = errorCode(error);
  const detail = error instanceof Error ? error.message : String(error);
  if (tlsTrustCodes.has(code)) {
    return new HubError(
      "tls",
      `the hub's serving certificate is not trusted (${code}) on ${target}: give its CA in the CertificateRequest's spec.caBundle or the agent's --hub-ca-file`,
      { cause: error },
    );
  }
  if (timeoutCodes.has(code) || (error instanceof Error && error.name === "TimeoutError")) {
    return new HubError("timeout", `the hub did not answer ${target} within ${timeoutMs} ms`, {
      cause: error,
    });
  }
  return new HubError(
    "network",
    `could not reach the hub for ${target}: ${code ? `${code} ` : ""}${detail}`,
    {
      cause: error,
    },
  );
}

function errorCode(error: unknown): string {
  for (let current: unknown = error, depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return "";
}
