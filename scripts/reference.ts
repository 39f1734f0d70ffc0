/**
 * The README's configuration and metrics reference, made from the flag tables and the metric
 * registries themselves, so that the documentation cannot drift from the code:
 *   node scripts/reference.ts          prints whether README.md is up to date (exit 1 if not)
 *   node scripts/reference.ts --write  rewrites the part between the markers
 * e2e/test/readme.test.ts runs the check inside the test command.
 */
import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { format, resolveConfig } from "prettier";
import { flagTable as hubFlags } from "../packages/hub/src/config.ts";
import { HubMetrics } from "../packages/hub/src/metrics.ts";
import { flagTable as spokeFlags } from "../packages/spoke/src/config.ts";
import { createSpokeMetrics } from "../packages/spoke/src/health/metrics.ts";

export const readmePath = fileURLToPath(new URL("../README.md", import.meta.url));
const start = "<!-- reference:start (made by scripts/reference.ts --write; do not edit by hand) -->";
const end = "<!-- reference:end -->";

/** prom-client's Registry, named through a package that depends on prom-client. */
type Registry = HubMetrics["registry"];

type Row = { flag: string; env: string; default?: string; help: string };

function flagRows(rows: Row[]): string {
  const cell = (text: string) => text.replaceAll("|", "\\|").replaceAll("<", "\\<");
  return [
    "| flag | environment | default | what |",
    "| --- | --- | --- | --- |",
    ...rows.map(
      (r) =>
        `| \`${r.flag}\` | \`${r.env}\` | ${r.default === undefined ? "" : `\`${r.default}\``} | ${cell(r.help)} |`,
    ),
  ].join("\n");
}

async function metricRows(registry: Registry): Promise<string> {
  const metrics = await registry.getMetricsAsJSON();
  return [
    "| metric | type | labels | what |",
    "| --- | --- | --- | --- |",
    ...metrics.map((m) => {
      const labels =
        (registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] }).labelNames ?? [];
      return `| \`${m.name}\` | ${m.type} | ${labels.map((l) => `\`${l}\``).join(", ")} | ${m.help} |`;
    }),
  ].join("\n");
}

export async function renderReference(): Promise<string> {
  return [
    start,
    "",
    "### `tether-hub serve`",
    "",
    flagRows(hubFlags()),
    "",
    "### `tether-spoke run`",
    "",
    flagRows(spokeFlags()),
    "",
    "### Metrics",
    "",
    "The hub serves them on the internal listener (`GET /metrics`, admin token), the spoke on `--metrics-addr`. Both add the standard `process_*` and `nodejs_*` metrics.",
    "",
    await metricRows(new HubMetrics().registry),
    "",
    await metricRows(createSpokeMetrics().registry),
    "",
    end,
  ].join("\n");
}

/** README.md as it should read: the reference replaced, formatted as `prettier --check` wants it. */
export async function expectedReadme(current: string): Promise<string> {
  const from = current.indexOf(start);
  const to = current.indexOf(end);
  if (from === -1 || to < from) throw new Error(`README.md lacks the markers ${start} ... ${end}`);
  const next = current.slice(0, from) + (await renderReference()) + current.slice(to + end.length);
  return format(next, { ...(await resolveConfig(readmePath)), filepath: readmePath });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const current = await readFile(readmePath, "utf8");
  const expected = await expectedReadme(current);
  if (process.argv.includes("--write")) {
    await writeFile(readmePath, expected);
    console.log("README.md: reference written");
  } else if (current !== expected) {
    console.error("README.md: the reference is out of date; run: ./dev node scripts/reference.ts --write");
    process.exit(1);
  } else {
    console.log("README.md: reference up to date");
  }
}
