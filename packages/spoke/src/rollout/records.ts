/**
 * The last rollouts in a CentralConnection's status (status.rollouts, newest first): what the agent
 * rolled, recorded or failed to roll for the workloads that use the connection's credential. Pure.
 */
import type { RolloutRecord } from "../kube/types.ts";

/** How many entries status.rollouts keeps. */
export const maxRecords = 10;

/**
 * Adds records (oldest first) to the list. A record that says what the newest entry for the same
 * workload (or namespace) already says is not added again: a lasting failure is one entry, which
 * keeps its first time. Answers undefined when nothing changed.
 */
export function withRecords(
  previous: readonly RolloutRecord[] | undefined,
  records: readonly RolloutRecord[],
): RolloutRecord[] | undefined {
  let list = [...(previous ?? [])];
  let changed = false;
  for (const record of records) {
    const latest = list.find((entry) => sameSubject(entry, record));
    if (latest !== undefined && sameFinding(latest, record)) continue;
    list = [record, ...list].slice(0, maxRecords);
    changed = true;
  }
  return changed ? list : undefined;
}

function sameSubject(a: RolloutRecord, b: RolloutRecord): boolean {
  return a.kind === b.kind && a.namespace === b.namespace && a.name === b.name;
}

function sameFinding(a: RolloutRecord, b: RolloutRecord): boolean {
  return a.result === b.result && a.reason === b.reason && a.message === b.message && a.hash === b.hash;
}
