/**
 * A small work queue in the manner of client-go's: a key is handled by one worker at a time, adding
 * a key that is already waiting does nothing, adding one that is being handled runs it once more
 * afterwards, and each key has at most one timer (the latest `addAfter` wins, because each handling
 * computes the whole next wake-up). Handler errors retry with capped exponential backoff.
 */
import type { Clock } from "@tether/shared/time";

export interface WorkQueueOptions {
  clock: Clock;
  handle: (key: string) => Promise<void>;
  onError: (key: string, error: unknown) => void;
  concurrency?: number;
  /** Retry delays after handler errors: base doubling up to cap. */
  retryBaseMs?: number;
  retryCapMs?: number;
}

export class WorkQueue {
  readonly #options: Required<WorkQueueOptions>;
  readonly #waiting = new Set<string>();
  readonly #running = new Map<string, Promise<void>>();
  readonly #again = new Set<string>();
  readonly #timers = new Map<string, AbortController>();
  readonly #failures = new Map<string, number>();
  #stopped = false;
  #idleWaiters: (() => void)[] = [];

  constructor(options: WorkQueueOptions) {
    this.#options = { concurrency: 4, retryBaseMs: 1000, retryCapMs: 300_000, ...options };
  }

  add(key: string): void {
    if (this.#stopped) return;
    if (this.#running.has(key)) this.#again.add(key);
    else this.#waiting.add(key);
    this.#pump();
  }

  /** Handles `key` after `ms` of the clock's time, replacing any timer the key had. */
  addAfter(key: string, ms: number): void {
    if (this.#stopped) return;
    this.#timers.get(key)?.abort();
    const controller = new AbortController();
    this.#timers.set(key, controller);
    this.#options.clock.sleep(Math.max(0, ms), controller.signal).then(
      () => {
        if (this.#timers.get(key) === controller) this.#timers.delete(key);
        this.add(key);
      },
      () => undefined,
    );
  }

  /** Drops the key's timer and retry count (its object is gone). */
  forget(key: string): void {
    this.#timers.get(key)?.abort();
    this.#timers.delete(key);
    this.#failures.delete(key);
    this.#waiting.delete(key);
  }

  /** Resolves once nothing is waiting or running (timers may still be pending). */
  idle(): Promise<void> {
    if (this.#waiting.size === 0 && this.#running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops taking work, cancels timers and waits for the handlers that are running. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers.values()) timer.abort();
    this.#timers.clear();
    this.#waiting.clear();
    this.#again.clear();
    await Promise.allSettled([...this.#running.values()]);
  }

  #pump(): void {
    for (const key of this.#waiting) {
      if (this.#running.size >= this.#options.concurrency) return;
      this.#waiting.delete(key);
      this.#running.set(key, this.#run(key));
    }
    if (this.#running.size === 0) this.#notifyIdle();
  }

  async #run(key: string): Promise<void> {
    try {
      await this.#options.handle(key);
      this.#failures.delete(key);
    } catch (error) {
      const failures = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, failures);
      this.#options.onError(key, error);
      const { retryBaseMs, retryCapMs } = this.#options;
      this.addAfter(key, Math.min(retryCapMs, retryBaseMs * 2 ** (failures - 1)));
    } finally {
      this.#running.delete(key);
      if (this.#again.delete(key)) this.#waiting.add(key);
      if (!this.#stopped) this.#pump();
      else if (this.#running.size === 0) this.#notifyIdle();
    }
  }

  #notifyIdle(): void {
    if (this.#waiting.size > 0 || this.#running.size > 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
