/**
 * The soak: a fleet held at a steady rate for a long time, the hub sampled every `sampleMs`: errors,
 * resident memory, descriptors. `soakVerdict` is the pure judgement the bench prints and the short
 * soak test (e2e/test/fleet-soak.test.ts) asserts.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { CredentialJournal, SpokeCredential } from "./credentials.ts";
import type { ConnectionMode } from "./fleet-sim.ts";
import type { FleetHubs } from "./hubs.ts";
import { startSim } from "./measure.ts";
import type { FleetOptions } from "./options.ts";
import { ownCpuSeconds, sampleTree } from "./procfs.ts";

export interface SoakSample {
  /** Seconds since the measurement started. */
  at: number;
  rssBytes: number;
  fds: number;
  requests: number;
  errors: number;
}

export interface SoakResult {
  samples: SoakSample[];
  requests: number;
  errors: number;
  errorKinds: Map<string, number>;
  p99: number;
  hubCpuSeconds: number;
  simCpuSeconds: number;
  seconds: number;
}

export interface SoakBounds {
  /** Growth of hub RSS over the second half, as a share of its value at the half. */
  rssGrowth: number;
  /** Descriptors the hub may hold at the end beyond the most it held in the first half. */
  fdSlack: number;
}

/** Why the soak failed, one reason a line; empty when it held. */
export function soakVerdict(result: SoakResult, bounds: SoakBounds): string[] {
  const reasons: string[] = [];
  if (result.errors > 0) reasons.push(`${result.errors} errors`);
  const { samples } = result;
  if (samples.length < 3) return [...reasons, `only ${samples.length} samples`];
  const half = samples[Math.floor((samples.length - 1) / 2)]!;
  const last = samples.at(-1)!;
  const growth = (last.rssBytes - half.rssBytes) / half.rssBytes;
  if (growth > bounds.rssGrowth) {
    reasons.push(
      `hub RSS grew ${(growth * 100).toFixed(1)} % over the second half (${mb(half.rssBytes)} → ${mb(last.rssBytes)} MB; bound ${bounds.rssGrowth * 100} %)`,
    );
  }
  const firstHalfMax = Math.max(...samples.filter((s) => s.at <= half.at).map((s) => s.fds));
  if (last.fds > firstHalfMax + bounds.fdSlack) {
    reasons.push(`hub descriptors grew: ${firstHalfMax} in the first half, ${last.fds} at the end`);
  }
  return reasons;
}

/** The samples the bench prints: the start, the middle (5 min of 10) and the end. */
export function soakCurve(result: SoakResult): [string, SoakSample][] {
  const { samples, seconds } = result;
  const nearest = (at: number) =>
    samples.reduce((best, s) => (Math.abs(s.at - at) < Math.abs(best.at - at) ? s : best));
  const minutes = (at: number) => `${(at / 60).toFixed(1)} min`;
  const middle = nearest(seconds / 2);
  const last = samples.at(-1)!;
  return [
    ["start", samples[0]!],
    [minutes(middle.at), middle],
    [minutes(last.at), last],
  ];
}

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(0);

export async function runSoak(
  hubs: FleetHubs,
  credentials: SpokeCredential[],
  journal: CredentialJournal,
  options: FleetOptions,
  mode: ConnectionMode,
  sampleMs: number,
  log: (line: string) => void,
): Promise<SoakResult> {
  const pids = hubs.replicas.map((hub) => hub.pid);
  const { sim, close } = startSim(hubs, credentials, journal, options, mode);
  try {
    log(`soak: ${credentials.length} spokes, ${mode}, warm-up ${options.warmupMs / 1000} s`);
    await sleep(options.warmupMs);
    sim.nextWindow();
    const hubBefore = sampleTree(pids);
    const simBefore = ownCpuSeconds();
    const started = performance.now();
    const samples: SoakSample[] = [];
    const take = () => {
      const { rssBytes, fds } = sampleTree(pids);
      const sample = {
        at: Math.round((performance.now() - started) / 1000),
        rssBytes,
        fds,
        requests: sim.stats.requests,
        errors: sim.stats.errors + sim.stats.renewalErrors,
      };
      samples.push(sample);
      log(
        `  ${String(sample.at).padStart(4)} s  RSS ${mb(rssBytes).padStart(5)} MB  fds ${String(fds).padStart(6)}  requests ${sample.requests}  errors ${sample.errors}`,
      );
    };
    take();
    while (performance.now() - started < options.soakMs) {
      await sleep(Math.min(sampleMs, options.soakMs - (performance.now() - started)));
      take();
    }
    const stats = sim.nextWindow();
    return {
      samples,
      requests: stats.requests,
      errors: stats.errors + stats.renewalErrors,
      errorKinds: stats.errorKinds,
      p99: stats.latencies.quantiles(0.99)[0]!,
      hubCpuSeconds: sampleTree(pids).cpuSeconds - hubBefore.cpuSeconds,
      simCpuSeconds: ownCpuSeconds() - simBefore,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await close();
  }
}
