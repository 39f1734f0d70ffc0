/**
 * One cell of the table: a fleet of N spokes in one connection mode against running hubs, warmed up
 * for a sync period (every keep-alive connection opened), then measured for a window; then, if asked,
 * a renewal burst. Hub CPU, memory and descriptors come from /proc, the simulator's own CPU from
 * /proc/self/stat.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Agent } from "undici";
import type { CredentialJournal, SpokeCredential } from "./credentials.ts";
import { FleetSim, type ConnectionMode, type WindowStats } from "./fleet-sim.ts";
import type { FleetHubs } from "./hubs.ts";
import type { FleetOptions } from "./options.ts";
import { ownCpuSeconds, sampleTree } from "./procfs.ts";

export interface Row {
  store: string;
  spokes: number;
  mode: ConnectionMode;
  seconds: number;
  stats: WindowStats;
  hubCpuSeconds: number;
  hubRssBytes: number;
  hubFds: number;
  simCpuSeconds: number;
  burst?: { count: number; seconds: number; stats: WindowStats };
}

export function startSim(
  hubs: FleetHubs,
  credentials: SpokeCredential[],
  journal: CredentialJournal,
  options: FleetOptions,
  mode: ConnectionMode,
): { sim: FleetSim; close: () => Promise<void> } {
  const issuerAgent = new Agent({ connect: { ca: hubs.caPem } });
  const sim = new FleetSim(credentials, {
    mode,
    syncPeriodMs: options.syncPeriodMs,
    renewalPeriodMs: options.renewalPeriodMs,
    revocationsPerMinute: options.revocationsPerMinute,
    targets: hubs.replicas.map(({ host, port }) => ({ host, port })),
    sourceAddresses: options.sourceAddresses,
    caPem: hubs.caPem,
    timeoutMs: options.timeoutMs,
    issuer: { internalUrl: hubs.replicas[0]!.internalUrl, adminToken: hubs.adminToken, caPem: hubs.caPem },
    issuerAgent,
    journal,
  });
  sim.start();
  return {
    sim,
    close: async () => {
      await sim.stop();
      await issuerAgent.close();
    },
  };
}

export async function measureCell(
  hubs: FleetHubs,
  credentials: SpokeCredential[],
  journal: CredentialJournal,
  options: FleetOptions,
  mode: ConnectionMode,
  log: (line: string) => void,
): Promise<Row> {
  const pids = hubs.replicas.map((hub) => hub.pid);
  const { sim, close } = startSim(hubs, credentials, journal, options, mode);
  try {
    log(`  ${hubs.store} N=${credentials.length} ${mode}: warm-up ${options.warmupMs / 1000} s`);
    await sleep(options.warmupMs);
    sim.nextWindow();
    const hubBefore = sampleTree(pids);
    const simBefore = ownCpuSeconds();
    const started = performance.now();
    log(`  ${hubs.store} N=${credentials.length} ${mode}: measuring ${options.windowMs / 1000} s`);
    await sleep(options.windowMs);
    const stats = sim.nextWindow();
    const seconds = (performance.now() - started) / 1000;
    const hubAfter = sampleTree(pids);
    const row: Row = {
      store: hubs.replicas.length > 1 ? `${hubs.store} ×${hubs.replicas.length}` : hubs.store,
      spokes: credentials.length,
      mode,
      seconds,
      stats,
      hubCpuSeconds: hubAfter.cpuSeconds - hubBefore.cpuSeconds,
      hubRssBytes: hubAfter.rssBytes,
      hubFds: hubAfter.fds,
      simCpuSeconds: ownCpuSeconds() - simBefore,
    };
    if (options.burst > 0) {
      log(
        `  ${hubs.store} N=${credentials.length} ${mode}: renewal burst, ${options.burst * 100} % of the fleet`,
      );
      const { count, seconds: burstSeconds } = await sim.burst(options.burst);
      row.burst = { count, seconds: burstSeconds, stats: sim.nextWindow() };
    }
    return row;
  } finally {
    await close();
  }
}
