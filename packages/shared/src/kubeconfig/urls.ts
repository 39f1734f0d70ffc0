import { KubeconfigError } from "./errors.ts";

/**
 * The hub is only reachable over TLS, and a bootstrap token must never travel in clear text, so a
 * plain http server is refused rather than quietly used.
 */
export function checkServer(server: unknown): string {
  if (typeof server !== "string" || server === "") {
    throw new KubeconfigError("invalid-server", "cluster has no server");
  }
  const url = parseUrl(server);
  if (url?.protocol !== "https:") {
    throw new KubeconfigError("invalid-server", `server "${server}" is not an https:// URL`);
  }
  return server;
}

const PROXY_SCHEMES = new Set(["http:", "https:", "socks5:"]);

/** The schemes client-go accepts for proxy-url. */
export function checkProxyUrl(proxyUrl: unknown): string | undefined {
  if (proxyUrl === undefined || proxyUrl === null || proxyUrl === "") return undefined;
  const url = typeof proxyUrl === "string" ? parseUrl(proxyUrl) : undefined;
  if (!url || !PROXY_SCHEMES.has(url.protocol)) {
    throw new KubeconfigError(
      "invalid-proxy-url",
      `proxy-url ${JSON.stringify(proxyUrl)} is not an http, https or socks5 URL`,
    );
  }
  return proxyUrl as string;
}

/** One spelling per URL, so "https://HUB:443" and "https://hub/" compare equal. */
export function normalizeUrl(text: string): string {
  return parseUrl(text)?.href ?? text;
}

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}
