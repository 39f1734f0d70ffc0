/**
 * A fleet's CRL: 100,000 revoked certificates of one CA in the hub's SQLite store, `tether-hub
 * serve` in its own process, and this process fetching `GET /v1/crl/<ca>.crl` over HTTPS.
 *   - the first fetch builds and signs the CRL (once per change);
 *   - then latency from the cache (p50/p99, one request at a time, keep-alive) and a conditional GET;
 * beside the reference: a bare node:https server sending the same bytes from memory.
 * BENCH_CRL_ENTRIES (default 100000), BENCH_REQUESTS (default 200).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import { createSelfSignedCa, loadCa } from "@tether/shared/pki";
import { openSqliteStore } from "../packages/hub/src/store/sqlite.ts";

const ENTRIES = Number(process.env.BENCH_CRL_ENTRIES ?? 100_000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 200);
const CLI = fileURLToPath(new URL("../packages/hub/src/cli.ts", import.meta.url));

const dataDir = mkdtempSync(join(tmpdir(), "tether-bench-crl-"));
const children: { kill(signal: NodeJS.Signals): void }[] = [];
try {
  const { certPem, keyPem } = await createSelfSignedCa({ commonName: "bench CA" });
  const ca = await loadCa(certPem, keyPem);
  writeFileSync(join(dataDir, "ca.crt"), certPem);
  writeFileSync(join(dataDir, "ca.key"), keyPem, { mode: 0o600 });

  // The store's own schema; the rows go in with one transaction, as a fleet's history would not.
  const store = openSqliteStore(dataDir);
  await store.migrate();
  await store.close();
  const db = new DatabaseSync(join(dataDir, "tether-hub.db"));
  const now = Date.now();
  const fillStart = performance.now();
  const certificate = db.prepare(
    "INSERT INTO certificates (sha256, runtime_id, serial, not_before, not_after, issuer_sha256, kind, issued_at, pem) VALUES (?, ?, ?, ?, ?, ?, 'initial', ?, '-')",
  );
  const revocation = db.prepare(
    "INSERT INTO revocations (sha256, revoked_at, reason) VALUES (?, ?, 'admin')",
  );
  db.exec("BEGIN");
  for (let i = 0; i < ENTRIES; i++) {
    const sha256 = randomBytes(32).toString("hex");
    // Positive serials, as the hub issues them.
    const serial = `1${randomBytes(15).toString("hex").toUpperCase()}`;
    certificate.run(sha256, `rt-${i % 1000}`, serial, now, now + 30 * 86_400_000, ca.sha256, now);
    revocation.run(sha256, now);
  }
  db.exec("COMMIT");
  db.close();
  const fillSeconds = (performance.now() - fillStart) / 1000;

  const child = spawn(
    process.execPath,
    [
      ...[CLI, "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--internal-listen", "127.0.0.1:0"],
      ...["--ca-cert", join(dataDir, "ca.crt"), "--ca-key", join(dataDir, "ca.key")],
    ],
    { env: { ...process.env, TETHER_HUB_LOG_LEVEL: "warn" }, stdio: ["ignore", "ignore", "pipe"] },
  );
  children.push(child);
  let output = "";
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (!output.includes("tether hub ready")) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`hub did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const publicUrl = /public URL (\S+)/.exec(output)![1]!;
  const agent = new Agent({ connect: { ca: certPem } });
  const crlUrl = `${publicUrl}/v1/crl/${ca.sha256}.crl`;

  const fetchOnce = async (url: string, dispatcher: Agent, headers: Record<string, string> = {}) => {
    const start = performance.now();
    const response = await request(url, { dispatcher, headers });
    const body = Buffer.from(await response.body.arrayBuffer());
    return {
      ms: performance.now() - start,
      status: response.statusCode,
      body,
      etag: String(response.headers.etag),
    };
  };
  const latencies = async (url: string, dispatcher: Agent, headers: Record<string, string> = {}) => {
    const times: number[] = [];
    for (let i = 0; i < REQUESTS; i++) times.push((await fetchOnce(url, dispatcher, headers)).ms);
    times.sort((a, b) => a - b);
    const at = (q: number) => times[Math.min(times.length - 1, Math.floor(q * times.length))]!;
    return `p50 ${at(0.5).toFixed(1).padStart(6)} ms   p99 ${at(0.99).toFixed(1).padStart(6)} ms`;
  };

  const first = await fetchOnce(crlUrl, agent);
  if (first.status !== 200) throw new Error(`CRL: ${first.status} ${first.body.toString()}`);
  const cached = await latencies(crlUrl, agent);
  const conditional = await latencies(crlUrl, agent, { "if-none-match": first.etag });

  // The reference: the same bytes from memory, from a bare node:https server in this process.
  const reference = createServer({ cert: certPem, key: keyPem }, (_request, response) => {
    response.writeHead(200, { "content-type": "application/pkix-crl" }).end(first.body);
  });
  await new Promise<void>((resolve) => reference.listen(0, "127.0.0.1", resolve));
  const referenceAgent = new Agent({ connect: { rejectUnauthorized: false } });
  const referenceUrl = `https://127.0.0.1:${(reference.address() as AddressInfo).port}/ca.crl`;
  const bare = await latencies(referenceUrl, referenceAgent);
  reference.close();

  const rows: [string, string][] = [
    [
      `first fetch: build and sign (${ENTRIES} entries, ${(first.body.length / 1e6).toFixed(1)} MB)`,
      `${first.ms.toFixed(0).padStart(6)} ms`,
    ],
    ["from cache, keep-alive, one at a time", cached],
    ["conditional GET (If-None-Match) -> 304", conditional],
    ["reference: bare node:https sending the same bytes", bare],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  for (const [label, value] of rows) console.log(`${label.padEnd(width)}  ${value}`);
  console.log(
    `(hub in a child process with SQLite; store filled in ${fillSeconds.toFixed(1)} s; ${REQUESTS} requests per figure; Node ${process.version})`,
  );
  await Promise.all([agent.close(), referenceAgent.close()]);
} finally {
  for (const child of children) child.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
}
