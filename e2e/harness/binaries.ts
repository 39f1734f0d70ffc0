/**
 * etcd and kube-apiserver for the control plane (and kube-controller-manager when a test asks for
 * real workload controllers), provided by e2e/scripts/ensure-kube-binaries.sh
 * (Debian package + Go build, cached by version). The script's progress is streamed to stderr while
 * it runs, because a first build takes minutes; when it fails, the error carries its stderr, which
 * names the failed step. The end-to-end tests never skip on a missing binary: CI must run them.
 */
import { spawn } from "node:child_process";
import { ensureKubeBinariesScript } from "./paths.ts";
import { tail } from "./process.ts";

export interface KubeBinaries {
  etcd: string;
  kubeApiserver: string;
  /** Only when asked for (TETHER_WITH_CONTROLLER_MANAGER=1): same Kubernetes version, same cache. */
  kubeControllerManager?: string;
  /** false when this call installed or built something. */
  cached: boolean;
  elapsedMs: number;
}

const pending = new Map<boolean, Promise<KubeBinaries>>();

/**
 * Runs the script once per process; later calls share the answer. `env` (e.g. TETHER_KUBE_VERSION,
 * TETHER_CACHE_DIR, GOPROXY_BASE) runs it afresh with those variables set. `controllerManager`
 * also builds (first time) and answers kube-controller-manager.
 */
export function ensureKubeBinaries(
  env?: Record<string, string>,
  options: { controllerManager?: boolean } = {},
): Promise<KubeBinaries> {
  const controllerManager = options.controllerManager === true;
  const withManager: Record<string, string> = controllerManager
    ? { TETHER_WITH_CONTROLLER_MANAGER: "1" }
    : {};
  if (env) return runScript({ ...env, ...withManager });
  let answer = pending.get(controllerManager);
  if (answer === undefined) {
    answer = runScript(withManager).catch((error: unknown) => {
      pending.delete(controllerManager);
      throw error;
    });
    pending.set(controllerManager, answer);
  }
  return answer;
}

function runScript(env: Record<string, string>): Promise<KubeBinaries> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [ensureKubeBinariesScript], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
      process.stderr.write(chunk);
    });
    child.on("error", (error) =>
      reject(new Error(`ensure-kube-binaries.sh could not run: ${error.message}`)),
    );
    child.on("close", (code) => {
      const values = new Map<string, string>();
      for (const line of stdout.split("\n")) {
        const match = /^([A-Z_]+)=(.+)$/.exec(line);
        if (match?.[1] && match[2]) values.set(match[1], match[2]);
      }
      const etcd = values.get("ETCD_BIN");
      const kubeApiserver = values.get("KUBE_APISERVER_BIN");
      const kubeControllerManager = values.get("KUBE_CONTROLLER_MANAGER_BIN");
      const managerMissing = env.TETHER_WITH_CONTROLLER_MANAGER === "1" && !kubeControllerManager;
      if (code !== 0 || !etcd || !kubeApiserver || managerMissing) {
        reject(
          new Error(
            `ensure-kube-binaries.sh failed (exit ${code}); the end-to-end tests need etcd and kube-apiserver.\n` +
              tail(stderr),
          ),
        );
        return;
      }
      resolve({
        etcd,
        kubeApiserver,
        kubeControllerManager,
        cached: !/\bstep (etcd|kube-apiserver|kube-controller-manager): (installing|building)\b/.test(stderr),
        elapsedMs: performance.now() - started,
      });
    });
  });
}
