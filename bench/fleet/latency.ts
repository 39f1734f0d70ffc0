/** Latencies of one measurement window, kept whole (a 10-minute soak at 1,700/s is ~8 MB). */
export class Latencies {
  #values = new Float64Array(1024);
  #count = 0;

  get count(): number {
    return this.#count;
  }

  add(ms: number): void {
    if (this.#count === this.#values.length) {
      const grown = new Float64Array(this.#values.length * 2);
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#count++] = ms;
  }

  /** The q-quantile (0-1) by the nearest-rank method; NaN when nothing was measured. */
  quantiles(...qs: number[]): number[] {
    const sorted = this.#values.slice(0, this.#count).sort();
    return qs.map((q) =>
      sorted.length === 0
        ? Number.NaN
        : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!,
    );
  }
}
