/**
 * The words a CertificateRequest's status.error uses (docs/resources.md#certificaterequest): each failure of the token exchange
 * says what went wrong and what the operator can do about it, and whether the spoke keeps trying.
 */
import { ErrorMessages } from "@tether/shared/contract";
import { HubError } from "../hub-client/errors.ts";
import type { CertificateRequest } from "../kube/types.ts";

/** Where the exchange was when it failed. */
export type ExchangeStep = "input" | "info" | "key" | "csr" | "issued" | "store";

/** The request itself is unusable: retrying cannot help until the operator changes it. */
export class RequestInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RequestInputError";
  }
}

export interface RequestInput {
  infoUrl: string;
  /** Trust for the hub's serving certificate: spec.caBundle, else --hub-ca-file, else system. */
  caPem?: string;
}

export function readRequest(request: CertificateRequest, hubCaPem: string | undefined): RequestInput {
  const infoUrl = request.spec.csrInfoUrl;
  let url: URL;
  try {
    url = new URL(infoUrl);
  } catch {
    throw new RequestInputError("spec.csrInfoUrl is not a URL: paste the token URL the hub printed");
  }
  if (url.protocol !== "https:") {
    throw new RequestInputError(
      "spec.csrInfoUrl must be an https:// URL: paste the token URL the hub printed",
    );
  }
  const bundle = request.spec.caBundle;
  if (bundle === undefined || bundle === "") return { infoUrl, caPem: hubCaPem };
  const pem = /^[A-Za-z0-9+/\s]+=*\s*$/.test(bundle) ? Buffer.from(bundle, "base64").toString("utf8") : "";
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new RequestInputError(
      "spec.caBundle is not base64 of PEM certificates: give the hub's serving CA as `base64 -w0 ca.pem`",
    );
  }
  return { infoUrl, caPem: pem };
}

export function isRetryable(step: ExchangeStep, error: unknown): boolean {
  if (error instanceof HubError) return error.transient;
  return step === "store";
}

export function describeExchangeFailure(step: ExchangeStep, error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  if (error instanceof RequestInputError) return text;
  const fresh = "create a new token on the hub (tether-hub token create) and apply a new CertificateRequest";
  if (error instanceof HubError && error.kind === "http") {
    const said = error.hubMessage ?? `status ${error.status}`;
    if (step === "info" && error.hubMessage === ErrorMessages.tokenNotProvided) {
      return `spec.csrInfoUrl carries no token (hub: ${said}): paste the whole token URL, including ?token=`;
    }
    if (step === "info" && error.status === 403) {
      return `the hub refused the token in spec.csrInfoUrl (hub: ${said}): it is unknown, expired or already used; ${fresh}`;
    }
    if (step === "csr" && error.status === 403) {
      return `the hub refused the CSR token it had handed out (hub: ${said}): it expired or was used; ${fresh}`;
    }
    if (step === "csr" && error.status === 400) {
      return `the hub refused the certificate signing request (hub: ${said})`;
    }
    if (step === "info" && error.status === 404) {
      return `${text}; is spec.csrInfoUrl a tether token URL (https://HUB/v1/runtimes/signingRequests/info?token=...)?`;
    }
    return text;
  }
  if (error instanceof HubError && error.kind === "contract" && step === "info") {
    return `${text}; is spec.csrInfoUrl a tether token URL?`;
  }
  if (error instanceof HubError) return text;
  switch (step) {
    case "key":
      return `could not make the key and CSR the hub asked for: ${text}`;
    case "issued":
      return `the certificate the hub issued cannot be used: ${text}`;
    case "store":
      return `the hub issued a certificate but it could not be stored: ${text}`;
    default:
      return text;
  }
}
