/**
 * The HubClient over undici. Each call gets its own dispatcher built from the credentials of that
 * moment (a renewal must present the old certificate and the next call the new one), a connect
 * timeout and an overall deadline. Answers are checked against the shared contract schemas.
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
import { Agent, type Dispatcher, ProxyAgent, request } from "undici";
import type { HubClient, IssuedCertificates, MtlsOptions, TokenCallOptions } from "./client.ts";
import { HubError, redactUrl, transportError } from "./errors.ts";

export interface HttpHubClientOptions {
  /** Deadline of one call, connect to last byte. */
  timeoutMs?: number;
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

  async function call(spec: Call): Promise<{ status: number; body: unknown }> {
    const dispatcher = dispatcherFor(spec, timeoutMs);
    const headers: Record<string, string> = { accept: "application/json" };
    if (spec.bearerToken !== undefined) headers.authorization = `Bearer ${spec.bearerToken}`;
    if (spec.body !== undefined) headers["content-type"] = "application/json";
    try {
      const response = await request(spec.url, {
        method: spec.method,
        headers,
        body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
        dispatcher,
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await response.body.text();
      const body = parseJson(text);
      if (response.statusCode < 200 || response.statusCode > 299) {
        throw httpError(spec, response.statusCode, body, text);
      }
      return { status: response.statusCode, body };
    } catch (error) {
      throw transportError(error, spec.method, spec.url, timeoutMs);
    } finally {
      void dispatcher.close().catch(() => undefined);
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

/** TLS to the hub end to end: through a proxy, the TLS options apply to the tunnelled connection. */
function dispatcherFor(spec: Call, timeoutMs: number): Dispatcher {
  const tls = { ca: spec.tls.caPem, cert: spec.tls.certPem, key: spec.tls.keyPem, timeout: timeoutMs };
  const timeouts = { headersTimeout: timeoutMs, bodyTimeout: timeoutMs };
  if (spec.proxyUrl === undefined) return new Agent({ connect: tls, ...timeouts });
  return new ProxyAgent({
    uri: spec.proxyUrl,
    requestTls: tls,
    proxyTls: { timeout: timeoutMs },
    ...timeouts,
  });
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
