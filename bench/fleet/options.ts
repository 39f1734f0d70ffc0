/** The fleet bench's flags (docs/fleet.md), parsed and checked before anything starts. */
import { parseArgs } from "node:util";
import { parseDuration } from "@tether/shared/time";
import { CONNECTION_MODES, type ConnectionMode } from "./fleet-sim.ts";

export interface FleetOptions {
  spokes: number[];
  modes: ConnectionMode[];
  stores: ("sqlite" | "postgres")[];
  replicas: number;
  syncPeriodMs: number;
  warmupMs: number;
  windowMs: number;
  renewalPeriodMs: number;
  revocationsPerMinute: number;
  /** Share of the fleet renewing at once after each window; 0: no burst. */
  burst: number;
  sourceAddresses: string[];
  issueConcurrency: number;
  /** A request's deadline, connect to last byte (the agent's is 15 s). */
  timeoutMs: number;
  /** The hubs' --keep-alive-timeout: a kept connection must outlive one sync period. */
  keepAliveTimeout: string;
  /** `serve` flags: --hub-flag as given, then --workers. */
  hubFlags: string[];
  /** Management-info requests per second the fleet makes (--rate), when it set the sync period. */
  rate: number | undefined;
  out: string | undefined;
  soak: boolean;
  soakMs: number;
  /** --connection-cost: what one held connection and one request per mode cost the hub (connection-cost.ts). */
  connectionCost: boolean;
  soakMode: ConnectionMode;
}

const list = (text: string) =>
  text
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");

function count(flag: string, text: string): number {
  const value = Number(text.replace(/k$/i, "000"));
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`--${flag}: "${text}" is not a whole number ≥ 1`);
  return value;
}

/** "1700/s", "1700" or "102000/min": requests per second. */
function requestRate(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(?:\/(s|min))?$/.exec(text.trim());
  const value = match ? Number(match[1]) * (match[2] === "min" ? 1 / 60 : 1) : Number.NaN;
  if (!(value > 0)) throw new Error(`--rate: "${text}" is not a rate such as 1700/s or 102000/min`);
  return value;
}

export function parseFleetOptions(argv: string[]): FleetOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: "boolean" },
      soak: { type: "boolean" },
      "connection-cost": { type: "boolean" },
      spokes: { type: "string" },
      modes: { type: "string" },
      stores: { type: "string" },
      replicas: { type: "string", default: "2" },
      "sync-period": { type: "string" },
      warmup: { type: "string" },
      duration: { type: "string" },
      "renewal-period": { type: "string", default: "0s" },
      "revocations-per-minute": { type: "string", default: "6" },
      burst: { type: "string", default: "0.1" },
      "source-addresses": { type: "string", default: "8" },
      "issue-concurrency": { type: "string", default: "16" },
      timeout: { type: "string", default: "15s" },
      "keep-alive-timeout": { type: "string" },
      "hub-flag": { type: "string", multiple: true, default: [] },
      workers: { type: "string" },
      rate: { type: "string" },
      out: { type: "string" },
    },
  });
  const quick = values.quick === true;
  const soak = values.soak === true;
  const connectionCost = values["connection-cost"] === true;
  const defaultSpokes = connectionCost ? "2000" : quick ? "1000" : soak ? "100000" : "1000,10000,100000";
  const spokes = list(values.spokes ?? defaultSpokes).map((n) => count("spokes", n));
  const rate = values.rate === undefined ? undefined : requestRate(values.rate);
  if (rate !== undefined && values["sync-period"] !== undefined)
    throw new Error(
      "--rate and --sync-period: give one of them (--rate sets the sync period to spokes / rate)",
    );
  if (rate !== undefined && spokes.length > 1 && !connectionCost)
    throw new Error("--rate: with one fleet size only (--spokes N), whose sync period it sets");
  // --rate: the same load from fewer spokes, each syncing more often (keep-alive at the 100k rate
  // needs no 100k descriptors).
  const syncPeriodMs =
    rate === undefined
      ? parseDuration(values["sync-period"] ?? (quick ? "10s" : "60s"))
      : Math.round((spokes[0]! / rate) * 1000);
  const modes = list(values.modes ?? (soak ? "keep-alive" : CONNECTION_MODES.join(",")));
  for (const mode of modes) {
    if (!(CONNECTION_MODES as readonly string[]).includes(mode)) {
      throw new Error(`--modes: "${mode}" is none of ${CONNECTION_MODES.join(", ")}`);
    }
  }
  const stores = list(values.stores ?? (quick || soak ? "sqlite" : "sqlite,postgres"));
  for (const store of stores) {
    if (store !== "sqlite" && store !== "postgres")
      throw new Error(`--stores: "${store}" is not sqlite or postgres`);
  }
  const burst = Number(values.burst);
  if (!(burst >= 0 && burst <= 1)) throw new Error("--burst: a share of the fleet, 0 to 1");
  const sources = count("source-addresses", values["source-addresses"]);
  if (sources > 250) throw new Error("--source-addresses: at most 250 (127.0.0.2-251)");
  const workers = values.workers === undefined ? [] : ["--workers", values.workers];
  return {
    spokes,
    modes: modes as ConnectionMode[],
    stores: stores as ("sqlite" | "postgres")[],
    replicas: count("replicas", values.replicas),
    syncPeriodMs,
    warmupMs: parseDuration(values.warmup ?? `${syncPeriodMs}ms`),
    windowMs: parseDuration(values.duration ?? (soak ? "10m" : `${syncPeriodMs}ms`)),
    renewalPeriodMs: parseDuration(values["renewal-period"]),
    revocationsPerMinute: Number(values["revocations-per-minute"]),
    burst: soak ? 0 : burst,
    sourceAddresses: Array.from({ length: sources }, (_, i) => `127.0.0.${i + 2}`),
    issueConcurrency: count("issue-concurrency", values["issue-concurrency"]),
    timeoutMs: parseDuration(values.timeout),
    // A keep-alive connection that the hub closes before the next sync is no keep-alive at all.
    keepAliveTimeout: values["keep-alive-timeout"] ?? `${Math.max(30_000, syncPeriodMs * 2)}ms`,
    hubFlags: [...values["hub-flag"], ...workers],
    rate,
    out: values.out,
    soak,
    soakMs: parseDuration(values.duration ?? (connectionCost ? "20s" : "10m")),
    connectionCost,
    soakMode: modes[0] as ConnectionMode,
  };
}
