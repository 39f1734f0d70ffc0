/**
 * What the spoke's end-to-end files share: the control plane with the CRDs and the agent's RBAC
 * (packages/spoke/test/fixtures/rbac.yaml), a real hub child process that can be stopped and started
 * again on the same ports and data dir, spoke child processes running as the agent's service account,
 * and typed reads through the spoke's own client-node adapter (which is thereby tested against a
 * real kube-apiserver).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ControlPlane, ManagedProcess, ProgramBuild, TestLike } from "@tether/e2e/harness";
import { freePorts, programPath, repoRoot, sharedControlPlane, startProcess } from "@tether/e2e/harness";
import { clientNodeKube } from "../../packages/spoke/src/kube/client-node.ts";
import type { KubePort } from "../../packages/spoke/src/kube/port.ts";
import type { CentralConnection } from "../../packages/spoke/src/kube/types.ts";
import { createLogger } from "../../packages/spoke/src/serve.ts";

export const namespace = "tether-system";
const rbacFile = join(repoRoot, "packages/spoke/test/fixtures/rbac.yaml");

export interface Cluster {
  plane: ControlPlane;
  /** The agent's service account kubeconfig: RBAC exactly as in rbac.yaml. */
  agentKubeconfig: string;
  /** The admin's view through the spoke's adapter. */
  kube: KubePort;
}

export async function cluster(t: TestLike & { parent?: unknown }): Promise<Cluster> {
  const plane = await sharedControlPlane(t);
  await plane.installCrds();
  await plane.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
  await plane.apply(rbacFile);
  const account = await plane.serviceAccount(namespace, "tether-spoke");
  const kube = clientNodeKube(plane.clientConfig(), createLogger("silent"));
  return { plane, agentKubeconfig: account.kubeconfigPath, kube };
}

export interface Hub {
  publicUrl: string;
  internalUrl: string;
  caPem: string;
  caFile: string;
  process(): ManagedProcess;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** The internal API with the admin token. */
  admin(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<unknown>;
  tokenUrl(options?: { ttl?: string; tenant?: string }): Promise<string>;
}

/** `build`: the TypeScript sources (default) or the bundle the image ships (e2e/harness/programs.ts). */
export async function startHub(t: TestLike, build: ProgramBuild = "sources"): Promise<Hub> {
  const hubCli = await programPath("hub", build);
  const dataDir = await mkdtemp(join(tmpdir(), "tether-spoke-e2e-hub-"));
  const [external, internal] = await freePorts(2);
  const publicUrl = `https://127.0.0.1:${external}`;
  const internalUrl = `http://127.0.0.1:${internal}`;
  let proc: ManagedProcess | undefined;
  const start = async () => {
    proc = startProcess({
      name: "hub",
      cmd: process.execPath,
      args: [
        hubCli,
        "serve",
        ...["--listen", `127.0.0.1:${external}`, "--internal-listen", `127.0.0.1:${internal}`],
        ...["--public-url", publicUrl, "--data-dir", dataDir, "--store", "sqlite", "--log-level", "warn"],
      ],
      cwd: repoRoot,
      env: Object.fromEntries(
        Object.keys(process.env)
          .filter((k) => k.startsWith("TETHER_"))
          .map((k) => [k, undefined]),
      ),
    });
    await eventually(
      "the hub's /readyz",
      async () => ((await fetch(`${internalUrl}/readyz`).catch(() => undefined))?.ok ? true : undefined),
      30_000,
      proc,
    );
  };
  await start();
  const caFile = join(dataDir, "ca.crt");
  const caPem = await readFile(caFile, "utf8");
  const adminToken = (await readFile(join(dataDir, "admin-token"), "utf8")).trim();
  const hub: Hub = {
    publicUrl,
    internalUrl,
    caPem,
    caFile,
    process: () => proc!,
    stop: async () => void (await proc?.stop()),
    start,
    async admin(method, path, body, headers = {}) {
      const response = await fetch(`${internalUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${adminToken}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
      return text === "" ? undefined : (JSON.parse(text) as unknown);
    },
    async tokenUrl(options = {}) {
      const created = (await hub.admin(
        "POST",
        "/v1/runtimes/tokens",
        options.ttl ? { ttl: options.ttl } : {},
        {
          tenant: options.tenant ?? "e2e",
          group: "spoke",
        },
      )) as { url: string };
      return created.url;
    },
  };
  t.teardown(async () => {
    await proc?.stop();
    if (!(t as { passing(): boolean }).passing()) console.error(`--- hub ---\n${proc?.logs().slice(-6000)}`);
    await rm(dataDir, { recursive: true, force: true });
  });
  return hub;
}

export interface Spoke {
  process: ManagedProcess;
  identity: string;
  metricsUrl: string;
  /** Resident set size of the agent process, from /proc. */
  rssKiB(): Promise<number>;
}

export async function startSpoke(
  t: TestLike,
  options: {
    kubeconfig: string;
    hub: Pick<Hub, "caFile">;
    identity: string;
    args?: string[];
    /**
     * Without tap's process-tracking loader, which its spawn hook puts into every child's NODE_OPTIONS
     * (and which costs ~150 MiB of heap): resident memory as in production, no coverage.
     */
    uninstrumented?: boolean;
    /** The TypeScript sources (default) or the bundle the image ships. */
    build?: ProgramBuild;
    /** Node's own options, before the program (e.g. the ones Dockerfile.spoke sets). */
    nodeArgs?: string[];
    /** The agent's namespace (default tether-system). */
    namespace?: string;
  },
): Promise<Spoke> {
  const spokeCli = await programPath("spoke", options.build);
  const [health, metrics] = await freePorts(2);
  const proc = startProcess({
    name: options.identity,
    // env(1) execs node in place, so the pid stays the agent's.
    cmd: options.uninstrumented ? "env" : process.execPath,
    args: [
      ...(options.uninstrumented ? ["-u", "NODE_OPTIONS", "-u", "NODE_V8_COVERAGE", process.execPath] : []),
      ...(options.nodeArgs ?? []),
      spokeCli,
      "run",
      ...["--kubeconfig", options.kubeconfig, "--namespace", options.namespace ?? namespace],
      ...["--hub-ca-file", options.hub.caFile],
      ...["--health-addr", `127.0.0.1:${health}`, "--metrics-addr", `127.0.0.1:${metrics}`],
      ...(options.args ?? []),
    ],
    cwd: repoRoot,
    env: {
      POD_NAME: options.identity,
      ...Object.fromEntries(
        Object.keys(process.env)
          .filter((k) => k.startsWith("TETHER_"))
          .map((k) => [k, undefined]),
      ),
    },
    t,
  });
  await eventually(
    "the spoke's /readyz",
    async () =>
      (await fetch(`http://127.0.0.1:${health}/readyz`).catch(() => undefined))?.ok ? true : undefined,
    30_000,
    proc,
  );
  return {
    process: proc,
    identity: options.identity,
    metricsUrl: `http://127.0.0.1:${metrics}/metrics`,
    async rssKiB() {
      const status = await readFile(`/proc/${proc.pid}/status`, "utf8");
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
    },
  };
}

/** A CertificateRequest as an operator writes it (caBundle: the hub's private serving CA). */
export function certificateRequest(name: string, csrInfoUrl: string, caPem?: string) {
  return {
    apiVersion: "tether.dev/v1alpha1",
    kind: "CertificateRequest",
    metadata: { name },
    spec: { csrInfoUrl, ...(caPem === undefined ? {} : { caBundle: Buffer.from(caPem).toString("base64") }) },
  };
}

/** Polls until `probe` answers something, and says what it waited for when it gives up. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  proc?: ManagedProcess,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (proc && !proc.running())
      throw new Error(`${proc.name} exited while waiting for ${what}:\n${proc.logs().slice(-4000)}`);
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export function readyCondition(connection: CentralConnection | undefined) {
  return connection?.status?.conditions?.find((c) => c.type === "Ready");
}

export function decode(value: string | undefined): string {
  return Buffer.from(value ?? "", "base64").toString("utf8");
}
