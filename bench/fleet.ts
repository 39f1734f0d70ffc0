/**
 * `./dev pnpm bench fleet [--quick | --soak] [flags]`: N simulated spokes against real hubs over real
 * sockets (docs/fleet.md). Prints, side by side, req/s, latency, errors and what the hub spent per
 * 1,000 requests for each store × fleet size × connection mode, and a renewal burst; `--soak` holds
 * one fleet for 10 minutes and judges the hub's memory and descriptors; `--connection-cost` prices
 * one held connection and one request per connection mode.
 */
import { cpus, loadavg } from "node:os";
import { writeFileSync } from "node:fs";
import { Agent } from "undici";
import { measureConnectionCost } from "./fleet/connection-cost.ts";
import { CredentialJournal, ensureCredentials } from "./fleet/credentials.ts";
import { FLEET_CACHE, postgresHubs, raiseOwnFileLimit, sqliteHub, type FleetHubs } from "./fleet/hubs.ts";
import { measureCell, type Row } from "./fleet/measure.ts";
import { parseFleetOptions, type FleetOptions } from "./fleet/options.ts";
import { sampleTree } from "./fleet/procfs.ts";
import { runSoak, soakCurve, soakVerdict } from "./fleet/soak.ts";
import { errorSummary, fleetTable } from "./fleet/table.ts";

const firstOption = process.argv.findIndex((arg, i) => i >= 2 && arg.startsWith("-"));
const options = parseFleetOptions(firstOption < 0 ? [] : process.argv.slice(firstOption));
const log = (line: string) => console.log(line);
const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(" ");

async function startHubs(store: "sqlite" | "postgres", opts: FleetOptions): Promise<FleetHubs> {
  const tuning = { keepAliveTimeout: opts.keepAliveTimeout, flags: opts.hubFlags };
  return store === "sqlite" ? sqliteHub(tuning) : postgresHubs(opts.replicas, tuning);
}

/** Credentials for the largest fleet, issued by (and cached for) this store's hubs. */
async function credentialsFor(store: "sqlite" | "postgres", count: number) {
  const hubs = await startHubs(store, options);
  try {
    const journal = new CredentialJournal(hubs.credentialDir);
    const issuer = {
      internalUrl: hubs.replicas[0]!.internalUrl,
      adminToken: hubs.adminToken,
      caPem: hubs.caPem,
    };
    const credentials = await ensureCredentials(issuer, journal, count, options.issueConcurrency, log);
    return { journal, credentials };
  } finally {
    await hubs.stop();
  }
}

raiseOwnFileLimit();
log(
  `fleet bench: ${cpus().length} CPUs, load ${load()}, Node ${process.version}, cache ${FLEET_CACHE}; sync period ${options.syncPeriodMs / 1000} s, hub --keep-alive-timeout ${options.keepAliveTimeout}${options.rate === undefined ? "" : ` (--rate ${options.rate}/s)`}, hub flags: ${options.hubFlags.join(" ") || "none"}`,
);

if (options.connectionCost) {
  // One hub, no fleet schedule: the connection's own price (docs/fleet.md#what-a-connection-costs).
  const store = options.stores[0]!;
  const { credentials } = await credentialsFor(store, options.spokes[0]!);
  const hubs = await startHubs(store, options);
  try {
    await measureConnectionCost(
      hubs,
      credentials,
      { rate: options.rate ?? 100, seconds: options.soakMs / 1000, timeoutMs: options.timeoutMs },
      log,
    );
  } finally {
    await hubs.stop();
  }
  log(`load at the end ${load()}`);
} else if (options.soak) {
  const store = options.stores[0]!;
  const count = options.spokes[0]!;
  const { journal, credentials } = await credentialsFor(store, count);
  const hubs = await startHubs(store, options);
  let verdict: string[];
  try {
    const idle = sampleTree(hubs.replicas.map((hub) => hub.pid));
    log(
      `reference: the hub idle after start (${idle.processes} processes), RSS ${(idle.rssBytes / 1048576).toFixed(0)} MB, ${idle.fds} fds`,
    );
    log(
      `soak: ${count} spokes syncing every ${(options.syncPeriodMs / 1000).toFixed(1)} s: ~${(count / (options.syncPeriodMs / 1000)).toFixed(0)} requests/s`,
    );
    const result = await runSoak(hubs, credentials, journal, options, options.soakMode, 10_000, log);
    log("memory curve (all hub processes):");
    for (const [label, sample] of soakCurve(result)) {
      log(
        `  ${label.padEnd(8)} RSS ${(sample.rssBytes / 1048576).toFixed(0)} MB, ${sample.fds} fds, ${sample.requests} requests, ${sample.errors} errors`,
      );
    }
    log(
      `soak: ${result.requests} requests in ${result.seconds.toFixed(0)} s (${(result.requests / result.seconds).toFixed(0)}/s), p99 ${result.p99.toFixed(1)} ms, ${result.errors} errors; hub ${((result.hubCpuSeconds / result.seconds) * 100).toFixed(0)} % CPU (${((result.hubCpuSeconds / result.requests) * 1000).toFixed(2)} CPU-s/1k req), simulator ${((result.simCpuSeconds / result.seconds) * 100).toFixed(0)} % CPU; load ${load()}`,
    );
    for (const [kind, n] of result.errorKinds) log(`  ${n} × ${kind}`);
    verdict = soakVerdict(result, { rssGrowth: 0.05, fdSlack: Math.max(50, Math.ceil(count / 100)) });
  } finally {
    await hubs.stop();
  }
  log(
    verdict.length === 0
      ? "soak: held (0 errors, RSS flat, descriptors flat)"
      : `soak FAILED:\n  ${verdict.join("\n  ")}`,
  );
  if (verdict.length > 0) process.exitCode = 1;
} else {
  const rows: Row[] = [];
  for (const store of options.stores) {
    const { journal, credentials } = await credentialsFor(store, Math.max(...options.spokes));
    for (const count of options.spokes) {
      for (const mode of options.modes) {
        const hubs = await startHubs(store, options);
        try {
          rows.push(await measureCell(hubs, credentials.slice(0, count), journal, options, mode, log));
        } finally {
          await hubs.stop();
        }
        log(fleetTable(rows.slice(-1)).split("\n").at(-1)!);
      }
    }
  }
  const table = fleetTable(rows);
  const notes = [
    `sync period ${options.syncPeriodMs / 1000} s (±10 %), window ${options.windowMs / 1000} s after a ${options.warmupMs / 1000} s warm-up, ` +
      `${options.revocationsPerMinute} revocations/min, burst ${options.burst * 100} % of the fleet renewing at once, ` +
      `hub --keep-alive-timeout ${options.keepAliveTimeout}, hub flags: ${options.hubFlags.join(" ") || "none"}; ${cpus().length} CPUs, load at the end ${load()}, Node ${process.version}`,
  ];
  log(`\n${table}\n\n${notes.join("\n")}`);
  for (const line of errorSummary(rows)) log(`  ${line}`);
  if (options.out !== undefined) writeFileSync(options.out, `${table}\n\n${notes.join("\n")}\n`);
}
// Idle keep-alive sockets of undici's global dispatcher would hold the process open.
await new Agent().close();
