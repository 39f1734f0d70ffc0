/**
 * One HTTPS exchange with the hub on Node's own `https` (its built-in llhttp, no WebAssembly: the
 * spoke image runs Node with --jitless, which has none; docs/footprint.md). Each call presents the TLS
 * material of that moment (a renewal must present the old certificate and the next call the new one)
 * on a connection of that identity (connections.ts): a kept one, else a new one that resumes the
 * identity's last TLS session. Through a proxy (a kubeconfig's proxy-url), the call first opens a
 * CONNECT tunnel and runs TLS to the hub end to end inside it, resuming the same way. One deadline
 * covers it all, connect to last byte; when it passes, the call fails with code ETIMEDOUT.
 */
import { request as httpRequest } from "node:http";
import { Agent as HttpsAgent, type RequestOptions, request as httpsRequest } from "node:https";
import type { Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import type { HubConnections } from "./connections.ts";

export interface Exchange {
  method: "GET" | "POST";
  url: string;
  headers: Record<string, string>;
  body?: string;
  tls: { ca?: string; cert?: string; key?: string };
  proxyUrl?: string;
  timeoutMs: number;
}

export interface Answer {
  status: number;
  text: string;
}

export async function exchange(spec: Exchange, connections: HubConnections): Promise<Answer> {
  const deadline = new AbortController();
  const timer = setTimeout(
    () =>
      deadline.abort(
        Object.assign(new Error(`no answer within ${spec.timeoutMs} ms`), { code: "ETIMEDOUT" }),
      ),
    spec.timeoutMs,
  );
  const identity = connections.identity(spec.tls, spec.proxyUrl);
  // A tunnelled connection is the call's own (a new tunnel each time), closed after the answer.
  const tunnelled = spec.proxyUrl === undefined ? undefined : new HttpsAgent({ keepAlive: true });
  try {
    const url = new URL(spec.url);
    const headers = { ...spec.headers };
    if (spec.body !== undefined) headers["content-length"] = String(Buffer.byteLength(spec.body));
    const options: RequestOptions = {
      method: spec.method,
      headers,
      agent: tunnelled ?? identity.agent,
      ...spec.tls,
    };
    if (tunnelled !== undefined) {
      const socket = await tunnel(spec.proxyUrl!, url, deadline.signal);
      const secured = tlsConnect({
        socket,
        servername: serverName(url),
        session: identity.tunnelSession,
        ...spec.tls,
      });
      secured.on("session", (session: Buffer) => (identity.tunnelSession = session));
      tunnelled.createConnection = () => secured;
    }
    return await new Promise<Answer>((resolve, reject) => {
      const request = httpsRequest(url, options, (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }),
        );
      });
      const abort = () => request.destroy(deadline.signal.reason as Error);
      if (deadline.signal.aborted) abort();
      deadline.signal.addEventListener("abort", abort, { once: true });
      request.on("error", reject);
      request.on("close", () => deadline.signal.removeEventListener("abort", abort));
      request.end(spec.body);
    });
  } finally {
    clearTimeout(timer);
    tunnelled?.destroy();
  }
}

/** A CONNECT tunnel to the hub's host and port through an http: or https: proxy. */
function tunnel(proxyUrl: string, target: URL, signal: AbortSignal): Promise<Socket> {
  const proxy = new URL(proxyUrl);
  const authority = `${target.hostname}:${target.port || "443"}`;
  const headers: Record<string, string> = { host: authority };
  if (proxy.username !== "" || proxy.password !== "") {
    const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
    headers["proxy-authorization"] = `Basic ${Buffer.from(credentials).toString("base64")}`;
  }
  const send = proxy.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise<Socket>((resolve, reject) => {
    const request = send({
      method: "CONNECT",
      host: proxy.hostname,
      port: proxy.port || (proxy.protocol === "https:" ? 443 : 80),
      path: authority,
      headers,
      setHost: false,
      agent: false,
      signal,
    });
    request.once("connect", (response, socket) => {
      if (response.statusCode === 200) return resolve(socket);
      socket.destroy();
      reject(new Error(`the proxy ${proxy.origin} answered ${response.statusCode} to CONNECT ${authority}`));
    });
    request.once("error", (error) => reject(signal.aborted ? (signal.reason as Error) : error));
    request.end();
  });
}

/** SNI takes a host name, never an IP address. */
function serverName(url: URL): string | undefined {
  return /^[\d.]+$|^\[/.test(url.hostname) ? undefined : url.hostname;
}
