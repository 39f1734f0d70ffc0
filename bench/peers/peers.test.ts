/**
 * The bench's own logic, without running anything: its options, the reading of `openssl speed`, the
 * sizing of one-time tokens, and the tables (medians, ratios, number formats). Run with `./dev pnpm tap bench/peers/peers.test.ts`.
 */
import t from "tap";
import { issuanceCases, mtlsCases } from "./cases.ts";
import { parsePeersOptions } from "./options.ts";
import { parseOpensslSpeed } from "./raw.ts";
import { expectedFromProbe, tokensAfterRunningOut, tokensFor } from "./tokens.ts";
import type { DriverReport, RowResult } from "./table.ts";
import { errorLines, formatMs, formatRate, issuanceTable, median, mtlsTable, summarize } from "./table.ts";

t.test("options: defaults, --quick, and a clear error for each bad one", async (t) => {
  const defaults = parsePeersOptions([]);
  t.match(defaults, { runs: 3, seconds: 5, warmupSeconds: 1, speedSeconds: 3, concurrencies: [8, 32] });
  t.same(defaults.only, ["hub", "step-ca", "cfssl", "mtls"]);
  t.match(parsePeersOptions(["--runs", "1", "--quick"]), { runs: 1, seconds: 2, speedSeconds: 1 });
  t.match(parsePeersOptions(["--quick", "--seconds", "4", "--only", "hub,mtls", "--out", "x.md"]), {
    seconds: 4,
    only: ["hub", "mtls"],
    out: "x.md",
  });
  t.same(parsePeersOptions(["--concurrency", "1,64"]).concurrencies, [1, 64]);
  t.throws(() => parsePeersOptions(["--runs", "0"]), /--runs: "0" is not a whole number >= 1/);
  t.throws(() => parsePeersOptions(["--seconds", "1.5"]), /--seconds/);
  t.throws(() => parsePeersOptions(["--concurrency", "8,x"]), /--concurrency: "x"/);
  t.throws(
    () => parsePeersOptions(["--only", "hub,vault"]),
    /--only: "vault" is not among hub, step-ca, cfssl, mtls/,
  );
  t.throws(() => parsePeersOptions(["--nope"]), /nope/);
  t.throws(() => parsePeersOptions(["stray"]), /unexpected argument "stray"/);
});

t.test("openssl speed: sign/s found by its column, in both output layouts", async (t) => {
  const openssl30 = `
version: 3.0.19
                  sign    verify    sign/s verify/s
rsa 2048 bits 0.000909s 0.000028s   1100.0  35145.5
                              sign    verify    sign/s verify/s
 256 bits ecdsa (nistp256)   0.0000s   0.0001s  28214.3  11393.5
`;
  t.same(parseOpensslSpeed(openssl30), { "RSA-2048": 1100, "P-256": 28214.3 });
  // OpenSSL >= 3.2 adds encrypt/decrypt columns to the RSA line.
  const openssl33 = `
                   sign    verify    encrypt   decrypt   sign/s verify/s  encr./s  decr./s
rsa   2048 bits 0.000561s 0.000017s 0.000018s 0.000570s   1782.4  59428.6  55897.6   1754.3
`;
  t.same(parseOpensslSpeed(openssl33), { "RSA-2048": 1782.4 });
  t.same(parseOpensslSpeed("nothing measured"), {});
});

function report(perSecond: number, extra: Partial<DriverReport> = {}): DriverReport {
  return {
    mode: "x",
    concurrency: 8,
    newConn: false,
    ops: perSecond * 5,
    errors: 0,
    elapsedS: 5,
    perSecond,
    p50Ms: 10,
    p99Ms: 40,
    serverCpuMs: 0,
    serverCpuMsPerOp: 1000 / perSecond,
    driverCpuMsPerOp: 0.1,
    exhausted: false,
    prepared: 0,
    prepareS: 0,
    ...extra,
  };
}

t.test("medians are taken per figure, errors summed", async (t) => {
  t.equal(median([3, 1, 2]), 2);
  t.equal(median([4, 1, 3, 2]), 2.5);
  t.ok(Number.isNaN(median([])));
  const s = summarize([
    report(100, { p99Ms: 90 }),
    report(300, { errors: 2, firstError: "POST /x: 500" }),
    report(200, { p99Ms: 10 }),
  ]);
  t.match(s, {
    runs: 3,
    perSecond: 200,
    p99Ms: 40,
    serverCpuMsPerOp: 5,
    errors: 2,
    firstError: "POST /x: 500",
  });
  t.equal(summarize([]), undefined);
});

t.test("numbers read like the issue's table", async (t) => {
  t.equal(formatRate(2800.4), "2,800/s");
  t.equal(formatRate(607.2), "607/s");
  t.equal(formatRate(96.54), "96.5/s");
  t.equal(formatRate(0.4249), "0.42/s");
  t.equal(formatRate(NaN), "n/a");
  t.equal(formatMs(10.66), "10.7");
  t.equal(formatMs(2.43), "2.4");
  t.equal(formatMs(0.4712), "0.47");
});

t.test("one-time tokens: sized from the expected rate with headroom, more after running out", async (t) => {
  // --quick: 2.5 s of warm-up and measurement at 400/s, 32 in flight.
  t.equal(tokensFor(400, 2.5, 32), 2064);
  t.ok(tokensFor(400, 2.5, 32) > 400 * 2.5 * 2, "twice as fast as expected still fits");
  t.equal(tokensFor(0.4, 6, 8), 21, "a slow row still gets the operations in flight");
  t.throws(() => tokensFor(0, 2.5, 8), /no expected rate/);
  t.throws(() => tokensFor(NaN, 2.5, 8), /no expected rate/);
  t.equal(tokensAfterRunningOut(1000, 2.5, 8, 1000), 7516);
  t.equal(tokensAfterRunningOut(100, 2.5, 8, 1000), 2000, "never fewer than twice as many as ran out");
  t.equal(tokensAfterRunningOut(0, 2.5, 8, 300), 1200, "nothing completed: four times as many");
  // A probe slowed by its first handshakes: 32 in flight at a median of 80 ms is 400/s.
  t.equal(expectedFromProbe({ perSecond: 240, p50Ms: 80 }, 32), 400);
  t.equal(expectedFromProbe({ perSecond: 500, p50Ms: 80 }, 32), 500, "never below what the probe did");
  t.equal(expectedFromProbe({ perSecond: 0, p50Ms: 0 }, 32), 0, "nothing completed: nothing to expect");
});

t.test("every row the tables compare with exists, in the group of the row that compares", async (t) => {
  const all = [...issuanceCases, ...mtlsCases];
  const byId = new Map(all.map((c) => [c.id, c]));
  t.equal(byId.size, all.length, "ids are unique");
  for (const c of all) {
    for (const other of Object.values(c.compare ?? {})) {
      t.equal(byId.get(other)?.group, c.group, `${c.id} compares with ${other}`);
    }
  }
  t.ok(
    all.filter((c) => c.server === "hub").every((c) => c.compare?.node !== undefined),
    "every hub row has its bare node:https row",
  );
});

t.test("the issuance table: one row per case, its ratio to the signing rate and to node:https", async (t) => {
  const nodeP256 = issuanceCases.find((c) => c.id === "node-csr-p256")!;
  const rows: RowResult[] = [
    { case: issuanceCases[0]!, reports: { 8: [report(100), report(96), report(90)], 32: [report(50)] } },
    { case: issuanceCases.find((c) => c.ca === "RSA-2048")!, reports: { 8: [report(70)] } },
    { case: nodeP256, reports: { 8: [report(480)], 32: [report(400)] } },
  ];
  const table = issuanceTable(rows, [8, 32], {
    openssl: { "P-256": 48_000, "RSA-2048": 1_400 },
    node: {},
  }).split("\n");
  t.equal(table.length, 5);
  t.match(
    table[0],
    /^\| service \(what one issuance includes\) \| CA key \| conc 8 \| conc 32 \|.* \| tether ÷ node:https \(8 \/ 32\) \|$/,
  );
  t.equal(
    table[2],
    "| tether, CSR POST only (token, subject, record, audit) | P-256 | 96.0/s | 50.0/s | 10.4 / 20.0 | 10.0 / 40.0 | 0.20 % / 0.10 % | 20 % / 13 % |",
  );
  // No conc-32 run: a dash, not a zero; its node:https row was not measured: an empty cell.
  t.equal(table[3], "| tether, CSR POST only | RSA-2048 | 70.0/s | - | 14.3 / - | - | 5.0 % / - |  |");
  t.equal(
    table[4],
    "| node:https + CSR → certificate, nothing stored (one process) | P-256 | 480/s | 400/s | 2.1 / 2.5 | 10.0 / 40.0 | 1.0 % / 0.83 % |  |",
  );
});

t.test(
  "the mTLS table compares hub and node rows with nginx, the hub with node:https; errors are shown",
  async (t) => {
    const row = (id: string) => mtlsCases.find((c) => c.id === id)!;
    const rows: RowResult[] = [
      {
        case: row("hub-mtls-keepalive"),
        reports: { 8: [report(2000, { errors: 3, firstError: "GET /info: 403" })] },
      },
      { case: row("nginx-mtls-keepalive"), reports: { 8: [report(32_000)] } },
      { case: row("node-mtls-keepalive"), reports: { 8: [report(8_000)] } },
    ];
    const table = mtlsTable(rows, [8]).split("\n");
    t.match(table[0], /\| ÷ nginx \(8\) \| tether ÷ node:https \(8\) \|$/);
    t.match(
      table[2],
      /^\| tether .* \| 2,000\/s \(3 errors\) \| 0\.50 \| 0\.10 \| 10\.0 \/ 40\.0 \| 6\.3 % \| 25 % \|$/,
    );
    t.match(table[3], /^\| nginx, static JSON over mTLS, keep-alive \| 32,000\/s \| .* \| {2}\| {2}\|$/);
    t.match(
      table[4],
      /^\| node:https, static JSON over mTLS \(one process\), keep-alive \| 8,000\/s \| .* \| 25 % \| {2}\|$/,
    );
    t.same(errorLines(rows, [8]), ["hub-mtls-keepalive at conc 8: 3 errors, first: GET /info: 403"]);
  },
);
