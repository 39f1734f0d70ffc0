/**
 * Fuzzes a real hub with schemathesis: a `tether-hub serve` process on free ports, enrolled runtimes
 * whose certificates the fuzzer presents on the mTLS routes, fresh tokens from hooks.py, and every
 * check on, against both listeners' OpenAPI documents (docs/openapi/). `./dev fuzz` runs it long, with
 * a new seed each time (printed, so that a finding can be replayed with --seed); the short run in
 * `./dev test` (e2e/fuzz/short-run.test.ts) runs deterministically: the same cases every time.
 *   node e2e/fuzz/run.ts [--max-examples N] [--seed N | --deterministic]
 */
import { X509Certificate } from "node:crypto";
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Agent, request } from "undici";
import type { CertificatesResponse, CsrInfo, TokenResponse } from "@tether/shared/contract";
import {
  createCsr,
  decodeBase64Pem,
  encodeBase64Pem,
  exportPrivateKeyPem,
  generateKeyPair,
  parseSubject,
} from "@tether/shared/pki";
import { freePorts } from "../harness/ports.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const run = promisify(execFile);

export interface FuzzOptions {
  /** Test cases per operation and phase (schemathesis's --max-examples). */
  maxExamples: number;
  /**
   * The same cases every run (the short run in ./dev test): hypothesis derandomized, which also means
   * no seed and no example database, and one worker so that stateful cases keep their order.
   */
  deterministic?: boolean;
  /** A random run's seed, to replay one whose findings need a second look (schemathesis prints it). */
  seed?: number;
}

export interface FuzzResult {
  listener: string;
  cases: number;
  failures: number;
  exitCode: number;
  output: string;
}

async function json<T>(url: string, init: Parameters<typeof request>[1] = {}): Promise<T> {
  const response = await request(url, init);
  const text = await response.body.text();
  if (response.statusCode >= 300) throw new Error(`${url}: ${response.statusCode} ${text}`);
  return JSON.parse(text) as T;
}

/** The figures of schemathesis's summary: "Test cases: N generated, found M unique failures". */
export function figures(output: string): { cases: number; failures: number } {
  const cases = Number(/(\d+) generated/.exec(output)?.[1] ?? 0);
  const failures = Number(/found (\d+) unique failures?/.exec(output)?.[1] ?? 0);
  return { cases, failures };
}

export async function fuzz(options: FuzzOptions): Promise<FuzzResult[]> {
  const { stdout } = await run("bash", [join(ROOT, "e2e/scripts/ensure-schemathesis.sh")]);
  const st = /ST_BIN=(\S+)/.exec(stdout)![1]!;
  const dir = mkdtempSync(join(tmpdir(), "tether-fuzz-"));
  const [external, internal] = await freePorts(2);
  const hub = spawn(process.execPath, [join(ROOT, "packages/hub/src/cli.ts"), "serve"], {
    env: {
      ...process.env,
      TETHER_HUB_LISTEN: `127.0.0.1:${external}`,
      TETHER_HUB_INTERNAL_LISTEN: `127.0.0.1:${internal}`,
      TETHER_HUB_DATA_DIR: dir,
      TETHER_HUB_RATE_LIMIT: "1000000",
      TETHER_HUB_RENEWAL_LIMIT: "1000000",
      TETHER_HUB_LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  hub.stdout.on("data", (chunk: Buffer) => (log += chunk.toString()));
  hub.stderr.on("data", (chunk: Buffer) => (log += chunk.toString()));
  try {
    while (!log.includes("tether hub ready")) {
      if (hub.exitCode !== null) throw new Error(`hub did not start:\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const publicUrl = `https://localhost:${external}`;
    const internalUrl = `http://127.0.0.1:${internal}`;
    const admin = readFileSync(join(dir, "admin-token"), "utf8").trim();
    const caFile = join(dir, "ca.crt");
    const caPem = readFileSync(caFile, "utf8");
    const agent = new Agent({ connect: { ca: caPem } });
    /** Enrols `runtime` as a spoke would; writes its certificate and key as <runtime>.crt/.key. */
    const enrol = async (runtime: string): Promise<void> => {
      const created = await json<TokenResponse>(`${internalUrl}/v1/runtimes/tokens`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${admin}`,
          tenant: "fuzz",
          group: "fuzz",
          "content-type": "application/json",
        },
        body: JSON.stringify({ runtime }),
      });
      const info = await json<CsrInfo>(created.url, { dispatcher: agent });
      const key = await generateKeyPair("ecdsa-p256");
      const issued = await json<CertificatesResponse>(info.csrUrl, {
        dispatcher: agent,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          csr: encodeBase64Pem(await createCsr(key, parseSubject(info.certificate.subject))),
        }),
      });
      writeFileSync(join(dir, `${runtime}.crt`), decodeBase64Pem(issued.crt));
      writeFileSync(join(dir, `${runtime}.key`), await exportPrivateKeyPem(key), { mode: 0o600 });
    };
    // The self-revocation route revokes the certificate it is called with: it gets a runtime of its
    // own, so that the other mTLS routes keep a valid certificate for the whole run (schemathesis.toml).
    await enrol("fuzz-edge");
    await enrol("fuzz-revoked");
    await agent.close();

    const env = {
      ...process.env,
      PYTHONPATH: join(ROOT, "e2e/fuzz"),
      SCHEMATHESIS_HOOKS: "hooks",
      TETHER_FUZZ_INTERNAL_URL: internalUrl,
      TETHER_FUZZ_PUBLIC_URL: publicUrl,
      TETHER_FUZZ_ADMIN_TOKEN: admin,
      TETHER_FUZZ_CA: caFile,
      TETHER_FUZZ_CA_SHA256: new X509Certificate(caPem).fingerprint256.replaceAll(":", "").toLowerCase(),
      TETHER_FUZZ_CERT: join(dir, "fuzz-edge.crt"),
      TETHER_FUZZ_KEY: join(dir, "fuzz-edge.key"),
      TETHER_FUZZ_REVOKED_CERT: join(dir, "fuzz-revoked.crt"),
      TETHER_FUZZ_REVOKED_KEY: join(dir, "fuzz-revoked.key"),
      NO_COLOR: "1",
    };
    const config = join(ROOT, "e2e/fuzz/schemathesis.toml");
    const common = [
      "--checks",
      "all",
      "--exclude-checks",
      "allow_header_conformance,use_after_free",
      "--max-examples",
      String(options.maxExamples),
      "--no-color",
      ...(options.deterministic === true ? ["--generation-deterministic", "--workers", "1"] : []),
      ...(options.seed === undefined ? [] : ["--seed", String(options.seed)]),
    ];
    const runs: [string, string[]][] = [
      ["external", [join(ROOT, "docs/openapi/external.yaml"), "--url", publicUrl, "--tls-verify", "false"]],
      [
        "internal",
        [
          join(ROOT, "docs/openapi/internal.yaml"),
          "--url",
          internalUrl,
          "-H",
          `Authorization: Bearer ${admin}`,
        ],
      ],
    ];
    const results: FuzzResult[] = [];
    for (const [listener, args] of runs) {
      const result = await new Promise<{ code: number; output: string }>((resolve) => {
        // In the temporary directory: schemathesis keeps a cache of its findings in the working directory.
        const child = spawn(st, ["--config-file", config, "run", ...args, ...common], { env, cwd: dir });
        let output = "";
        child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
        child.on("close", (code) => resolve({ code: code ?? 1, output }));
      });
      results.push({ listener, ...figures(result.output), exitCode: result.code, output: result.output });
    }
    return results;
  } finally {
    hub.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const flag = (name: string): number | undefined => {
    const at = process.argv.indexOf(name);
    if (at === -1) return undefined;
    const value = Number(process.argv[at + 1]);
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} takes a whole number`);
    return value;
  };
  const results = await fuzz({
    maxExamples: flag("--max-examples") ?? 200,
    seed: flag("--seed"),
    deterministic: process.argv.includes("--deterministic"),
  });
  for (const r of results) {
    process.stdout.write(r.output);
    console.log(`[fuzz] ${r.listener}: ${r.cases} cases, ${r.failures} failures, exit ${r.exitCode}`);
  }
  process.exitCode = results.every((r) => r.exitCode === 0) ? 0 : 1;
}
