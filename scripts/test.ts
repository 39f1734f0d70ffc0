/**
 * `pnpm test`: every check the project has, in the order that fails fastest, then one closing line
 * `N passed, N failed` for CI. Static checks count one each; tap counts its own test points.
 *   pnpm test            type-check, lint, format, then every tap file (unit, stores, end-to-end,
 *                        the fuzzer's short run)
 *   pnpm test --unit     the fast lane for the inner loop: the same static checks with their caches
 *                        (node_modules/.cache), then the packages' own tests except the few that
 *                        start real hub processes or need PostgreSQL (`slowFiles`); no control plane,
 *                        so no kube-apiserver build; coverage is left to the full run
 *   pnpm test FILE...    only tap, on those files (other arguments go to tap as they are)
 */
import { spawn } from "node:child_process";
import { globSync } from "node:fs";

interface Outcome {
  passed: number;
  failed: number;
}

function run(label: string, cmd: string, args: string[], onLine?: (line: string) => void): Promise<number> {
  console.log(`\n▶ ${label}: ${cmd} ${args.join(" ")}`);
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
    let buffered = "";
    child.stdout.on("data", (chunk: Buffer) => {
      process.stdout.write(chunk);
      if (!onLine) return;
      buffered += chunk.toString("utf8");
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      lines.forEach(onLine);
    });
    child.on("close", (code, signal) => {
      if (buffered && onLine) onLine(buffered);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

/** Package tests that run real hub processes or PostgreSQL: the full run has them, the fast lane not. */
const slowFiles = new Set([
  "packages/hub/test/process.test.ts",
  "packages/hub/test/store.test.ts",
  "packages/hub/test/store-failure.test.ts",
  "packages/hub/test/immutable-data-dir.test.ts",
]);
const cache = "node_modules/.cache/tether";

const outcome: Outcome = { passed: 0, failed: 0 };
const args = process.argv.slice(2);
const unitLane = args.includes("--unit");
const tapArgs = unitLane
  ? [
      "--disable-coverage",
      ...args.filter((arg) => arg !== "--unit"),
      ...globSync("packages/*/test/**/*.test.ts")
        .filter((file) => !slowFiles.has(file))
        .sort(),
    ]
  : args;
// The fast lane keeps what the checks learned between runs; CI's clean clone starts without it.
const cached = (full: string[], incremental: string[]) => (unitLane ? [...full, ...incremental] : full);

if (args.length === 0 || unitLane) {
  for (const [label, cmd, args] of [
    [
      "type-check",
      "tsc",
      cached(["-p", "tsconfig.json"], ["--incremental", "--tsBuildInfoFile", `${cache}/tsbuildinfo`]),
    ],
    [
      "lint",
      "eslint",
      cached(["--max-warnings", "0", "."], ["--cache", "--cache-location", `${cache}/eslint`]),
    ],
    [
      "format",
      "prettier",
      cached(["--check", "--log-level", "warn", "."], ["--cache", "--cache-location", `${cache}/prettier`]),
    ],
  ] as const) {
    const code = await run(label, cmd, [...args]);
    if (code === 0) outcome.passed++;
    else {
      outcome.failed++;
      console.log(`✗ ${label} failed (exit ${code})`);
    }
  }
}

// tap compiles its plugin list into its own loader; this project drops the TypeScript plugin
// (Node 24 strips types itself), so make sure the built loader matches .taprc.
await run("tap build", "tap", ["build"]);
let summary: Outcome | undefined;
const tapCode = await run("tests", "tap", tapArgs, (line) => {
  const m = /^# \{ total: (\d+), pass: (\d+)(?:, fail: (\d+))?/.exec(line);
  if (m) summary = { passed: Number(m[2]), failed: Number(m[3] ?? 0) };
});
if (!summary) {
  outcome.failed++;
  console.log(`✗ tap printed no summary (exit ${tapCode})`);
} else {
  outcome.passed += summary.passed;
  outcome.failed += summary.failed;
  // Coverage below the thresholds, or a crash outside a test point, fails tap without a failed point.
  if (tapCode !== 0 && summary.failed === 0) {
    outcome.failed++;
    console.log(`✗ tap exited ${tapCode} (coverage below the .taprc thresholds, or a file crashed)`);
  }
}

console.log(`\n${outcome.passed} passed, ${outcome.failed} failed`);
process.exitCode = outcome.failed === 0 ? 0 : 1;
