/**
 * A fleet moving to a new CA: `tether-hub serve` in its own process (SQLite), BENCH_SPOKES (default
 * 1000) simulated spokes enrolled with the old CA, then `ca rotate` + `ca activate` through the admin
 * API, and every spoke doing what a spoke does on its next sync: read the trust bundle, see that its
 * certificate's issuer is not `activeSha256`, renew with its old certificate. The spread over
 * `renewalWindowSeconds` is left out on purpose (every spoke renews at once, BENCH_CONCURRENCY at a
 * time): this measures how fast the hub can move a fleet, the worst case of the window. The reference,
 * measured in the same run on the same hub: the enrolment rate before the rotation (token → info →
 * CSR → certificate, also one signature per spoke).
 */
import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import { enrolRuntime } from "./lib/enrol.ts";
import {
  createCsr,
  decodeBase64Pem,
  encodeBase64Pem,
  generateKeyPair,
  parseSubject,
} from "@tether/shared/pki";
import type { CaStatus, CertificatesResponse, TrustBundle } from "@tether/shared/contract";

const SPOKES = Number(process.env.BENCH_SPOKES ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 20);
const CLI = fileURLToPath(new URL("../packages/hub/src/cli.ts", import.meta.url));

interface Spoke {
  subject: string;
  keyPem: string;
  certPem: string;
}

async function json<T>(url: string, options: Parameters<typeof request>[1] = {}): Promise<T> {
  const response = await request(url, options);
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`${url}: ${response.statusCode} ${text}`);
  return JSON.parse(text) as T;
}

/** Runs `work` over 0..n-1, `CONCURRENCY` at a time; resolves with the elapsed milliseconds. */
async function pool(n: number, work: (i: number) => Promise<void>): Promise<number> {
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < n) await work(next++);
    }),
  );
  return performance.now() - start;
}

const dataDir = mkdtempSync(join(tmpdir(), "tether-bench-rotation-"));
const hub = spawn(
  process.execPath,
  [
    CLI,
    "serve",
    "--listen=127.0.0.1:0",
    "--internal-listen=127.0.0.1:0",
    `--data-dir=${dataDir}`,
    "--key-algorithm=ecdsa-p256",
    "--renewal-limit=100",
    "--rate-limit=100000",
    "--log-level=warn",
  ],
  { stdio: ["ignore", "pipe", "pipe"] },
);
try {
  let output = "";
  hub.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  hub.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  while (!output.includes("tether hub ready")) {
    if (hub.exitCode !== null) throw new Error(output);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const publicUrl = /public URL (\S+)/.exec(output)![1]!;
  const internalUrl = /internal API:\s+(\S+)/.exec(output)![1]!;
  const adminToken = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
  const admin = { authorization: `Bearer ${adminToken}` };
  const oldCaPem = readFileSync(join(dataDir, "ca.crt"), "utf8");
  const plain = new Agent({ connect: { ca: oldCaPem }, connections: CONCURRENCY });

  const spokes: Spoke[] = [];
  const enrolMs = await pool(SPOKES, async (i) => {
    const enrolled = await enrolRuntime(
      { internalUrl, adminToken, tenant: "bench", group: "fleet", runtime: `spoke-${i}` },
      plain,
    );
    spokes[i] = { subject: enrolled.subject, keyPem: enrolled.keyPem, certPem: enrolled.chainPem };
  });

  await json(`${internalUrl}/v1/cas`, {
    method: "POST",
    headers: { ...admin, "content-type": "application/json" },
    body: "{}",
  });
  // Spokes read the bundle while the next CA is prepared: they trust the new serving certificate.
  const first = spokes[0]!;
  const reader = new Agent({ connect: { ca: oldCaPem, cert: first.certPem, key: first.keyPem } });
  const prepared = await json<TrustBundle>(`${publicUrl}/v1/runtimes/management/trust`, {
    dispatcher: reader,
  });
  await reader.close();
  const trustPem = decodeBase64Pem(prepared.serverCas);
  const activated = await json<CaStatus>(`${internalUrl}/v1/cas/activation`, {
    method: "POST",
    headers: { ...admin, "content-type": "application/json" },
    body: "{}",
  });
  const newCa = activated.cas.find((c) => c.phase === "active")!;
  const sha256Of = (pem: string) => new X509Certificate(pem).fingerprint256.replaceAll(":", "").toLowerCase();
  const oldCa = sha256Of(oldCaPem);

  let moved = 0;
  const moveMs = await pool(SPOKES, async (i) => {
    const spoke = spokes[i]!;
    // The spoke trusts what it read last: the old CA and, after its first read, the bundle.
    const agent = new Agent({
      connect: { ca: trustPem || oldCaPem, cert: spoke.certPem, key: spoke.keyPem },
    });
    try {
      const trust = await json<TrustBundle>(`${publicUrl}/v1/runtimes/management/trust`, {
        dispatcher: agent,
      });
      // Every spoke's certificate comes from the old CA: IssuerRotated.
      if (trust.activeSha256 !== oldCa) {
        const key = await generateKeyPair("ecdsa-p256");
        const renewed = await json<CertificatesResponse>(`${publicUrl}/v1/runtimes/certificates/renewals`, {
          method: "POST",
          dispatcher: agent,
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ csr: encodeBase64Pem(await createCsr(key, parseSubject(spoke.subject))) }),
        });
        if (sha256Of(decodeBase64Pem(renewed.caCrt)) === newCa.sha256) moved++;
      }
    } finally {
      await agent.close();
    }
  });
  const status = await json<CaStatus>(`${internalUrl}/v1/cas`, { headers: admin });
  const active = status.cas.find((c) => c.phase === "active")!;
  const retiring = status.cas.find((c) => c.phase === "retiring")!;
  await plain.close();
  const rate = (ms: number) => ((SPOKES / ms) * 1000).toFixed(1);
  console.log(
    JSON.stringify(
      {
        spokes: SPOKES,
        concurrency: CONCURRENCY,
        reference: { enrolSeconds: +(enrolMs / 1000).toFixed(1), certificatesPerSecond: +rate(enrolMs) },
        rotation: {
          moveSeconds: +(moveMs / 1000).toFixed(1),
          renewalsPerSecond: +rate(moveMs),
          movedToNewCa: moved,
          activeHeldBy: active.runtimes,
          retiringLiveCertificates: retiring.liveCertificates,
        },
      },
      null,
      2,
    ),
  );
} finally {
  hub.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
}
