/**
 * The hub as a Kyma runtime agent sees it: a standard-library Go program (e2e/go-client) walks the
 * runtime flow with no Content-Type on any request and `request.Close` on revocations, once with
 * InsecureSkipVerify (as Kyma's acceptance tests run) and once trusting the hub CA in RootCAs.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import t from "tap";
import { buildGoProgram, repoRoot, showLogsOnFailure } from "@tether/e2e/harness";
import { startHub } from "../demo/hub.ts";

const run = promisify(execFile);
const source = join(repoRoot, "e2e/go-client");

const steps = [
  "token (internal API)",
  "info",
  "csr (crypto/x509, RSA-2048)",
  "certificate (2 certificates in crt)",
  "management info (mTLS)",
  "renewal",
  "self-revocation",
  "renewal after self-revocation",
  "second runtime: certificate (2 certificates in crt)",
  'internal revocation {"Hash": ...}',
  "renewal after internal revocation",
  "CN mismatch",
];

t.test("a Go runtime agent walks the runtime flow", async (t) => {
  const binary = await buildGoProgram({ source, name: "go-client", cache: "go-client" });
  const dataDir = mkdtempSync(join(tmpdir(), "tether-go-client-"));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const hub = await startHub(dataDir);
  showLogsOnFailure(t, hub.process);
  const adminToken = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
  const common = ["-hub", hub.publicUrl, "-internal", hub.internalUrl, "-admin-token", adminToken];

  for (const [name, trust] of [
    ["InsecureSkipVerify", ["-insecure", "-runtime", "go-insecure"]],
    ["the hub CA in RootCAs", ["-ca", hub.caFile, "-runtime", "go-rootcas"]],
  ] as const) {
    const result = await run(binary, [...common, ...trust]).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (error: { code: number; stdout: string; stderr: string }) => ({
        code: error.code,
        stdout: `${error.stdout}${error.stderr}`,
      }),
    );
    t.equal(result.code, 0, `${name}: the Go client finished:\n${result.stdout}`);
    for (const step of steps) t.ok(result.stdout.includes(`ok ${step}\n`), `${name}: ${step}`);
    t.match(result.stdout, /all steps passed/, name);
  }
});
