/**
 * The README says what the code does: its configuration and metrics reference is the one the flag
 * tables and metric registries make, and its two commands are the ones CI and the tests run.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import t from "tap";
import { repoRoot } from "@tether/e2e/harness";
import { expectedReadme } from "../../scripts/reference.ts";

const readme = await readFile(join(repoRoot, "README.md"), "utf8");

t.test("the configuration and metrics reference is up to date", async (t) => {
  t.equal(readme, await expectedReadme(readme), "run ./dev node scripts/reference.ts --write");
  for (const name of [
    "--bootstrap-kubeconfig",
    "--cert-health-period",
    "--public-url",
    "tether_spoke_sync_total",
  ]) {
    t.match(readme, `\`${name}\``, `${name} is documented`);
  }
});

t.test("the README's two commands are what CI and the tests run", async (t) => {
  const quickStart = /## Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
  t.match(quickStart, /^\.\/dev demo\b/m, "the demo command");
  t.match(quickStart, /^\.\/dev test\b/m, "the test command");
  const ci = await readFile(join(repoRoot, ".ci/run"), "utf8");
  t.match(ci, /^exec \.\/dev test$/m, ".ci/run runs exactly ./dev test");
  const demoTest = await readFile(join(repoRoot, "e2e/test/demo.test.ts"), "utf8");
  t.match(
    demoTest,
    /spawn\(join\(repoRoot, "dev"\), \["demo", "--once"\]/,
    "the demo test runs ./dev demo --once",
  );
});
