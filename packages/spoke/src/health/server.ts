/**
 * The agent's HTTP endpoints: /livez and /readyz answer 200 "ok" or 503 with the failing checks (the
 * way kube-apiserver's health endpoints read), /metrics the Prometheus text. Checks are registered
 * by whoever knows the condition (the bootstrap supervisor will add a certificate check to /livez).
 */
import { type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

/** Answers undefined when healthy, else what is wrong. */
export type Check = () => string | undefined;

export class Probes {
  readonly #live = new Map<string, Check>();
  readonly #ready = new Map<string, Check>();

  addLiveness(name: string, check: Check): void {
    this.#live.set(name, check);
  }

  addReadiness(name: string, check: Check): void {
    this.#ready.set(name, check);
  }

  live(): string[] {
    return failing(this.#live);
  }

  ready(): string[] {
    return [...failing(this.#live), ...failing(this.#ready)];
  }
}

function failing(checks: Map<string, Check>): string[] {
  return [...checks].flatMap(([name, check]) => {
    const problem = check();
    return problem === undefined ? [] : [`${name}: ${problem}`];
  });
}

export type Route = () => Promise<{ status: number; contentType: string; body: string }>;

export function healthRoutes(probes: Probes): Record<string, Route> {
  const answer = (problems: string[]) =>
    Promise.resolve({
      status: problems.length === 0 ? 200 : 503,
      contentType: "text/plain; charset=utf-8",
      body: problems.length === 0 ? "ok\n" : `${problems.map((p) => `[-] ${p}`).join("\n")}\n`,
    });
  return { "/livez": () => answer(probes.live()), "/readyz": () => answer(probes.ready()) };
}

export function metricsRoutes(registry: Registry): Record<string, Route> {
  return {
    "/metrics": async () => ({
      status: 200,
      contentType: registry.contentType,
      body: await registry.metrics(),
    }),
  };
}

export interface RunningServer {
  /** "host:port" actually bound (port 0 resolved). */
  address: string;
  close(): Promise<void>;
}

export async function serve(
  address: { host: string; port: number },
  routes: Record<string, Route>,
): Promise<RunningServer> {
  const server: Server = createServer((request, response) => {
    const route = routes[new URL(request.url ?? "/", "http://agent").pathname];
    if (route === undefined || (request.method !== "GET" && request.method !== "HEAD")) {
      response.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      return;
    }
    route().then(
      ({ status, contentType, body }) =>
        response.writeHead(status, { "content-type": contentType }).end(body),
      (error: unknown) => response.writeHead(500, { "content-type": "text/plain" }).end(`${String(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, resolve);
  });
  const bound = server.address() as AddressInfo;
  return {
    address: `${bound.address.includes(":") ? `[${bound.address}]` : bound.address}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
