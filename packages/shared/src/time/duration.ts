const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** The longest duration `parseDuration` accepts: about 100 years, far inside a Date's range. */
export const MAX_DURATION_MS = 36_500 * 86_400_000;

/**
 * Parses Go-style durations as operators type them in flags and JSON ("90s", "10m", "1h30m", "30d").
 * Throws a clear error on anything else, including an empty string, negative values and durations
 * longer than MAX_DURATION_MS (`99999999999999999999d` is not a lifetime).
 */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(trimmed)) {
    throw new Error(`invalid duration "${text}": use a number with a unit, e.g. 90s, 10m, 24h, 30d`);
  }
  let total = 0;
  for (const [, value, , unit] of trimmed.matchAll(/(\d+(\.\d+)?)(ms|s|m|h|d)/g)) {
    total += Number(value) * (UNITS[unit!] ?? 0);
  }
  if (!(total <= MAX_DURATION_MS))
    throw new Error(`invalid duration "${text}": at most ${formatDuration(MAX_DURATION_MS)}`);
  return Math.round(total);
}

/** The shortest exact form of a duration in whole units ("24h", "10m", "90s", "1500ms"). */
export function formatDuration(ms: number): string {
  for (const unit of ["d", "h", "m", "s"] as const) {
    const size = UNITS[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
