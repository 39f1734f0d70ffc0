/**
 * Every Kubernetes write of the spoke goes through here (docs/spoke.md#kubernetes-writes): read the current object, apply
 * the change to it, write with its resourceVersion, and on a 409 read again and re-apply, so that a
 * concurrent writer (an operator's `kubectl edit`, a second replica) is never overwritten blindly.
 */
import { ConflictError } from "./port.ts";

const maxAttempts = 5;

/**
 * `change` returns the object to write, or undefined when the current object needs no write.
 * Answers the written (or unchanged) object, or undefined when the object does not exist.
 */
export async function updateWithRetry<T>(
  read: () => Promise<T | undefined>,
  change: (current: T) => T | undefined,
  write: (next: T) => Promise<T>,
): Promise<T | undefined> {
  for (let attempt = 1; ; attempt++) {
    const current = await read();
    if (current === undefined) return undefined;
    const next = change(structuredClone(current));
    if (next === undefined) return current;
    try {
      return await write(next);
    } catch (error) {
      if (!(error instanceof ConflictError) || attempt >= maxAttempts) throw error;
    }
  }
}
