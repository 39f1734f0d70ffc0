/**
 * The hub under load, as clients see it: `tether-hub serve` runs in its own process (SQLite in a
 * temporary data dir) and this process drives it over real sockets with undici, HTTP/1.1 keep-alive:
 *   - CSR → certificate/s at concurrency 8 and 32: POST CSR with a csr token made beforehand (one
 *     info call each, off the clock), so the figure is the issuance alone (token, subject, record, audit);
 *   - end to end/s: GET info with a one-time token minted beforehand, then POST CSR (two one-time tokens);
 *   - management info/s over mTLS, on keep-alive connections and with a full TLS handshake each;
 * printed beside the raw signing rate of the hub CA's key type (crypto.sign), measured in the same
 * run on the same machine. BENCH_SECONDS (default 3) per figure; a figure also ends when its
 * pool of tokens made beforehand (BENCH_POOL, default 6000) runs out. BENCH_WORKERS passes
 * `--workers`; BENCH_HUB_NODE_OPTIONS goes to the hub's node (e.g. "--cpu-prof --cpu-prof-dir=DIR").
 */
import { spawn } from "node:child_process";
import { createPrivateKey, sign } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, request, type Dispatcher } from "undici";
import type { CertificatesResponse, CsrInfo, TokenResponse } from "@tether/shared/contract";
import {
  createCsr,
  decodeBase64Pem,
  encodeBase64Pem,
  exportPrivateKeyPem,
  generateKeyPair,
  parseSubject,
} from "@tether/shared/pki";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const POOL = Number(process.env.BENCH_POOL ?? 6000);
const WORKERS = process.env.BENCH_WORKERS;
const HUB_NODE_OPTIONS = (process.env.BENCH_HUB_NODE_OPTIONS ?? "").split(" ").filter((arg) => arg !== "");
// BENCH_HUB_CLI: another hub's cli.ts (e.g. an older commit's, checked out beside this one) to compare.
const CLI =
  process.env.BENCH_HUB_CLI ?? fileURLToPath(new URL("../packages/hub/src/cli.ts", import.meta.url));

async function startHub(dataDir: string) {
  const child = spawn(
    process.execPath,
    [
      ...HUB_NODE_OPTIONS,
      CLI,
      "serve",
      ...["--data-dir", dataDir, "--listen", "127.0.0.1:0", "--internal-listen", "127.0.0.1:0"],
      ...(WORKERS === undefined ? [] : ["--workers", WORKERS]),
    ],
    {
      env: { ...process.env, TETHER_HUB_LOG_LEVEL: "warn", TETHER_HUB_RATE_LIMIT: "100000000" },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let output = "";
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 120_000;
  while (!output.includes("tether hub ready")) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGTERM");
      throw new Error(`hub did not start:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    child,
    publicUrl: /public URL (\S+)/.exec(output)![1]!,
    internalUrl: /internal API:\s+(\S+)/.exec(output)![1]!,
  };
}

async function json<T>(
  url: string,
  options: {
    dispatcher?: Dispatcher;
    method?: "GET" | "POST";
    headers?: Record<string, string>;
    body?: string;
    reset?: boolean;
  },
  expect: number,
): Promise<T> {
  const response = await request(url, options);
  const text = await response.body.text();
  if (response.statusCode !== expect) throw new Error(`${url}: ${response.statusCode} ${text}`);
  return (text === "" ? undefined : JSON.parse(text)) as T;
}

/**
 * CPU time (user + system, ms) used so far by the hub process and its worker processes, from
 * /proc: on a machine shared with other work, CPU per request is the figure that load disturbs least.
 */
function hubCpuMs(pid: number): number {
  const ticks = (stat: string) => {
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(fields[1]), cpu: Number(fields[11]) + Number(fields[12]) };
  };
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    const { ppid, cpu } = ticks(stat);
    if (Number(entry) === pid || ppid === pid) total += cpu;
  }
  // Linux reports clock ticks of 10 ms (USER_HZ 100).
  return total * 10;
}

interface Figure {
  rate: number;
  /** Hub CPU milliseconds per completed request. */
  cpuMs: number;
}

/**
 * Runs `work` on `concurrency` clients for SECONDS, or until `work` returns false (its pool ran
 * out); returns completions per second.
 */
async function rate(concurrency: number, work: () => Promise<unknown>): Promise<Figure> {
  const end = performance.now() + SECONDS * 1000;
  const start = performance.now();
  const cpuStart = hubCpuMs(hub.child.pid!);
  let count = 0;
  let exhausted = false;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!exhausted && performance.now() < end) {
        if ((await work()) === false) exhausted = true;
        else count++;
      }
    }),
  );
  return {
    rate: count / ((performance.now() - start) / 1000),
    cpuMs: (hubCpuMs(hub.child.pid!) - cpuStart) / count,
  };
}

/** `count` results of `make`, made 16 at a time. */
async function pool<T>(count: number, make: () => Promise<T>): Promise<T[]> {
  const made: T[] = [];
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (made.length < count) made.push(await make());
    }),
  );
  return made;
}

const dataDir = mkdtempSync(join(tmpdir(), "tether-bench-hub-"));
const hub = await startHub(dataDir);
try {
  const caPem = readFileSync(join(dataDir, "ca.crt"), "utf8");
  const admin = { authorization: `Bearer ${readFileSync(join(dataDir, "admin-token"), "utf8").trim()}` };
  const tls = new Agent({ connect: { ca: caPem }, connections: 64 });

  // Every issuance re-enrols one runtime, so one CSR (made once, off the clock) serves them all.
  const tokenRequest = {
    method: "POST" as const,
    headers: { ...admin, tenant: "bench", group: "load", "content-type": "application/json" },
    body: JSON.stringify({ runtime: "bench-1" }),
  };
  const infoToken = async () =>
    (await json<TokenResponse>(`${hub.internalUrl}/v1/runtimes/tokens`, tokenRequest, 201)).url;
  const info = await json<CsrInfo>(await infoToken(), { dispatcher: tls }, 200);
  const key = await generateKeyPair("ecdsa-p256");
  const csrBody = JSON.stringify({
    csr: encodeBase64Pem(await createCsr(key, parseSubject(info.certificate.subject))),
  });
  const post = {
    method: "POST" as const,
    dispatcher: tls,
    headers: { "content-type": "application/json" },
    body: csrBody,
  };
  const issued = await json<CertificatesResponse>(info.csrUrl, post, 201);

  // CSR tokens beforehand: a bootstrap token is reusable, so each costs one info call.
  const kubeconfig = await request(`${hub.internalUrl}/v1/runtimes/bench-1/bootstrap-kubeconfig`, {
    method: "POST",
    headers: { ...admin, "content-type": "application/json" },
    body: "{}",
  });
  const bootstrap = /token: (\S+)/.exec(await kubeconfig.body.text())![1]!;
  const csrUrls = () =>
    pool(POOL, async () => {
      const bootstrapInfo = { dispatcher: tls, headers: { authorization: `Bearer ${bootstrap}` } };
      return (await json<CsrInfo>(`${hub.publicUrl}/v1/runtimes/signingRequests/info`, bootstrapInfo, 200))
        .csrUrl;
    });
  const issue = (urls: string[]) => async () => {
    const url = urls.pop();
    if (url === undefined) return false;
    return json(url, post, 201);
  };
  const csr8 = await rate(8, issue(await csrUrls()));
  const csr32 = await rate(32, issue(await csrUrls()));
  const infoUrls = await pool(Math.min(POOL, 3000), infoToken);
  const endToEnd = await rate(8, async () => {
    const url = infoUrls.pop();
    if (url === undefined) return false;
    const { csrUrl } = await json<CsrInfo>(url, { dispatcher: tls }, 200);
    return json(csrUrl, post, 201);
  });

  const client = { ca: caPem, cert: decodeBase64Pem(issued.crt), key: await exportPrivateKeyPem(key) };
  const keepAlive = new Agent({ connect: client, connections: 64 });
  // No session cache and one request per connection: every call pays a full TLS handshake.
  const handshakes = new Agent({ connect: { ...client, maxCachedSessions: 0 } });
  // A session cache: a new connection resumes the TLS session (a ticket) instead of a full handshake.
  const resumed = new Agent({ connect: client });
  const managementUrl = `${hub.publicUrl}/v1/runtimes/management/info`;
  const keepAlive8 = await rate(8, () => json(managementUrl, { dispatcher: keepAlive }, 200));
  const keepAlive32 = await rate(32, () => json(managementUrl, { dispatcher: keepAlive }, 200));
  const handshakeRate = await rate(8, () =>
    json(managementUrl, { dispatcher: handshakes, reset: true }, 200),
  );
  const resumedRate = await rate(8, () => json(managementUrl, { dispatcher: resumed, reset: true }, 200));

  // The reference: raw signatures with the hub CA's own key, on this process's one core.
  const caKey = createPrivateKey(readFileSync(join(dataDir, "ca.key"), "utf8"));
  const data = Buffer.alloc(512, 7);
  const signEnd = performance.now() + SECONDS * 1000;
  const signStart = performance.now();
  let signs = 0;
  while (performance.now() < signEnd) {
    sign("sha256", data, caKey);
    signs++;
  }
  const signRate = signs / ((performance.now() - signStart) / 1000);

  const rows: [string, Figure][] = [
    ["CSR -> certificate over HTTPS, concurrency 8", csr8],
    ["CSR -> certificate over HTTPS, concurrency 32", csr32],
    ["end to end (info -> CSR -> certificate), concurrency 8", endToEnd],
    ["management info over mTLS, keep-alive, concurrency 8", keepAlive8],
    ["management info over mTLS, keep-alive, concurrency 32", keepAlive32],
    ["management info over mTLS, new full TLS handshake each", handshakeRate],
    ["management info over mTLS, new connection resuming the TLS session", resumedRate],
    [
      `reference: raw crypto.sign with the hub CA key (${caKey.asymmetricKeyType} ${caKey.asymmetricKeyDetails?.namedCurve ?? ""})`,
      { rate: signRate, cpuMs: 1000 / signRate },
    ],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log(`${"".padEnd(width)}  ${"rate".padStart(10)}  hub CPU-ms each`);
  for (const [label, { rate, cpuMs }] of rows)
    console.log(`${label.padEnd(width)}  ${rate.toFixed(0).padStart(8)}/s  ${cpuMs.toFixed(3).padStart(8)}`);
  console.log(
    `(hub in a child process with SQLite${WORKERS === undefined ? "" : `, --workers ${WORKERS}`}, ${SECONDS} s per figure, Node ${process.version}; CSR issuances at concurrency 8 are ${((csr8.rate / signRate) * 100).toFixed(2)} % of the raw signing rate)`,
  );
  await Promise.all([tls.close(), keepAlive.close(), handshakes.close(), resumed.close()]);
} finally {
  hub.child.kill("SIGTERM");
  await new Promise((resolve) => hub.child.once("exit", resolve));
  rmSync(dataDir, { recursive: true, force: true });
}
