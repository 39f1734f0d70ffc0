/**
 * A real Kubernetes control plane (etcd + kube-apiserver) on free loopback ports in a fresh temp dir,
 * started from nothing and stopped without a trace. With `controllerManager: true` it also runs
 * kube-controller-manager with the workload controllers (Deployment, ReplicaSet, StatefulSet,
 * DaemonSet, and the default ServiceAccount's), so a changed pod template shows as a new ReplicaSet
 * or ControllerRevision; pods never run (no scheduler, no kubelet).
 *
 * Nothing garbage-collects and namespaces never finish terminating: tests should use fresh names
 * rather than delete and recreate.
 */
import { existsSync, accessSync, constants } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureKubeBinaries } from "./binaries.ts";
import type { KubeBinaries } from "./binaries.ts";
import { onAbnormalExit, removePath, startWatchdog } from "./cleanup.ts";
import { tokenKubeconfig } from "./kubeconfig.ts";
import { runKubectl } from "./kubectl.ts";
import type { KubectlOptions, KubectlResult } from "./kubectl.ts";
import { clusterOperations } from "./operations.ts";
import type { ClusterOperations } from "./operations.ts";
import { writeControlPlanePki } from "./pki.ts";
import { freePorts } from "./ports.ts";
import { startProcess } from "./process.ts";
import type { ManagedProcess } from "./process.ts";
import { waitForReady } from "./readiness.ts";

export interface ControlPlaneOptions {
  /** Where the temp dir goes; default /dev/shm when writable (etcd fsyncs are free on tmpfs), else the OS temp dir. */
  baseDir?: string;
  readyTimeoutMs?: number;
  /** Also run kube-controller-manager (built on first use, like kube-apiserver). */
  controllerManager?: boolean;
}

/** What a rollout needs: the workload controllers, and ServiceAccount "default" so their pods can be created. */
export const controllerManagerControllers = [
  "deployment",
  "replicaset",
  "statefulset",
  "daemonset",
  "serviceaccount",
];

export interface StartTimings {
  /** ensure-kube-binaries.sh (seconds on a first run, ~0 afterwards in the same process). */
  binariesMs: number;
  binariesCached: boolean;
  /** From spawning etcd and kube-apiserver to /readyz ok. */
  readyMs: number;
  /** From spawning kube-controller-manager to its workload controllers running (0 without it). */
  controllerManagerMs: number;
  totalMs: number;
}

export interface ControlPlane extends ClusterOperations {
  /** https://127.0.0.1:PORT */
  server: string;
  /** The temp dir holding etcd's data, the PKI and kubeconfigs; removed by stop(). */
  dir: string;
  caPem: string;
  caFile: string;
  admin: { user: string; token: string; kubeconfigPath: string; kubeconfig: string };
  /** The admin's kubeconfig file and text (same as `admin`), for tools and child processes. */
  kubeconfigPath: string;
  kubeconfig: string;
  pids: { etcd: number; kubeApiserver: number; kubeControllerManager?: number };
  timings: StartTimings;
  /** kubectl as the admin (or `opts.as` / `opts.kubeconfig`); rejects on a non-zero exit unless allowFailure. */
  kubectl(args: string[], opts?: KubectlOptions): Promise<KubectlResult>;
  /** etcd's and kube-apiserver's output so far. */
  logs(): string;
  processes: ManagedProcess[];
  /** Stops both processes and removes the temp dir; safe to call twice. */
  stop(): Promise<void>;
}

function defaultBaseDir(): string {
  try {
    if (existsSync("/dev/shm")) {
      accessSync("/dev/shm", constants.W_OK);
      return "/dev/shm";
    }
  } catch {
    // Not writable: fall through to the OS temp dir.
  }
  return tmpdir();
}

/** Free ports are released before etcd and kube-apiserver bind them: a parallel test file may take one first. */
const portConflictAttempts = 3;

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const started = performance.now();
  const binaries = await ensureKubeBinaries(undefined, { controllerManager: opts.controllerManager });
  const binariesMs = performance.now() - started;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(opts, binaries, started, binariesMs);
    } catch (error) {
      const conflict = /address already in use/.test(String(error));
      if (!conflict || attempt >= portConflictAttempts) throw error;
    }
  }
}

async function startOnce(
  opts: ControlPlaneOptions,
  binaries: KubeBinaries,
  started: number,
  binariesMs: number,
): Promise<ControlPlane> {
  const dir = await mkdtemp(join(opts.baseDir ?? defaultBaseDir(), "tether-control-plane-"));
  const unregisterDir = onAbnormalExit(() => removePath(dir));
  const processes: ManagedProcess[] = [];
  let disposeWatchdog = (): void => {};
  const stopAll = async (): Promise<void> => {
    // The API server first, so that it does not log a storm of etcd connection errors.
    for (const proc of [...processes].reverse()) await proc.stop();
    disposeWatchdog();
    removePath(dir);
    unregisterDir();
  };

  try {
    const [pki, [etcdPort, peerPort, apiPort]] = await Promise.all([
      writeControlPlanePki(join(dir, "pki")),
      freePorts(3),
    ]);
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const server = `https://127.0.0.1:${apiPort}`;
    const spawnedAt = performance.now();

    processes.push(
      startProcess({
        name: "etcd",
        cmd: binaries.etcd,
        watchdog: false,
        args: [
          "--name=tether-e2e",
          `--data-dir=${join(dir, "etcd")}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=tether-e2e=${peerUrl}`,
          "--logger=zap",
          "--log-outputs=stderr",
        ],
      }),
    );
    // kube-apiserver retries etcd until it answers: no need to wait for etcd first.
    processes.push(
      startProcess({
        name: "kube-apiserver",
        cmd: binaries.kubeApiserver,
        watchdog: false,
        args: [
          `--etcd-servers=${etcdUrl}`,
          "--bind-address=127.0.0.1",
          "--advertise-address=127.0.0.1",
          `--secure-port=${apiPort}`,
          `--cert-dir=${join(dir, "pki")}`,
          `--tls-cert-file=${pki.servingCertFile}`,
          `--tls-private-key-file=${pki.servingKeyFile}`,
          `--token-auth-file=${pki.tokenAuthFile}`,
          "--authorization-mode=RBAC",
          "--service-account-issuer=https://kubernetes.default.svc",
          "--api-audiences=https://kubernetes.default.svc",
          `--service-account-key-file=${pki.serviceAccountPublicKeyFile}`,
          `--service-account-signing-key-file=${pki.serviceAccountPrivateKeyFile}`,
          "--service-cluster-ip-range=10.0.0.0/24",
          // No controllers and one tenant: flow control and endpoint reconciling only cost start-up time.
          "--enable-priority-and-fairness=false",
          "--endpoint-reconciler-type=none",
          "--profiling=false",
        ],
      }),
    );
    const [etcd, apiserver] = processes as [ManagedProcess, ManagedProcess];
    const watchdog = startWatchdog({ pgids: [etcd.pid, apiserver.pid], paths: [dir] });
    disposeWatchdog = () => watchdog.dispose();

    await waitForReady({
      server,
      caPem: pki.caPem,
      token: pki.adminToken,
      processes,
      timeoutMs: opts.readyTimeoutMs ?? 120_000,
    });
    const readyMs = performance.now() - spawnedAt;

    const kubeconfig = tokenKubeconfig({
      server,
      caPem: pki.caPem,
      user: pki.adminUser,
      token: pki.adminToken,
    });
    const kubeconfigPath = join(dir, "admin.kubeconfig");
    await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });
    const managerStarted = performance.now();
    const manager = opts.controllerManager
      ? await startControllerManager(binaries, kubeconfigPath, processes, opts.readyTimeoutMs ?? 120_000)
      : undefined;
    const controllerManagerMs = manager ? performance.now() - managerStarted : 0;
    const kubectl = (args: string[], kubectlOpts?: KubectlOptions): Promise<KubectlResult> =>
      runKubectl(kubeconfigPath, args, kubectlOpts);

    return {
      server,
      dir,
      caPem: pki.caPem,
      caFile: pki.caFile,
      admin: { user: pki.adminUser, token: pki.adminToken, kubeconfigPath, kubeconfig },
      kubeconfigPath,
      kubeconfig,
      pids: { etcd: etcd.pid, kubeApiserver: apiserver.pid, kubeControllerManager: manager?.pid },
      timings: {
        binariesMs,
        binariesCached: binaries.cached,
        readyMs,
        controllerManagerMs,
        totalMs: performance.now() - started,
      },
      kubectl,
      ...clusterOperations({ dir, server, caPem: pki.caPem, adminKubeconfig: kubeconfig, kubectl }),
      logs: () => processes.map((p) => `----- ${p.name} -----\n${p.logs()}`).join("\n"),
      processes,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/**
 * kube-controller-manager against the harness's API server as the admin: no leader election (it is
 * the only one), no HTTPS endpoint of its own (nothing to collide with), and only the controllers a
 * rollout needs. Resolves once the workload controllers' caches are synced.
 */
async function startControllerManager(
  binaries: KubeBinaries,
  kubeconfigPath: string,
  processes: ManagedProcess[],
  timeoutMs: number,
): Promise<ManagedProcess> {
  if (binaries.kubeControllerManager === undefined)
    throw new Error("ensure-kube-binaries.sh did not provide kube-controller-manager");
  const manager = startProcess({
    name: "kube-controller-manager",
    cmd: binaries.kubeControllerManager,
    args: [
      `--kubeconfig=${kubeconfigPath}`,
      `--authentication-kubeconfig=${kubeconfigPath}`,
      `--authorization-kubeconfig=${kubeconfigPath}`,
      `--controllers=${controllerManagerControllers.join(",")}`,
      "--leader-elect=false",
      "--secure-port=0",
      "--use-service-account-credentials=false",
      "--concurrent-deployment-syncs=2",
      "--profiling=false",
    ],
  });
  processes.push(manager);
  for (const controller of ["deployment", "ReplicaSet", "stateful set", "daemon sets"])
    await manager.waitForLog(new RegExp(`"Caches are synced" controller="${controller}"`), timeoutMs);
  return manager;
}
