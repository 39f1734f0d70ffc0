/**
 * The command line of `pnpm bench peers` (docs/benchmarks.md#options). Pure: the tests call it with
 * argument lists; a bad option is an error that names it.
 */
import { parseArgs } from "node:util";

/** The groups of rows `--only` selects; the raw signature rates are measured in every run. */
export const groups = ["hub", "step-ca", "cfssl", "mtls"] as const;
export type Group = (typeof groups)[number];

export interface PeersOptions {
  runs: number;
  /** Measured seconds per figure. */
  seconds: number;
  /** Unmeasured load before each figure. */
  warmupSeconds: number;
  /** `openssl speed -seconds`. */
  speedSeconds: number;
  concurrencies: number[];
  only: Group[];
  /** Markdown, or JSON when the name ends in .json. */
  out?: string;
  hubLogLevel: string;
}

export function parsePeersOptions(args: string[]): PeersOptions {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      runs: { type: "string" },
      quick: { type: "boolean" },
      seconds: { type: "string" },
      concurrency: { type: "string" },
      only: { type: "string" },
      out: { type: "string" },
      "hub-log-level": { type: "string" },
    },
  });
  if (positionals.length > 0) throw new Error(`unexpected argument "${positionals[0]}"`);
  const quick = values.quick === true;
  const whole = (name: string, text: string | undefined, fallback: number, min: number) => {
    if (text === undefined) return fallback;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name}: "${text}" is not a whole number >= ${min}`);
    return n;
  };
  const seconds = whole("seconds", values.seconds, quick ? 2 : 5, 1);
  const concurrencies = (values.concurrency ?? "8,32").split(",").map((c) => whole("concurrency", c, 0, 1));
  const only = values.only === undefined ? [...groups] : values.only.split(",");
  const unknown = only.filter((g) => !(groups as readonly string[]).includes(g));
  if (unknown.length > 0) throw new Error(`--only: "${unknown.join(",")}" is not among ${groups.join(", ")}`);
  return {
    runs: whole("runs", values.runs, 3, 1),
    seconds,
    warmupSeconds: quick ? 0.5 : 1,
    speedSeconds: quick ? 1 : 3,
    concurrencies,
    only: only as Group[],
    out: values.out,
    hubLogLevel: values["hub-log-level"] ?? "info",
  };
}
