/**
 * The hub as the demo runs it: `tether-hub serve` as a child process on free loopback ports with an
 * embedded SQLite store in the demo's data dir, and `tether-hub token create -o yaml` as a user would
 * type it, against the internal API with the admin token the hub wrote into that data dir.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePorts, programPath, repoRoot, startProcess } from "../harness/index.ts";
import type { ManagedProcess } from "../harness/index.ts";

const run = promisify(execFile);
/** The hub the image ships: dist/tether-hub.mjs, built on first use (scripts/bundle.ts). */
export const hubCli = await programPath("hub");

export interface DemoHub {
  process: ManagedProcess;
  publicUrl: string;
  internalUrl: string;
  dataDir: string;
  /** The hub CA the hub generated in its data dir (it also issued the hub's serving certificate). */
  caFile: string;
}

export async function startHub(dataDir: string, timeoutMs = 30_000): Promise<DemoHub> {
  const [external, internal] = await freePorts(2);
  const publicUrl = `https://127.0.0.1:${external}`;
  const internalUrl = `http://127.0.0.1:${internal}`;
  const proc = startProcess({
    name: "hub",
    cmd: process.execPath,
    args: [
      hubCli,
      "serve",
      "--listen",
      `127.0.0.1:${external}`,
      "--internal-listen",
      `127.0.0.1:${internal}`,
      // The serving certificate the hub issues itself is for this host, so 127.0.0.1 verifies.
      "--public-url",
      publicUrl,
      "--data-dir",
      dataDir,
      "--store",
      "sqlite",
    ],
    cwd: repoRoot,
    // The demo's own environment must not reconfigure the hub (e.g. a TETHER_HUB_STORE postgres URL).
    env: Object.fromEntries(
      Object.keys(process.env)
        .filter(isHubEnv)
        .map((k) => [k, undefined]),
    ),
  });
  await waitForReadyz(proc, internalUrl, timeoutMs);
  // Without --ca-cert the hub generates its CA as ca.crt in the data dir.
  return { process: proc, publicUrl, internalUrl, dataDir, caFile: join(dataDir, "ca.crt") };
}

function isHubEnv(name: string): boolean {
  return name.startsWith("TETHER_HUB_");
}

async function waitForReadyz(proc: ManagedProcess, internalUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (!proc.running()) throw new Error(`the hub exited before it was ready:\n${proc.logs()}`);
    try {
      const response = await fetch(`${internalUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
      last = `HTTP ${response.status}: ${await response.text()}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the hub's ${internalUrl}/readyz was not ok within ${timeoutMs / 1000}s (${last})`);
}

/**
 * A ready-to-apply CertificateRequest named `name`. The YAML carries the one-time token URL (a
 * credential), so it is handed to kubectl and never printed.
 */
export async function certificateRequestYaml(hub: DemoHub, name: string): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    [
      hubCli,
      ...["token", "create", "--tenant", "demo", "--group", "local", "--name", name, "-o", "yaml"],
      ...["--internal-url", hub.internalUrl, "--data-dir", hub.dataDir],
    ],
    { cwd: repoRoot, timeout: 30_000 },
  );
  if (!/kind: CertificateRequest/.test(stdout)) throw new Error("token create printed no CertificateRequest");
  return stdout;
}
