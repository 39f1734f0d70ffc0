/** Exponential backoff: base, 2×base, 4×base… never above cap. `attempt` counts from 1. */
export function backoffDelay(attempt: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
}

export const defaultBackoff = { baseMs: 5_000, capMs: 300_000 };
