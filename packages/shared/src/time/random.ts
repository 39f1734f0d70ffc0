import { randomInt } from "node:crypto";

/** A source of randomness in [0, 1); injected so that jitter is testable. */
export type Random = () => number;

/** randomInt needs max - min < 2^48, so draw 47 bits. */
export const cryptoRandom: Random = () => randomInt(0, 2 ** 47) / 2 ** 47;

/** A repeatable sequence for tests. */
export function sequenceRandom(values: readonly number[]): Random {
  let i = 0;
  return () => values[i++ % values.length] ?? 0;
}
