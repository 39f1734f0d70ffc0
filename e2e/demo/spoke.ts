/**
 * The spoke as an operator would run it outside a cluster: `tether-spoke run` against the local
 * control plane's kubeconfig, with its health and metrics endpoints on free loopback ports (the
 * defaults could collide with the hub or anything else on the machine).
 */
import { freePorts, programPath, repoRoot, startProcess } from "../harness/index.ts";
import type { ManagedProcess } from "../harness/index.ts";

export const spokeNamespace = "tether-system";
/** The spoke the image ships: dist/tether-spoke.mjs, built on first use (scripts/bundle.ts). */
export const spokeCli = await programPath("spoke");

export interface DemoSpoke {
  process: ManagedProcess;
  healthUrl: string;
}

export async function startSpoke(
  opts: { kubeconfig: string; hubCaFile: string },
  timeoutMs = 30_000,
): Promise<DemoSpoke> {
  const [health, metrics] = await freePorts(2);
  const proc = startProcess({
    name: "spoke",
    cmd: process.execPath,
    args: [
      // The Node options and malloc settings of Dockerfile.spoke (docs/footprint.md).
      ...["--max-semi-space-size=1", "--jitless"],
      spokeCli,
      "run",
      ...["--kubeconfig", opts.kubeconfig, "--namespace", spokeNamespace],
      // The CertificateRequest carries caBundle too; the flag also covers a CR applied without it.
      ...["--hub-ca-file", opts.hubCaFile],
      ...["--health-addr", `127.0.0.1:${health}`, "--metrics-addr", `127.0.0.1:${metrics}`],
    ],
    cwd: repoRoot,
    // A TETHER_SPOKE_* variable in the user's shell must not point the demo's spoke elsewhere.
    env: {
      ...Object.fromEntries(
        Object.keys(process.env)
          .filter((k) => k.startsWith("TETHER_SPOKE_"))
          .map((k) => [k, undefined]),
      ),
      MALLOC_ARENA_MAX: "1",
      MALLOC_TRIM_THRESHOLD_: "131072",
    },
  });
  const healthUrl = `http://127.0.0.1:${health}`;
  await waitForLivez(proc, healthUrl, timeoutMs);
  return { process: proc, healthUrl };
}

async function waitForLivez(proc: ManagedProcess, healthUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (!proc.running()) throw new Error(`the spoke exited at start:\n${proc.logs()}`);
    try {
      const response = await fetch(`${healthUrl}/livez`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `the spoke's ${healthUrl}/livez was not ok within ${timeoutMs / 1000}s (${last}); its output:\n${proc.logs()}`,
  );
}
