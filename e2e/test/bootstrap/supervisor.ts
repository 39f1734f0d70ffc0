/**
 * The test's stand-in for the kubelet: the bootstrap flow ends the agent with exit code 1 when its
 * certificate expired or the bootstrap kubeconfig changed, and counts on being started again with the
 * same arguments. This supervisor does that (at once, without the kubelet's crash-loop back-off), and
 * keeps every run's exit status and output so a test can say what each run did.
 */
import type { ExitStatus, ManagedProcess, ProcessOptions, TestLike } from "@tether/e2e/harness";
import { printLogs, startProcess } from "@tether/e2e/harness";
import { eventually } from "../spoke-helpers.ts";

/** One JSON log line (pino) of one run; `run` counts from 1. */
export interface LogEntry {
  run: number;
  msg: string;
  reason?: string;
  [field: string]: unknown;
}

export interface Supervised {
  /** Runs started so far, the first included. */
  runs(): number;
  restarts(): number;
  /** Exit status of every run that ended, in order. */
  exits(): ExitStatus[];
  /** Every run's output, each after a `[supervisor]` line that says why it started. */
  logs(): string;
  entries(): LogEntry[];
  /** Resolves with the first log entry (of any run) that matches. */
  waitForEntry(what: string, match: (entry: LogEntry) => boolean, timeoutMs?: number): Promise<LogEntry>;
  /** Stops restarting, then stops the running process (SIGTERM). */
  stop(): Promise<void>;
}

/**
 * More runs than any case expects is a crash loop, not a restart under test: the supervisor gives up
 * so that the test fails with the logs instead of spinning.
 */
const maxRuns = 8;

export function supervise(t: TestLike, options: Omit<ProcessOptions, "t">): Supervised {
  const runs: ManagedProcess[] = [];
  const headers: string[] = [];
  const exits: ExitStatus[] = [];
  let stopped = false;

  const start = (header: string): void => {
    headers.push(header);
    const proc = startProcess({ ...options, name: `${options.name}#${runs.length + 1}` });
    runs.push(proc);
    void proc.exited.then((status) => {
      exits.push(status);
      if (stopped || status.code === 0 || runs.length >= maxRuns) return;
      const how = status.signal === null ? `exit code ${status.code}` : `signal ${status.signal}`;
      start(`[supervisor] run ${runs.length + 1}: restarted after ${how}`);
    });
  };
  start("[supervisor] run 1");

  const logs = (): string => runs.map((proc, i) => `${headers[i]}\n${proc.logs()}`).join("\n");
  const entries = (): LogEntry[] => runs.flatMap((proc, i) => parseEntries(proc.logs(), i + 1));
  const supervised: Supervised = {
    runs: () => runs.length,
    restarts: () => runs.length - 1,
    exits: () => [...exits],
    logs,
    entries,
    waitForEntry: (what, match, timeoutMs = 30_000) =>
      eventually(`${what} (${options.name})`, () => Promise.resolve(entries().find(match)), timeoutMs),
    async stop() {
      stopped = true;
      await Promise.all(runs.map((proc) => proc.stop()));
    },
  };
  t.teardown(async () => {
    await supervised.stop();
    if (!t.passing()) printLogs(options.name, logs());
  });
  return supervised;
}

function parseEntries(output: string, run: number): LogEntry[] {
  const entries: LogEntry[] = [];
  for (const line of output.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      entries.push({ ...(JSON.parse(line) as LogEntry), run });
    } catch {
      // A line cut short by the process ending is not an entry.
    }
  }
  return entries;
}
