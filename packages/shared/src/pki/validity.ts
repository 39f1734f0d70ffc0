import { randomFillSync } from "node:crypto";

/** Certificates start this long before "now" so that a peer whose clock lags still accepts them (docs/pki.md#the-issued-certificate). */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** X.509 times have whole seconds; rounding down here makes the reported dates equal the encoded ones. */
function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

/** notBefore = now - 5m, notAfter = now + validity, never past `limit` (the issuing CA's own notAfter). */
export function validityWindow(
  now: Date,
  validityMs: number,
  limit?: Date,
): { notBefore: Date; notAfter: Date } {
  const notAfter = Math.min(now.getTime() + validityMs, limit?.getTime() ?? Infinity);
  return { notBefore: wholeSeconds(now.getTime() - CLOCK_SKEW_MS), notAfter: wholeSeconds(notAfter) };
}

/**
 * 16 random bytes with the top bit cleared (a positive INTEGER) and the next one set, so that it is
 * never zero and always encodes in exactly 16 bytes: 126 random bits, upper-case hex.
 */
export function randomSerial(): string {
  // One call to the CSPRNG per 256 serials: a call costs about as much as building the serial.
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = pool.subarray(poolOffset, (poolOffset += 16));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString("hex").toUpperCase();
}

const pool = Buffer.alloc(16 * 256);
let poolOffset = pool.length;
