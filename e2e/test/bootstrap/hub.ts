/**
 * What the bootstrap tests ask of a hub beyond spoke-helpers' `startHub`: bootstrap kubeconfigs from
 * the internal API (YAML, not JSON), the runtime registry, the CSR info route called with a bootstrap
 * token as the agent calls it, and a hub started with extra `serve` flags (short client certificates).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Agent, request } from "undici";
import type { RuntimeView } from "@tether/shared/contract";
import { parseKubeconfig } from "@tether/shared/kubeconfig";
import type { TestLike } from "@tether/e2e/harness";
import { freePorts, programPath, repoRoot, showLogsOnFailure, startProcess } from "@tether/e2e/harness";
import { eventually } from "../spoke-helpers.ts";

/** The hub the image ships (the bundle), as the bootstrap scenarios run it. */
export const hubCli = await programPath("hub");

/** Enough of a hub to talk to it; spoke-helpers' `Hub` is one. */
export interface HubEndpoints {
  publicUrl: string;
  internalUrl: string;
  /** ca.crt in the hub's data dir, next to its admin-token. */
  caFile: string;
}

export const tenant = "e2e";
export const group = "bootstrap";

async function adminToken(hub: HubEndpoints): Promise<string> {
  return (await readFile(join(dirname(hub.caFile), "admin-token"), "utf8")).trim();
}

/** `POST /v1/runtimes/{id}/bootstrap-kubeconfig`; Tenant and Group create the runtime when it is new. */
export async function bootstrapKubeconfig(
  hub: HubEndpoints,
  runtime: string,
  options: { ttl?: string } = {},
): Promise<string> {
  const response = await fetch(`${hub.internalUrl}/v1/runtimes/${runtime}/bootstrap-kubeconfig`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${await adminToken(hub)}`,
      "content-type": "application/json",
      tenant,
      group,
    },
    body: JSON.stringify(options.ttl === undefined ? {} : { ttl: options.ttl }),
  });
  const text = await response.text();
  if (response.status !== 200)
    throw new Error(`bootstrap kubeconfig for ${runtime}: ${response.status} ${text}`);
  return text;
}

/** `GET /v1/runtimes/{id}` on the internal API; undefined when the hub does not know the runtime. */
export async function runtime(hub: HubEndpoints, id: string): Promise<RuntimeView | undefined> {
  const response = await fetch(`${hub.internalUrl}/v1/runtimes/${id}`, {
    headers: { authorization: `Bearer ${await adminToken(hub)}` },
  });
  if (response.status === 404) return undefined;
  if (!response.ok) throw new Error(`GET runtime ${id}: ${response.status} ${await response.text()}`);
  return (await response.json()) as RuntimeView;
}

/** The CSR info route with the bootstrap kubeconfig's token, trusting the CA it embeds. */
export async function csrInfoWith(kubeconfig: string): Promise<{ status: number; body: unknown }> {
  const view = parseKubeconfig(kubeconfig);
  const dispatcher = new Agent({ connect: view.caPem === undefined ? {} : { ca: view.caPem } });
  try {
    const response = await request(`${view.server.replace(/\/+$/, "")}/v1/runtimes/signingRequests/info`, {
      headers: { authorization: `Bearer ${view.token}` },
      dispatcher,
    });
    return { status: response.statusCode, body: await response.body.json() };
  } finally {
    await dispatcher.close();
  }
}

export interface StartedHub extends HubEndpoints {
  /** The external and internal port, for a hub that takes over the same URLs. */
  ports: number[];
  stop(): Promise<void>;
}

/**
 * `tether-hub serve` with its own data dir (so its own CAs) and extra flags, on free ports or on
 * given ones (a hub reinstalled behind the same URL).
 */
export async function startHubWith(t: TestLike, args: string[], ports?: number[]): Promise<StartedHub> {
  const dataDir = await mkdtemp(join(tmpdir(), "tether-bootstrap-e2e-hub-"));
  const [external, internal] = ports ?? (await freePorts(2));
  const endpoints = {
    publicUrl: `https://127.0.0.1:${external}`,
    internalUrl: `http://127.0.0.1:${internal}`,
    caFile: join(dataDir, "ca.crt"),
  };
  const proc = startProcess({
    name: "hub-with-flags",
    cmd: process.execPath,
    args: [
      ...[hubCli, "serve", "--listen", `127.0.0.1:${external}`, "--internal-listen", `127.0.0.1:${internal}`],
      ...[
        "--public-url",
        endpoints.publicUrl,
        "--data-dir",
        dataDir,
        "--store",
        "sqlite",
        "--log-level",
        "warn",
      ],
      ...args,
    ],
    cwd: repoRoot,
    env: Object.fromEntries(
      Object.keys(process.env)
        .filter((k) => k.startsWith("TETHER_"))
        .map((k) => [k, undefined]),
    ),
  });
  showLogsOnFailure(t, proc);
  t.teardown(() => rm(dataDir, { recursive: true, force: true }));
  await eventually(
    "the hub's /readyz",
    async () =>
      (await fetch(`${endpoints.internalUrl}/readyz`).catch(() => undefined))?.ok ? true : undefined,
    30_000,
    proc,
  );
  return { ...endpoints, ports: [external!, internal!], stop: async () => void (await proc.stop()) };
}
