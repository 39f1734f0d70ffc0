/**
 * `pnpm test`: every check the project has, in the order that fails fastest, then one closing line
 * `N passed, N failed` for CI. Static checks count one each; tap counts its own test points.
 *   pnpm test            type-check, lint, format, then every tap file (unit, stores, end-to-end)
 *   pnpm test --unit     the fast lane: type-check, lint, format, then the packages' own tests only
 *                        (no control plane, so no kube-apiserver build; coverage is left to the full run)
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

const outcome: Outcome = { passed: 0, failed: 0 };
const args = process.argv.slice(2);
const unitLane = args.includes("--unit");
const tapArgs = unitLane
  ? [
      "--disable-coverage",
      ...args.filter((arg) => arg !== "--unit"),
      ...globSync("packages/*/test/**/*.test.ts").sort(),
    ]
  : args;

if (args.length === 0 || unitLane) {
  for (const [label, cmd, args] of [
    ["type-check", "tsc", ["-p", "tsconfig.json"]],
    ["lint", "eslint", ["--max-warnings", "0", "."]],
    ["format", "prettier", ["--check", "--log-level", "warn", "."]],
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
