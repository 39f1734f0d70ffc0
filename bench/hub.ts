/**
 * The hub under load, as clients see it: `tether-hub serve` runs in its own process (SQLite in a
 * temporary data dir) and this process drives it over real sockets with undici.
 *   - issuances/s: admin token → GET info → POST CSR → certificate, over HTTPS;
 *   - management info/s over mTLS, on keep-alive connections and with a full TLS handshake each;
 * printed beside the raw signing rate of the hub CA's key type (crypto.sign), measured in the same
 * run on the same machine. BENCH_SECONDS (default 3) per figure, BENCH_CONCURRENCY (default 8).
 */
import { spawn } from "node:child_process";
import { createPrivateKey, sign } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
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
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const CLI = fileURLToPath(new URL("../packages/hub/src/cli.ts", import.meta.url));

async function startHub(dataDir: string) {
  const child = spawn(
    process.execPath,
    [CLI, "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--internal-listen", "127.0.0.1:0"],
    {
      env: { ...process.env, TETHER_HUB_LOG_LEVEL: "warn", TETHER_HUB_RATE_LIMIT: "100000000" },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let output = "";
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 30_000;
  while (!output.includes("tether hub ready")) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`hub did not start:\n${output}`);
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

/** Runs `work` on CONCURRENCY workers for SECONDS; returns completions per second. */
async function rate(work: () => Promise<unknown>): Promise<number> {
  const end = performance.now() + SECONDS * 1000;
  const start = performance.now();
  let count = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        await work();
        count++;
      }
    }),
  );
  return count / ((performance.now() - start) / 1000);
}

const dataDir = mkdtempSync(join(tmpdir(), "tether-bench-hub-"));
const hub = await startHub(dataDir);
try {
  const caPem = readFileSync(join(dataDir, "ca.crt"), "utf8");
  const admin = { authorization: `Bearer ${readFileSync(join(dataDir, "admin-token"), "utf8").trim()}` };
  const tls = new Agent({ connect: { ca: caPem } });

  // Every issuance re-enrols one runtime, so one CSR (made once, off the clock) serves them all.
  const tokenRequest = {
    method: "POST" as const,
    headers: { ...admin, tenant: "bench", group: "load", "content-type": "application/json" },
    body: JSON.stringify({ runtime: "bench-1" }),
  };
  const first = await json<TokenResponse>(`${hub.internalUrl}/v1/runtimes/tokens`, tokenRequest, 201);
  const info = await json<CsrInfo>(first.url, { dispatcher: tls }, 200);
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

  const issuances = await rate(async () => {
    const { url } = await json<TokenResponse>(`${hub.internalUrl}/v1/runtimes/tokens`, tokenRequest, 201);
    const { csrUrl } = await json<CsrInfo>(url, { dispatcher: tls }, 200);
    await json(csrUrl, post, 201);
  });

  const client = { ca: caPem, cert: decodeBase64Pem(issued.crt), key: await exportPrivateKeyPem(key) };
  const keepAlive = new Agent({ connect: client });
  // No session cache and one request per connection: every call pays a full TLS handshake.
  const handshakes = new Agent({ connect: { ...client, maxCachedSessions: 0 } });
  const managementUrl = `${hub.publicUrl}/v1/runtimes/management/info`;
  const keepAliveRate = await rate(() => json(managementUrl, { dispatcher: keepAlive }, 200));
  const handshakeRate = await rate(() => json(managementUrl, { dispatcher: handshakes, reset: true }, 200));

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

  const rows: [string, number][] = [
    ["issuances over HTTPS (admin token -> info -> CSR -> certificate)", issuances],
    ["management info over mTLS, keep-alive", keepAliveRate],
    ["management info over mTLS, new TLS handshake each", handshakeRate],
    [
      `reference: raw crypto.sign with the hub CA key (${caKey.asymmetricKeyType} ${caKey.asymmetricKeyDetails?.namedCurve ?? ""})`,
      signRate,
    ],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  for (const [label, value] of rows)
    console.log(`${label.padEnd(width)}  ${value.toFixed(0).padStart(8)} /s`);
  console.log(
    `(hub in a child process with SQLite, client concurrency ${CONCURRENCY}, ${SECONDS} s per figure, Node ${process.version}; issuances are ${((issuances / signRate) * 100).toFixed(2)} % of the raw signing rate)`,
  );
  await Promise.all([tls.close(), keepAlive.close(), handshakes.close()]);
} finally {
  hub.child.kill("SIGTERM");
  await new Promise((resolve) => hub.child.once("exit", resolve));
  rmSync(dataDir, { recursive: true, force: true });
}
