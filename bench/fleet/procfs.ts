/**
 * What a process tree costs, read from /proc: CPU seconds (utime + stime of the process and its
 * descendants, so a hub that forks workers is counted whole), resident memory and open descriptors.
 */
import { readdirSync, readFileSync } from "node:fs";

/** USER_HZ: 100 on every Linux this runs on (getconf CLK_TCK). */
const TICKS_PER_SECOND = 100;

export interface ProcessSample {
  cpuSeconds: number;
  rssBytes: number;
  fds: number;
  /** How many processes the figures add up: a hub with --workers N is N + 1 (its primary). */
  processes: number;
}

/** Fields of /proc/<pid>/stat after the command name, which may itself hold spaces or parentheses. */
function statFields(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** CPU seconds this process has used (utime + stime), from /proc/self/stat. */
export function ownCpuSeconds(): number {
  const fields = statFields(process.pid)!;
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** `pid` and every process below it. */
export function processTree(pid: number): number[] {
  const parents = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields === undefined) continue;
    const ppid = Number(fields[1]);
    parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(parents.get(tree[i]!) ?? []));
  return tree;
}

export function sampleTree(pids: number[]): ProcessSample {
  const sample: ProcessSample = { cpuSeconds: 0, rssBytes: 0, fds: 0, processes: 0 };
  for (const pid of pids.flatMap(processTree)) {
    const fields = statFields(pid);
    if (fields === undefined) continue;
    sample.processes++;
    sample.cpuSeconds += (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
    try {
      const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
      sample.rssBytes += Number(rss?.[1] ?? 0) * 1024;
      sample.fds += readdirSync(`/proc/${pid}/fd`).length;
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return sample;
}
