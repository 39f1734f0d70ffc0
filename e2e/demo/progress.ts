/**
 * The demo's console output: one numbered line per step with its timing, so that a user on a fresh
 * machine (where step 1 may compile kube-apiserver for minutes) sees where the time goes, and a
 * failure names the step it happened in.
 */

export class StepFailure extends Error {
  override name = "StepFailure";
  readonly step: string;
  constructor(step: string, cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.step = step;
  }
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

export function say(line: string): void {
  console.log(`[demo] ${line}`);
}

/** Prints indented detail lines under the current step. */
export function detail(text: string): void {
  for (const line of text.trimEnd().split("\n")) console.log(`[demo]     ${line}`);
}

export class Progress {
  readonly #total: number;
  readonly #started = performance.now();
  #current = 0;

  constructor(total: number) {
    this.#total = total;
  }

  /** Runs one step: prints `n/total title...`, then its duration; wraps an error with the step. */
  async step<T>(title: string, run: () => T | Promise<T>): Promise<T> {
    this.#current++;
    const label = `${this.#current}/${this.#total} ${title}`;
    say(`${label}...`);
    const began = performance.now();
    try {
      const result = await run();
      say(`${this.#current}/${this.#total} done in ${seconds(performance.now() - began)}`);
      return result;
    } catch (error) {
      throw new StepFailure(label, error);
    }
  }

  elapsed(): string {
    return seconds(performance.now() - this.#started);
  }
}
