/**
 * The bench's own logic, without running anything: its options, the reading of `openssl speed`, and
 * the tables (medians, ratios, number formats). Run with `./dev pnpm tap bench/peers/peers.test.ts`.
 */
import t from "tap";
import { issuanceCases, mtlsCases } from "./cases.ts";
import { parsePeersOptions } from "./options.ts";
import { parseOpensslSpeed } from "./raw.ts";
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

t.test("the issuance table: one row per case, its ratio to the signing rate of its CA key", async (t) => {
  const rows: RowResult[] = [
    { case: issuanceCases[0]!, reports: { 8: [report(100), report(96), report(90)], 32: [report(50)] } },
    { case: issuanceCases.find((c) => c.ca === "RSA-2048")!, reports: { 8: [report(70)] } },
  ];
  const table = issuanceTable(rows, [8, 32], {
    openssl: { "P-256": 48_000, "RSA-2048": 1_400 },
    node: {},
  }).split("\n");
  t.equal(table.length, 4);
  t.match(table[0], /^\| service \(what one issuance includes\) \| CA key \| conc 8 \| conc 32 \|/);
  t.equal(
    table[2],
    "| tether, CSR POST only (token, subject, record, audit) | P-256 | 96.0/s | 50.0/s | 10.4 / 20.0 | 10.0 / 40.0 | 0.20 % / 0.10 % |",
  );
  // No conc-32 run: a dash, not a zero.
  t.equal(table[3], "| tether, CSR POST only | RSA-2048 | 70.0/s | - | 14.3 / - | - | 5.0 % / - |");
});

t.test("the mTLS table compares each hub row with nginx; errors are shown", async (t) => {
  const [hubKeepAlive, nginxKeepAlive] = mtlsCases;
  const rows: RowResult[] = [
    { case: hubKeepAlive!, reports: { 8: [report(2000, { errors: 3, firstError: "GET /info: 403" })] } },
    { case: nginxKeepAlive!, reports: { 8: [report(32_000)] } },
  ];
  const table = mtlsTable(rows, [8]).split("\n");
  t.match(
    table[2],
    /^\| tether .* \| 2,000\/s \(3 errors\) \| 0\.50 \| 0\.10 \| 10\.0 \/ 40\.0 \| 6\.3 % \|$/,
  );
  t.match(table[3], /^\| nginx, static JSON over mTLS, keep-alive \| 32,000\/s \| .* \| {2}\|$/);
  t.same(errorLines(rows, [8]), ["hub-mtls-keepalive at conc 8: 3 errors, first: GET /info: 403"]);
});
