/**
 * tether beside its peers (docs/benchmarks.md): the hub, step-ca, cfssl, nginx and bare node:https
 * servers (the floor Node puts under the hub), each started on loopback with the same CA per key type, all driven by one Go load driver (bench/peers/driver) over
 * HTTP/1.1 keep-alive and TLS 1.3 at fixed concurrency, with the raw signature rates of the machine
 * measured in every run. Prints the issuance table and the mTLS table (median of the runs).
 *
 *   pnpm bench peers [--runs N] [--quick] [--seconds S] [--concurrency 8,32]
 *                    [--only hub,step-ca,cfssl,mtls] [--out FILE.md|FILE.json] [--hub-log-level L]
 */
import { createPrivateKey } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { Agent } from "undici";
import type { CaKey, Case } from "./peers/cases.ts";
import { issuanceCases, mtlsCases } from "./peers/cases.ts";
import type { HubClient } from "./peers/hub-client.ts";
import { enrolHubClient } from "./peers/hub-client.ts";
import { parsePeersOptions } from "./peers/options.ts";
import { makePki, makeProvisionerKey } from "./peers/pki.ts";
import { nodeSignRate, opensslSpeed } from "./peers/raw.ts";
import type { Running, RunningHub } from "./peers/servers.ts";
import { startCfssl, startHub, startNginx, startNodeFloor, startStepCa } from "./peers/servers.ts";
import { PROBE_OPERATIONS, expectedFromProbe, tokensAfterRunningOut, tokensFor } from "./peers/tokens.ts";
import { buildDriver, ensurePeers, runDriver } from "./peers/tools.ts";
import type { DriverReport, RawRates, RowResult } from "./peers/table.ts";
import {
  errorLines,
  formatMs,
  formatRate,
  issuanceTable,
  median,
  mtlsTable,
  rawLine,
} from "./peers/table.ts";

// bench/run.ts leaves everything in process.argv: the names come first, then this bench's options.
const argv = process.argv.slice(2);
const firstOption = argv.findIndex((arg) => arg.startsWith("-"));
const options = parsePeersOptions(firstOption < 0 ? [] : argv.slice(firstOption));
const say = (text: string) => console.error(`[peers] ${text}`);

const cases = [...issuanceCases, ...mtlsCases].filter((c) => options.only.includes(c.group));
const uses = (server: Case["server"]) => cases.some((c) => c.server === server);
const caKeys = [...new Set(cases.filter((c) => c.mode !== "get").map((c) => c.ca))];

say("building the load driver (Go; cached in ~/.cache/tether/peers)");
const driver = await buildDriver();
const peerNames = (["step-ca", "cfssl", "nginx"] as const).filter((p) =>
  p === "cfssl" ? uses("cfssl") || uses("cfssl-db") : uses(p),
);
if (peerNames.length > 0) {
  say(`making sure ${peerNames.join(", ")} are there (a cold step-ca build takes several minutes)`);
}
const peers = peerNames.length > 0 ? await ensurePeers(peerNames) : undefined;

const loadBefore = loadavg();
const work = await mkdtemp(join(tmpdir(), "tether-bench-peers-"));
const servers: Running[] = [];
const started = <T extends Running>(server: T): T => (servers.push(server), server);
const trustAgents: Agent[] = [];
try {
  say(`PKI with openssl in ${work}`);
  const pki = await makePki(work);
  const trustPem = await readFile(pki.trust, "utf8");
  const trust = new Agent({ connect: { ca: trustPem } });
  trustAgents.push(trust);

  const hubs = new Map<CaKey, RunningHub>();
  const byCase = new Map<string, Running>();
  const needHub = (key: CaKey) => cases.some((c) => c.server === "hub" && c.ca === key);
  for (const key of ["P-256", "RSA-2048"] as const) {
    if (!needHub(key)) continue;
    say(`starting the hub with the ${key} CA`);
    hubs.set(key, started(await startHub(work, pki, pki.cas[key], options.hubLogLevel)));
  }
  const provisioner = uses("step-ca") ? await makeProvisionerKey(work) : undefined;
  const stepCas = new Map<CaKey, Running>();
  for (const key of ["P-256", "RSA-2048"] as const) {
    if (!cases.some((c) => c.server === "step-ca" && c.ca === key)) continue;
    say(`starting step-ca with the ${key} CA`);
    stepCas.set(key, started(await startStepCa(peers!.stepCa, work, pki.cas[key], provisioner!, trust)));
  }
  let client: HubClient | undefined;
  const enrolled = async () => (client ??= await enrolHubClient(hubs.get("P-256")!, trustPem, work));
  /** The node:https references, one per kind, CA and process count, shared by the rows that use it. */
  const nodeFloors = new Map<string, Running>();
  for (const c of cases) {
    let server: Running | undefined;
    if (c.server === "hub") server = hubs.get(c.ca);
    else if (c.server === "step-ca") server = stepCas.get(c.ca);
    else if (c.server === "cfssl" || c.server === "cfssl-db") {
      say(`starting cfssl ${c.server === "cfssl-db" ? "with its SQLite cert DB" : "without a DB"}`);
      server = started(
        await startCfssl(peers!.cfssl, work, pki, pki.cas[c.ca], c.server === "cfssl-db", trust),
      );
    } else if (c.server === "nginx") {
      const existing = [...byCase.values()].find((s) => s.name === "nginx");
      if (existing) server = existing;
      else {
        const { info } = await enrolled();
        say("starting nginx (static JSON over mTLS, the hub's CA as client CA)");
        server = started(await startNginx(peers!.nginx, work, pki, pki.cas["P-256"].chain, info));
      }
    } else if (c.server === "node-json" || c.server === "node-csr") {
      const workers = c.workers ?? 1;
      const key = `${c.server} ${c.ca} ×${workers}`;
      server = nodeFloors.get(key);
      if (server === undefined) {
        say(`starting ${key} (bare node:https)`);
        server = started(
          await startNodeFloor(
            work,
            pki,
            c.server === "node-json"
              ? { kind: "json", workers, clientCa: pki.cas["P-256"].chain, body: (await enrolled()).info }
              : { kind: "csr", workers, ca: pki.cas[c.ca] },
          ),
        );
        nodeFloors.set(key, server);
      }
    }
    if (c.mode === "get" && c.server === "hub") await enrolled();
    byCase.set(c.id, server!);
  }

  const results = new Map<string, RowResult>(cases.map((c) => [c.id, { case: c, reports: {} }]));
  const rawRuns: RawRates[] = [];
  /** The best rate seen per row, by concurrency: what its one-time tokens are sized by. */
  const seen = new Map<string, Map<number, number>>();
  const window = options.seconds + options.warmupSeconds;
  const oneTime = (c: Case) => c.mode === "hub-csr" || c.mode === "hub-e2e" || c.mode === "step-ca";

  function driverArgs(c: Case, concurrency: number, count: number, seconds = options.seconds): string[] {
    const server = byCase.get(c.id)!;
    const common = [
      ...["-mode", c.mode, "-concurrency", String(concurrency)],
      ...["-duration", `${seconds}s`, "-warmup", `${seconds === 0 ? 0 : options.warmupSeconds}s`],
      ...["-pid", String(server.pid), "-ca", pki.trust],
    ];
    if (c.mode === "hub-csr" || c.mode === "hub-e2e") {
      const hub = server as RunningHub;
      return [
        ...common,
        ...["-admin-url", hub.internalUrl, "-admin-token-file", hub.adminTokenFile, "-count", String(count)],
      ];
    }
    if (c.mode === "step-ca")
      return [...common, "-url", server.url, "-jwk", provisioner!.privateFile, "-count", String(count)];
    if (c.mode === "get") {
      const url = c.server === "hub" ? `${server.url}/v1/runtimes/management/info` : server.url;
      const conn = c.newConn ? ["-new-conn"] : [];
      return [...common, "-url", url, "-cert", client!.cert, "-key", client!.key, ...conn];
    }
    return [...common, "-url", server.url];
  }

  /**
   * A row's expected rate at a concurrency: the best seen there; else a short unmeasured probe, or
   * the best the row reached at another concurrency if that is higher (a load spike during the
   * probe then does not decide alone).
   */
  async function expectedRate(c: Case, concurrency: number): Promise<number> {
    const rates = seen.get(c.id) ?? new Map<number, number>();
    const known = rates.get(concurrency);
    if (known !== undefined) return known;
    const probe = await runDriver(driver, driverArgs(c, concurrency, PROBE_OPERATIONS, 0));
    const expected = Math.max(expectedFromProbe(probe, concurrency), ...rates.values());
    if (!(expected > 0)) {
      throw new Error(
        `${c.id}: the probe completed nothing (${probe.errors} errors, first: ${probe.firstError})`,
      );
    }
    say(
      `  ${c.id} conc ${concurrency}: probe of ${probe.ops} operations: ${formatRate(probe.perSecond)}, ` +
        `p50 ${formatMs(probe.p50Ms)} ms; expecting ${formatRate(expected)}`,
    );
    return expected;
  }

  async function measure(c: Case, concurrency: number): Promise<DriverReport> {
    if (!oneTime(c)) return runDriver(driver, driverArgs(c, concurrency, 0));
    let count = tokensFor(await expectedRate(c, concurrency), window, concurrency);
    for (let attempt = 1; ; attempt++) {
      const report = await runDriver(driver, driverArgs(c, concurrency, count));
      const rates = seen.get(c.id) ?? new Map<number, number>();
      rates.set(concurrency, Math.max(rates.get(concurrency) ?? 0, report.perSecond));
      seen.set(c.id, rates);
      // Tokens ran out before the time did: the figure stands, but over a shorter time; measure again
      // with enough of them.
      if (!report.exhausted || attempt === 3) return report;
      say(`  ${c.id} conc ${concurrency}: ${count} prepared tokens ran out early; again with more`);
      count = tokensAfterRunningOut(report.perSecond, window, concurrency, count);
    }
  }

  for (let run = 1; run <= options.runs; run++) {
    if (caKeys.length > 0) {
      say(`run ${run}/${options.runs}: raw signature rates (openssl speed -seconds ${options.speedSeconds})`);
      const raw: RawRates = { openssl: await opensslSpeed(caKeys, options.speedSeconds), node: {} };
      for (const key of caKeys) {
        const caKey = createPrivateKey(await readFile(pki.cas[key].caKey));
        raw.node[key] = nodeSignRate(caKey, options.speedSeconds / 2);
      }
      rawRuns.push(raw);
    }
    for (const c of cases) {
      for (const concurrency of options.concurrencies) {
        const report = await measure(c, concurrency);
        (results.get(c.id)!.reports[concurrency] ??= []).push(report);
        say(
          `run ${run}/${options.runs}  ${c.id.padEnd(22)} conc ${String(concurrency).padStart(2)}: ` +
            `${formatRate(report.perSecond).padStart(9)}  p99 ${formatMs(report.p99Ms)} ms  ` +
            `server ${formatMs(report.serverCpuMsPerOp)} CPU-ms/op` +
            (report.errors > 0 ? `  ${report.errors} errors, first: ${report.firstError}` : ""),
        );
      }
    }
  }

  const rawMedian: RawRates = { openssl: {}, node: {} };
  for (const key of caKeys) {
    rawMedian.openssl[key] = median(rawRuns.map((r) => r.openssl[key]!));
    rawMedian.node[key] = median(rawRuns.map((r) => r.node[key]!));
  }
  const rows = [...results.values()];
  const issuanceRows = rows.filter((r) => r.case.mode !== "get");
  const mtlsRows = rows.filter((r) => r.case.mode === "get");
  const loadAfter = loadavg();
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(", ");
  const header =
    `${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model.trim() ?? "CPU"}, Node ${process.version}; ` +
    `median of ${options.runs} run(s), ${options.seconds} s measured per figure after ${options.warmupSeconds} s ` +
    `of warm-up; load average (1, 5, 15 min) before ${load(loadBefore)}, after ${load(loadAfter)}`;
  const sections = [header];
  if (issuanceRows.length > 0) {
    sections.push(
      `### Issuance\n\n${issuanceTable(issuanceRows, options.concurrencies, rawMedian)}\n\n${rawLine(rawMedian)}`,
    );
  }
  if (mtlsRows.length > 0) sections.push(`### mTLS\n\n${mtlsTable(mtlsRows, options.concurrencies)}`);
  const errors = errorLines(rows, options.concurrencies);
  if (errors.length > 0) sections.push(`Errors:\n\n${errors.map((e) => `- ${e}`).join("\n")}`);
  const markdown = sections.join("\n\n") + "\n";
  console.log(`\n${markdown}`);
  if (options.out !== undefined) {
    const json = {
      date: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        model: cpus()[0]?.model.trim(),
        loadBefore,
        loadAfter,
        node: process.version,
      },
      options,
      peers,
      raw: { median: rawMedian, runs: rawRuns },
      rows: rows.map((r) => ({ ...r.case, reports: r.reports })),
    };
    await writeFile(
      options.out,
      options.out.endsWith(".json") ? JSON.stringify(json, null, 2) + "\n" : markdown,
    );
    say(`wrote ${options.out}`);
  }
} finally {
  await Promise.all(servers.map((s) => s.stop()));
  await Promise.all(trustAgents.map((a) => a.close()));
  await rm(work, { recursive: true, force: true });
}
