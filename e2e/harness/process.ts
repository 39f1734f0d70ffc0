/**
 * Real child processes for end-to-end tests (the hub, the spoke, etcd, kube-apiserver), each in its
 * own process group so that stopping it stops everything it started, with its output captured so a
 * failing test can show what the process said.
 */
import { spawn } from "node:child_process";
import { killGroup, onAbnormalExit, startWatchdog } from "./cleanup.ts";
import type { Watchdog } from "./cleanup.ts";

/** The part of a tap test the harness uses (tap itself is not a dependency of the harness). */
export interface TestLike {
  teardown(fn: () => unknown): void;
  passing(): boolean;
}

export interface ProcessOptions {
  /** Prefixes the logs, names the process in errors. */
  name: string;
  cmd: string;
  args?: string[];
  /** Merged over this process's environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** When given: print the logs in a teardown if the test failed, and stop the process there. */
  t?: TestLike;
  /** false when the caller runs one watchdog for several processes (the control plane does). */
  watchdog?: boolean;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ManagedProcess {
  name: string;
  pid: number;
  /** Everything the process wrote to stdout and stderr so far, in arrival order. */
  logs(): string;
  /** Resolves with the first match in the logs (past or future); rejects on exit or timeout, with the logs. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  running(): boolean;
  exited: Promise<ExitStatus>;
  /** SIGTERM to the process group, SIGKILL after `timeoutMs`; resolves once it is gone. */
  stop(opts?: { signal?: NodeJS.Signals; timeoutMs?: number }): Promise<ExitStatus>;
}

/** Keeps memory bounded for chatty processes; the start of the output is what gets dropped. */
const maxLogChars = 4_000_000;

export function startProcess(opts: ProcessOptions): ManagedProcess {
  const child = spawn(opts.cmd, opts.args ?? [], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${opts.name}: could not start ${opts.cmd}`);

  let output = "";
  let status: ExitStatus | undefined;
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer): void => {
    output += chunk.toString("utf8");
    if (output.length > maxLogChars) output = output.slice(output.length - maxLogChars / 2);
    for (const listener of listeners) listener();
  };
  child.stdout.on("data", append);
  child.stderr.on("data", append);

  const unregister = onAbnormalExit(() => killGroup(pid, "SIGKILL"));
  const watchdog: Watchdog | undefined =
    opts.watchdog === false ? undefined : startWatchdog({ pgids: [pid] });
  const exited = new Promise<ExitStatus>((resolve) => {
    child.on("error", (error) => {
      append(Buffer.from(`\n[harness] ${opts.name}: ${error.message}\n`));
    });
    child.on("close", (code, signal) => {
      status = { code, signal };
      unregister();
      watchdog?.dispose();
      // The group may hold children of the process that outlived it.
      killGroup(pid, "SIGKILL");
      for (const listener of listeners) listener();
      resolve(status);
    });
  });

  const proc: ManagedProcess = {
    name: opts.name,
    pid,
    exited,
    logs: () => output,
    running: () => status === undefined,
    waitForLog(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(output);
          if (match) return finish(() => resolve(match));
          if (status) {
            const how = status.signal ? `signal ${status.signal}` : `code ${status.code}`;
            finish(() =>
              reject(new Error(`${opts.name} exited (${how}) before logging ${pattern}\n${tail(output)}`)),
            );
          }
        };
        const timer = setTimeout(() => {
          finish(() =>
            reject(new Error(`${opts.name} did not log ${pattern} within ${timeoutMs} ms\n${tail(output)}`)),
          );
        }, timeoutMs);
        const finish = (settle: () => void): void => {
          clearTimeout(timer);
          listeners.delete(check);
          settle();
        };
        listeners.add(check);
        check();
      });
    },
    async stop({ signal = "SIGTERM", timeoutMs = 5000 } = {}) {
      if (status) return status;
      killGroup(pid, signal);
      const timer = setTimeout(() => killGroup(pid, "SIGKILL"), timeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
  if (opts.t) showLogsOnFailure(opts.t, proc);
  return proc;
}

/** In a teardown: stop the process, and print its logs if the test failed. */
export function showLogsOnFailure(t: TestLike, proc: Pick<ManagedProcess, "name" | "logs" | "stop">): void {
  t.teardown(async () => {
    await proc.stop();
    if (!t.passing()) printLogs(proc.name, proc.logs());
  });
}

/** The name the issue uses for showLogsOnFailure. */
export const attachLogsOnFailure = showLogsOnFailure;

export function printLogs(name: string, logs: string): void {
  const body = logs
    .trimEnd()
    .split("\n")
    .map((line) => `[${name}] ${line}`)
    .join("\n");
  console.error(`----- logs of ${name} -----\n${body}\n----- end of ${name} -----`);
}

/** The last lines of some output, for error messages. */
export function tail(text: string, lines = 40): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Whether a process with this pid still exists (signal 0 checks without touching it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
