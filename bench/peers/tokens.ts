/**
 * How many one-time tokens a measurement prepares (docs/benchmarks.md#the-load-driver). The driver
 * spends one per operation over the warm-up and the measured time, and cannot make more once the
 * clock runs: too few and the figure covers a shorter time (the measurement is repeated), too many
 * and the hub spends seconds minting tokens that are never used. So the count follows the rate the
 * row is expected to reach at that concurrency: the best it reached before in this bench, or else
 * what a short probe at that concurrency says.
 */
import type { DriverReport } from "./table.ts";

/** The probe's operations: enough that the connections' first handshakes are a small part of it. */
export const PROBE_OPERATIONS = 400;

/**
 * Headroom over the expected rate: on the shared 2-core machines a rate moves by half again from one
 * second to the next with the load of other work.
 */
const MARGIN = 2;

/**
 * The rate a probe says to expect. Its own rate counts the connections' first handshakes and the
 * ramp-up, so it comes out low; Little's law (in flight ÷ latency) with the median latency, which a
 * few slow first requests do not move, comes out at or above the steady rate (the mean latency of
 * a skewed distribution is above its median). The higher of the two.
 */
export function expectedFromProbe(
  probe: Pick<DriverReport, "perSecond" | "p50Ms">,
  concurrency: number,
): number {
  const little = probe.p50Ms > 0 ? (concurrency * 1000) / probe.p50Ms : 0;
  return Math.max(probe.perSecond, little);
}

/** Tokens for `windowSeconds` of warm-up and measurement at `expectedPerSecond`. */
export function tokensFor(expectedPerSecond: number, windowSeconds: number, concurrency: number): number {
  if (!(expectedPerSecond > 0))
    throw new Error(`no expected rate to size the tokens by (${expectedPerSecond})`);
  // The operations in flight when the time is up are started, so finished and counted, too.
  return Math.ceil(expectedPerSecond * windowSeconds * MARGIN) + 2 * concurrency;
}

/** After a measurement ran dry anyway: what it reached, with more headroom, or four times as many. */
export function tokensAfterRunningOut(
  reachedPerSecond: number,
  windowSeconds: number,
  concurrency: number,
  prepared: number,
): number {
  if (!(reachedPerSecond > 0)) return prepared * 4;
  return Math.max(prepared * 2, tokensFor(reachedPerSecond * 1.5, windowSeconds, concurrency));
}
