/**
 * Requests to the API server on Node's own http/https (its built-in llhttp, no WebAssembly: the
 * spoke image runs Node with --jitless, which has none; docs/footprint.md). client-node's
 * `KubeConfig.applyToHTTPSOptions` fills in each request exactly as it does for its own WebSocket
 * calls: the token or basic credentials and exec plugin output (headers), the CA, the client
 * certificate and key (re-read from their files each time), the TLS server name, skip-TLS-verify,
 * and for a proxy-url its proxy agent (CONNECT through http/https proxies, SOCKS).
 *
 * Without a proxy, one keep-alive agent serves every request and watch: an https.Agent pools its
 * connections by the TLS options of each request, so while the material stays the same the
 * connections are reused (leader election alone makes a Lease read and write every two seconds),
 * and rotated material (or an exec plugin's new client certificate) opens new ones. client-node's
 * own agent for the cluster does not keep connections alive, so it is used only with a proxy.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, type RequestOptions, request as httpsRequest } from "node:https";
import { KubeError } from "./port.ts";

export type Query = Record<string, string | undefined>;

export interface KubeRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** The API path, e.g. /api/v1/namespaces/x/secrets. */
  path: string;
  query?: Query;
  body?: string;
  contentType?: string;
  /** Aborts the request and its response stream. */
  signal?: AbortSignal;
}

/** Sends a request and resolves with the response as soon as its head arrived. */
export type Open = (request: KubeRequest) => Promise<IncomingMessage>;

export function kubeTransport(config: KubeConfig): Open {
  // Matches client-go and client-node's keep-alive probes (30 s), below cloud load balancers' idle cut-off.
  const keepAlive = { keepAlive: true, keepAliveMsecs: 30_000 };
  const agents = { "https:": new HttpsAgent(keepAlive), "http:": new HttpAgent(keepAlive) };
  return async (spec) => {
    const cluster = config.getCurrentCluster();
    if (cluster === null) throw new KubeError("the kubeconfig names no current cluster");
    const url = new URL(cluster.server + spec.path);
    for (const [key, value] of Object.entries(spec.query ?? {}))
      if (value !== undefined) url.searchParams.set(key, value);
    const headers: Record<string, string> = { accept: "application/json" };
    if (spec.body !== undefined) {
      headers["content-type"] = spec.contentType ?? "application/json";
      headers["content-length"] = String(Buffer.byteLength(spec.body));
    }
    const options: RequestOptions = { method: spec.method, headers, signal: spec.signal };
    await config.applyToHTTPSOptions(options);
    const protocol = url.protocol === "http:" ? "http:" : "https:";
    if (cluster.proxyUrl === undefined) options.agent = agents[protocol];
    return new Promise<IncomingMessage>((resolve, reject) => {
      const request = (protocol === "http:" ? httpRequest : httpsRequest)(url, options, resolve);
      request.on("error", reject);
      request.end(spec.body);
    });
  };
}

/** The whole body of a response, as text. */
export async function readText(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
