/**
 * Nothing the harness starts may outlive the test process: not on success, not when a test fails,
 * not on Ctrl-C, not when tap kills the file on timeout. Three layers, because each covers a case
 * the others cannot:
 *   - every child runs in its own process group, killed as a group (etcd and kube-apiserver do not
 *     fork, but the hub and spoke may be wrapped in shells);
 *   - synchronous cleanups run on process exit and on SIGINT/SIGTERM/SIGHUP (the exit event allows
 *     only synchronous work, so they SIGKILL and rmSync);
 *   - a detached watchdog shell per resource polls the parent's pid and cleans up after a SIGKILL of
 *     the parent, which runs no handler at all.
 */
import { spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { constants } from "node:os";

type Cleanup = () => void;

const cleanups = new Set<Cleanup>();
const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
let installed = false;

function runAll(): void {
  // Latest first: processes are registered after the directories they write into.
  for (const cleanup of [...cleanups].reverse()) {
    cleanups.delete(cleanup);
    try {
      cleanup();
    } catch {
      // Best effort: one failed cleanup must not keep the others from running.
    }
  }
}

/** Others (tap's signal-exit, a demo's graceful shutdown) get this long before the process ends anyway. */
const otherHandlersGraceMs = 1000;

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  for (const s of signals) process.removeListener(s, onSignal);
  // Re-raise so the process ends the way the signal intended. Other listeners would swallow it, and
  // signal-exit (loaded by tap) itself defers to any other listener: end the process after a grace.
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
  else setTimeout(() => process.exit(128 + constants.signals[signal]), otherHandlersGraceMs).unref();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on("exit", runAll);
  for (const s of signals) process.on(s, onSignal);
}

/** Registers a synchronous cleanup for abnormal ends; call the returned function once done normally. */
export function onAbnormalExit(cleanup: Cleanup): () => void {
  install();
  cleanups.add(cleanup);
  return () => {
    cleanups.delete(cleanup);
  };
}

/** Sends a signal to a whole process group; false if the group no longer exists. */
export function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

export function removePath(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

const watchdogScript = `
parent=$1; shift
paths=""
groups=""
for arg in "$@"; do
  case "$arg" in
    pgid:*) groups="$groups \${arg#pgid:}" ;;
    path:*) paths="$paths \${arg#path:}" ;;
  esac
done
while kill -0 "$parent" 2>/dev/null; do sleep 1; done
for g in $groups; do kill -TERM "-$g" 2>/dev/null; done
sleep 2
for g in $groups; do kill -KILL "-$g" 2>/dev/null; done
for p in $paths; do rm -rf -- "$p"; done
`;

export interface Watchdog {
  /** Ends the watchdog (the resources were cleaned up normally). */
  dispose(): void;
}

/**
 * Starts a detached shell that, once this process is gone, kills the given process groups and
 * removes the given paths. Paths must not contain whitespace (the harness makes its own).
 */
export function startWatchdog(resources: { pgids: number[]; paths?: string[] }): Watchdog {
  const args = [
    String(process.pid),
    ...resources.pgids.map((g) => `pgid:${g}`),
    ...(resources.paths ?? []).map((p) => `path:${p}`),
  ];
  const child = spawn("sh", ["-c", watchdogScript, "tether-watchdog", ...args], {
    detached: true,
    stdio: "ignore",
  });
  child.unref();
  const pid = child.pid;
  const stop = (): void => {
    if (pid !== undefined) killGroup(pid, "SIGKILL");
  };
  const unregister = onAbnormalExit(stop);
  return {
    dispose() {
      unregister();
      stop();
    },
  };
}
