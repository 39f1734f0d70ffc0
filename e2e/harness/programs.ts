/**
 * Which program a test starts. The unit tests run the TypeScript sources; the e2e scenarios that
 * stand for a deployment (journey, bootstrap, the chart's hub, the demo) run the bundles that the
 * images ship (scripts/bundle.ts), built on first use and whenever a source is newer.
 */
import { join } from "node:path";
import { ensureBundle, programs } from "../../scripts/bundle.ts";
import type { Program } from "../../scripts/bundle.ts";
import { repoRoot } from "./paths.ts";

export type { Program };

/** "bundle": dist/tether-<program>.mjs as shipped; "sources": packages/<program>/src/cli.ts. */
export type ProgramBuild = "bundle" | "sources";

/** The file to hand to `node` to run `tether-hub` or `tether-spoke`. */
export async function programPath(program: Program, build: ProgramBuild = "bundle"): Promise<string> {
  if (build === "sources") return join(repoRoot, `packages/${program}/src/cli.ts`);
  excludeBundlesFromCoverage();
  return ensureBundle(program);
}

/**
 * tap's coverage exclusion, which every process started from this one reads when it starts (tap's
 * processinfo loader runs in each of them): tap sets it to the project's node_modules.
 */
const coverageExclude = "_TAPJS_PROCESSINFO_COV_EXCLUDE_";

/**
 * Coverage measures the sources. A bundle is the shipped artefact, run to test it; its source map
 * would attribute its coverage to node_modules and pull the coverage table under the thresholds of
 * .taprc. Every bundle's path comes from here, so from here on no process this one starts records
 * coverage for a bundle, however it is started (startProcess, execFile, through ./dev) and wherever
 * the bundle lies (dist/, or an image's copy in a temporary directory).
 */
function excludeBundlesFromCoverage(): void {
  const current = process.env[coverageExclude];
  const bundle = `[\\\\/]tether-(${programs.join("|")})\\.mjs$`;
  // Outside tap (./dev demo, ./dev fuzz) nothing records coverage; a child of a test inherits it done.
  if (current === undefined || current.endsWith(`${bundle}/`)) return;
  const tapOwn = /^\/(.*)\/[a-z]*$/.exec(current)?.[1];
  process.env[coverageExclude] = `/${tapOwn === undefined ? "" : `(?:${tapOwn})|`}${bundle}/`;
}
