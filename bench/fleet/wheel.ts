/**
 * A hashed timer wheel: 100k spokes each waiting for their next sync cost one interval timer and an
 * array push per schedule, where 100k `setTimeout`s would each be a timer object in libuv's heap.
 */
export class TimerWheel<T> {
  readonly #tickMs: number;
  readonly #slots: { item: T; rounds: number }[][];
  #cursor = 0;
  #timer: NodeJS.Timeout | undefined;
  #last = 0;

  constructor(tickMs: number, slots: number) {
    this.#tickMs = tickMs;
    this.#slots = Array.from({ length: slots }, () => []);
  }

  /** Runs `fire` for every item due, `tickMs` at a time, from now until `stop`. */
  start(fire: (item: T) => void): void {
    this.#last = performance.now();
    this.#timer = setInterval(() => {
      // Catch up on ticks a busy event loop missed, so that load does not stretch the schedule.
      const now = performance.now();
      while (this.#last + this.#tickMs <= now) {
        this.#last += this.#tickMs;
        this.#turn(fire);
      }
    }, this.#tickMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  schedule(delayMs: number, item: T): void {
    const ticks = Math.max(1, Math.round(delayMs / this.#tickMs));
    const slot = (this.#cursor + ticks) % this.#slots.length;
    this.#slots[slot]!.push({ item, rounds: Math.floor((ticks - 1) / this.#slots.length) });
  }

  #turn(fire: (item: T) => void): void {
    this.#cursor = (this.#cursor + 1) % this.#slots.length;
    const due = this.#slots[this.#cursor]!;
    if (due.length === 0) return;
    const waiting: { item: T; rounds: number }[] = [];
    this.#slots[this.#cursor] = waiting;
    for (const entry of due) {
      if (entry.rounds > 0) waiting.push({ item: entry.item, rounds: entry.rounds - 1 });
      else fire(entry.item);
    }
  }
}
