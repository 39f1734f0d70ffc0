/**
 * The spoke agent of the bootstrap flow as a Deployment runs it, under the test supervisor: its
 * service account's kubeconfig, the bootstrap kubeconfig as a file (what kubelet mounts from the
 * `bootstrap-hub-kubeconfig` Secret), a cluster name and a hub kubeconfig Secret of its own, and fast
 * health checks and syncs so that expiry and changes are seen within a second or two.
 */
import { freePorts, programPath, repoRoot } from "@tether/e2e/harness";
import type { TestLike } from "@tether/e2e/harness";
import { namespace } from "../spoke-helpers.ts";
import { type Supervised, supervise } from "./supervisor.ts";

/** The agent the image ships (the bundle). */
const spokeCli = await programPath("spoke");

export interface AgentOptions {
  kubeconfig: string;
  clusterName: string;
  bootstrapFile: string;
  /** Where the bootstrap kubeconfig "is mounted from": its data appearing or changing restarts the agent. */
  bootstrapSecret: string;
  hubKubeconfigSecret: string;
  /** A Lease of its own; without it the agent runs with --no-leader-elect. */
  leaseName?: string;
}

export interface Agent extends Supervised {
  healthUrl: string;
  /** GET /livez or /readyz. */
  probe(path: "/livez" | "/readyz"): Promise<{ status: number; body: string }>;
}

export async function startAgent(t: TestLike, options: AgentOptions): Promise<Agent> {
  const [health] = await freePorts(1);
  const healthUrl = `http://127.0.0.1:${health}`;
  const election =
    options.leaseName === undefined
      ? ["--no-leader-elect"]
      : ["--leader-elect", "--leader-elect-lease-name", options.leaseName];
  const supervised = supervise(t, {
    name: `agent-${options.clusterName}`,
    // env(1) execs node in place without tap's process-tracking loader, which every child would
    // otherwise load (slow to start on two cores, and the agent restarts several times here).
    cmd: "env",
    args: [
      ...["-u", "NODE_OPTIONS", "-u", "NODE_V8_COVERAGE", process.execPath, spokeCli, "run"],
      ...["--kubeconfig", options.kubeconfig, "--namespace", namespace],
      ...["--bootstrap-kubeconfig", options.bootstrapFile, "--cluster-name", options.clusterName],
      ...["--bootstrap-kubeconfig-secret", options.bootstrapSecret],
      ...["--hub-kubeconfig-secret", options.hubKubeconfigSecret],
      ...["--cert-health-period", "1s", "--sync-period", "2s"],
      ...["--health-addr", `127.0.0.1:${health}`, "--metrics-addr", "0", ...election],
    ],
    cwd: repoRoot,
    env: {
      // A restarted container keeps its pod name: the same Lease holder identity.
      POD_NAME: `agent-${options.clusterName}`,
      ...Object.fromEntries(
        Object.keys(process.env)
          .filter((k) => k.startsWith("TETHER_"))
          .map((k) => [k, undefined]),
      ),
    },
  });
  return {
    ...supervised,
    healthUrl,
    async probe(path) {
      const response = await fetch(`${healthUrl}${path}`);
      return { status: response.status, body: await response.text() };
    },
  };
}
