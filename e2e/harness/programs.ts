/**
 * Which program a test starts. The unit tests run the TypeScript sources; the e2e scenarios that
 * stand for a deployment (journey, bootstrap, the chart's hub, the demo) run the bundles that the
 * images ship (scripts/bundle.ts), built on first use and whenever a source is newer.
 */
import { join } from "node:path";
import { ensureBundle } from "../../scripts/bundle.ts";
import type { Program } from "../../scripts/bundle.ts";
import { repoRoot } from "./paths.ts";

export type { Program };

/** "bundle": dist/tether-<program>.mjs as shipped; "sources": packages/<program>/src/cli.ts. */
export type ProgramBuild = "bundle" | "sources";

/** The file to hand to `node` to run `tether-hub` or `tether-spoke`. */
export async function programPath(program: Program, build: ProgramBuild = "bundle"): Promise<string> {
  if (build === "sources") return join(repoRoot, `packages/${program}/src/cli.ts`);
  return ensureBundle(program);
}
