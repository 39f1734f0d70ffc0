import { CLOCK_SKEW_MS } from "../pki/validity.ts";
import type { Random } from "../time/index.ts";

const DAY_MS = 86_400_000;

/**
 * When the validity the hub granted begins. The hub back-dates notBefore by CLOCK_SKEW_MS (docs/pki.md#the-issued-certificate)
 * for clients whose clocks run behind; those minutes were never part of the lifetime it granted.
 * Counting them made a certificate valid for less than ~15 minutes due for renewal the moment it was
 * issued, and the spoke renewed in a loop.
 */
export function grantedFrom(notBefore: Date, notAfter: Date): number {
  const start = notBefore.getTime();
  return notAfter.getTime() - start > CLOCK_SKEW_MS ? start + CLOCK_SKEW_MS : start;
}

/**
 * start + lifetime * fraction * (1 - jitter * random()), the lifetime counted from when the hub
 * granted it (`grantedFrom`): never later than the fraction, never earlier than fraction *
 * (1 - jitter). The jitter spreads a fleet enrolled at once over time so that its renewals do not
 * all reach the hub in the same second.
 */
export function renewalTime(opts: {
  notBefore: Date;
  notAfter: Date;
  fraction: number;
  jitter?: number;
  random: Random;
}): Date {
  const jitter = opts.jitter ?? 0.1;
  if (!(opts.fraction > 0 && opts.fraction <= 1)) throw new RangeError("renewal fraction must be in (0, 1]");
  if (!(jitter >= 0 && jitter < 1)) throw new RangeError("renewal jitter must be in [0, 1)");
  const r = Math.min(Math.max(opts.random(), 0), 1);
  const start = grantedFrom(opts.notBefore, opts.notAfter);
  const lifetime = Math.max(0, opts.notAfter.getTime() - start);
  return new Date(start + Math.floor(lifetime * opts.fraction * (1 - jitter * r)));
}

/** notBefore + intervalDays days: renew on a calendar-like period whatever the lifetime. */
export function intervalRenewalTime(opts: { notBefore: Date; intervalDays: number }): Date {
  if (!(opts.intervalDays > 0)) throw new RangeError("renewal interval must be a positive number of days");
  return new Date(opts.notBefore.getTime() + opts.intervalDays * DAY_MS);
}

/** The earlier of the fraction-based time and, when intervalDays is given, the interval-based one. */
export function nextRenewalTime(opts: {
  notBefore: Date;
  notAfter: Date;
  fraction: number;
  intervalDays?: number;
  jitter?: number;
  random: Random;
}): Date {
  const byFraction = renewalTime(opts);
  if (opts.intervalDays === undefined) return byFraction;
  const byInterval = intervalRenewalTime({ notBefore: opts.notBefore, intervalDays: opts.intervalDays });
  return byInterval < byFraction ? byInterval : byFraction;
}
