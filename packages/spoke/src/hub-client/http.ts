/**
 * The HubClient over Node's https (transport.ts: each call with the credentials of that moment, on a
 * connection of those credentials that resumes their TLS session (connections.ts), an optional
 * CONNECT proxy and one deadline). Answers are checked against the shared
 * contract schemas. A new route is one more method that calls `call` with its method, URL and
 * credentials, and checks the answer.
 */
import {
  type CsrInfo,
  type ManagementInfo,
  type TrustBundle,
  checkShape,
  checkCertificatesResponse,
  checkCsrInfo,
  checkManagementInfo,
  ContractError,
  trustBundleSchema,
} from "@tether/shared/contract";
import { decodeBase64Pem } from "@tether/shared/pki";
import type { HubClient, IssuedCertificates, MtlsOptions, TokenCallOptions } from "./client.ts";
import { HubError, redactUrl, transportError } from "./errors.ts";
import { HubConnections } from "./connections.ts";
import { exchange } from "./transport.ts";

export interface HttpHubClientOptions {
  /** Deadline of one call, connect to last byte. */
  timeoutMs?: number;
  /** How long a connection is kept after a call for the next one (connections.ts). */
  idleMs?: number;
}

interface Call {
  method: "GET" | "POST";
  url: string;
  tls: { caPem?: string; certPem?: string; keyPem?: string };
  bearerToken?: string;
  proxyUrl?: string | undefined;
  body?: unknown;
}

export function createHttpHubClient(options: HttpHubClientOptions = {}): HubClient {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const connections = new HubConnections({ idleMs: options.idleMs });

  async function call(spec: Call): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = { accept: "application/json" };
    if (spec.bearerToken !== undefined) headers.authorization = `Bearer ${spec.bearerToken}`;
    if (spec.body !== undefined) headers["content-type"] = "application/json";
    try {
      const { status, text } = await exchange(
        {
          method: spec.method,
          url: spec.url,
          headers,
          body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
          tls: { ca: spec.tls.caPem, cert: spec.tls.certPem, key: spec.tls.keyPem },
          proxyUrl: spec.proxyUrl,
          timeoutMs,
        },
        connections,
      );
      const body = parseJson(text);
      if (status < 200 || status > 299) throw httpError(spec, status, body, text);
      return { status, body };
    } catch (error) {
      throw transportError(error, spec.method, spec.url, timeoutMs);
    }
  }

  return {
    async getCsrInfo(infoUrl: string, token: TokenCallOptions): Promise<CsrInfo> {
      const { body } = await call({
        method: "GET",
        url: infoUrl,
        tls: { caPem: token.caPem },
        bearerToken: token.bearerToken,
        proxyUrl: token.proxyUrl,
      });
      return checked(() => checkCsrInfo(body));
    },
    async issueCertificate(csrUrl, csrPem, token): Promise<IssuedCertificates> {
      const { body } = await call({
        method: "POST",
        url: csrUrl,
        tls: { caPem: token.caPem },
        bearerToken: token.bearerToken,
        proxyUrl: token.proxyUrl,
        body: { csr: Buffer.from(csrPem, "utf8").toString("base64") },
      });
      return decodeCertificates(body);
    },
    async getManagementInfo(url: string, tls: MtlsOptions): Promise<ManagementInfo> {
      const { body } = await call({ method: "GET", url, tls, proxyUrl: tls.proxyUrl });
      return checked(() => checkManagementInfo(body));
    },
    async getTrustBundle(url: string, tls: MtlsOptions): Promise<TrustBundle | undefined> {
      try {
        const { body } = await call({ method: "GET", url, tls, proxyUrl: tls.proxyUrl });
        return checked(() => checkShape<TrustBundle>(trustBundleSchema, body, "trust bundle"));
      } catch (error) {
        if (error instanceof HubError && error.kind === "http" && error.status === 404) return undefined;
        throw error;
      }
    },
    async renewCertificate(url, csrPem, tls): Promise<IssuedCertificates> {
      const { body } = await call({
        method: "POST",
        url,
        tls,
        proxyUrl: tls.proxyUrl,
        body: { csr: Buffer.from(csrPem, "utf8").toString("base64") },
      });
      return decodeCertificates(body);
    },
    async revokeCertificate(url, tls): Promise<void> {
      await call({ method: "POST", url, tls, proxyUrl: tls.proxyUrl });
    },
  };
}

function decodeCertificates(body: unknown): IssuedCertificates {
  return checked(() => {
    const response = checkCertificatesResponse(body);
    return {
      chainPem: decodeBase64Pem(response.crt),
      clientCertPem: decodeBase64Pem(response.clientCrt),
      caPem: decodeBase64Pem(response.caCrt),
    };
  });
}

/** A malformed answer is the hub's fault (or not a hub at all): say so instead of failing later. */
function checked<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof ContractError || error instanceof Error) {
      throw new HubError("contract", `the hub's answer is not what tether expects: ${error.message}`, {
        cause: error,
      });
    }
    throw error;
  }
}

function httpError(spec: Call, status: number, body: unknown, text: string): HubError {
  const hubMessage =
    typeof body === "object" && body !== null && typeof (body as { error?: unknown }).error === "string"
      ? (body as { error: string }).error
      : undefined;
  const said = hubMessage ?? (text.trim() === "" ? "no message" : text.trim().slice(0, 200));
  return new HubError(
    "http",
    `the hub answered ${status} to ${spec.method} ${redactUrl(spec.url)}: ${said}`,
    {
      status,
      hubMessage,
    },
  );
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
