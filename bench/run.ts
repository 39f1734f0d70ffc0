/**
 * `node bench/run.ts <name>... [--option...]` runs bench/<name>.ts in turn (all of them when no name
 * is given); the options are left in process.argv for the benchmarks to read.
 * Each benchmark prints its own figures beside a reference measured in the same run.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const available = readdirSync(here)
  .filter((file) => file.endsWith(".ts") && file !== "run.ts")
  .map((file) => file.slice(0, -3));
// Runs that take many minutes (and cache credentials outside the repo) run only when named.
const namedOnly = ["fleet"];
// Names come first; what follows the first option (e.g. `footprint --quick`) is the benchmarks' own.
const firstOption = process.argv.slice(2).findIndex((arg) => arg.startsWith("-"));
const wanted = process.argv.slice(2, firstOption < 0 ? undefined : 2 + firstOption);
const unknown = wanted.filter((name) => !available.includes(name));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; available: ${available.join(", ")}`);
  process.exit(2);
}
for (const name of wanted.length > 0 ? wanted : available.filter((name) => !namedOnly.includes(name))) {
  console.log(`== ${name}`);
  await import(pathToFileURL(join(here, `${name}.ts`)).href);
}
