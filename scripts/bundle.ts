/**
 * The build of what ships: each program (packages/hub/src/cli.ts, packages/spoke/src/cli.ts) as one
 * minified ES module of plain JavaScript, with its source map (.map) and the licence notices of what
 * it bundles (.LEGAL.txt) beside it, in dist/ (git-ignored). Node then runs no TypeScript stripper
 * and loads only the code the program reaches; docs/footprint.md has the measurements.
 *
 *   node scripts/bundle.ts [hub|spoke]...   build (all when none is named), always
 *   dist/tether-<program>.mjs.meta.json     esbuild's metafile: the bytes each input adds
 *   ensureBundle("spoke")                   the path of dist/tether-spoke.mjs, built first when it is
 *                                           missing or older than a source, a lockfile or this file
 */
import type { Plugin } from "esbuild";
import { mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export type Program = "hub" | "spoke";

export const programs: readonly Program[] = ["hub", "spoke"];

const root = fileURLToPath(new URL("../", import.meta.url));
export const distDir = join(root, "dist");

/** The file a program ships as; its source map is the same path + ".map". */
export function bundlePath(program: Program): string {
  return join(distDir, `tether-${program}.mjs`);
}

/** What a program's bundle is built from: a change to any of these makes it stale. */
const inputs = (program: Program) => [
  "packages/shared/src",
  "packages/shared/package.json",
  `packages/${program}/src`,
  `packages/${program}/package.json`,
  "pnpm-lock.yaml",
  "scripts/bundle.ts",
];

export async function buildBundle(program: Program): Promise<string> {
  const { build } = await import("esbuild");
  const target = bundlePath(program);
  // Concurrent builds (test files run in parallel) each write their own directory and then rename
  // into place, so no reader ever sees half a bundle.
  const scratch = join(distDir, `.build-${program}-${process.pid}`);
  await mkdir(scratch, { recursive: true });
  try {
    const outfile = join(scratch, `tether-${program}.mjs`);
    const result = await build({
      entryPoints: [join(root, `packages/${program}/src/cli.ts`)],
      outfile,
      bundle: true,
      platform: "node",
      format: "esm",
      target: "node24",
      minify: true,
      sourcemap: "linked",
      // Relative to the bundle, so that the map still points at the sources after a copy.
      sourceRoot: relative(distDir, root),
      legalComments: "linked",
      // pg's optional native binding is never installed; everything else is inside the bundle.
      external: ["pg-native"],
      // Bundled CommonJS (pino, pg, fastify) calls require() for Node's built-ins.
      banner: {
        js: 'import { createRequire as __tetherRequire } from "node:module"; const require = __tetherRequire(import.meta.url);',
      },
      plugins:
        program === "spoke"
          ? [generatedCodeIsPure, httpThroughRequire, noUndici]
          : [generatedCodeIsPure, httpThroughRequire],
      metafile: true,
      logLevel: "warning",
    });
    // What went into the bundle, by input file: `npx esbuild --analyze` reads it, or any JSON tool.
    await writeFile(`${outfile}.meta.json`, JSON.stringify(result.metafile));
    for (const file of await readdir(scratch)) await rename(join(scratch, file), join(distDir, file));
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return target;
}

/**
 * @kubernetes/client-node's package.json does not say that its modules are free of side effects,
 * so esbuild keeps every module that an `export *` chain reaches: its model classes (all of them,
 * through the serializer's type map) come along with KubeConfig although the spoke never calls the
 * generated APIs (~8 MiB at idle, docs/footprint.md). They are side-effect free but for
 * polyfill.js, so the bundle says so for them and keeps only what the spoke uses.
 */
const generatedCodeIsPure: Plugin = {
  name: "client-node-side-effect-free",
  setup(build) {
    build.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === generatedCodeIsPure) return undefined;
      if (
        !args.importer.includes("/@kubernetes/client-node/") &&
        !args.path.startsWith("@kubernetes/client-node")
      )
        return undefined;
      const resolved = await build.resolve(args.path, {
        kind: args.kind,
        importer: args.importer,
        resolveDir: args.resolveDir,
        pluginData: generatedCodeIsPure,
      });
      const own =
        resolved.path.includes("/@kubernetes/client-node/dist/") && !resolved.path.endsWith("/polyfill.js");
      return own ? { ...resolved, sideEffects: false } : resolved;
    });
  },
};

/**
 * An ES module `import ... from "node:http"` makes Node build the module's ESM facade, which reads
 * every export, and `http.WebSocket` & co. are getters that load Node's own copy of undici (~0.7 MB
 * of source, and a second llhttp WebAssembly compiled): client-node's Watch imports node:http so.
 * `require("node:http")` reads nothing, so ES imports of it go through require (CommonJS interop).
 */
const httpThroughRequire: Plugin = {
  name: "node-http-through-require",
  setup(build) {
    build.onResolve({ filter: /^(node:)?http$/ }, (args) =>
      args.kind === "import-statement" ? { path: "node:http", namespace: "require-builtin" } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "require-builtin" }, (args) => ({
      contents: `module.exports = require(${JSON.stringify(args.path)});`,
      loader: "js",
    }));
  },
};

/**
 * The spoke talks to the API server on Node's https (packages/spoke/src/kube/transport.ts) and uses
 * client-node's KubeConfig, whose module imports undici for `applySecurityAuthentication`, a method
 * the spoke never calls. undici is ~0.7 MB of minified JavaScript, which Node would load at start
 * and keep (docs/footprint.md), so the spoke's bundle gives client-node a stand-in that fails
 * loudly if it is ever used; the e2e runs of the bundle would show it.
 */
const noUndici: Plugin = {
  name: "client-node-without-undici",
  setup(build) {
    build.onResolve({ filter: /^undici$/ }, (args) =>
      args.importer.includes("/@kubernetes/client-node/")
        ? { path: "undici", namespace: "no-undici" }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "no-undici" }, () => ({
      contents: `
        const absent = (name) => { throw new Error("tether-spoke is built without undici, and client-node's " + name + " needs it (scripts/bundle.ts)"); };
        export class Agent { constructor() { absent("Agent"); } }
        export class ProxyAgent { constructor() { absent("ProxyAgent"); } }
        export function fetch() { return Promise.reject(absent("fetch")); }`,
      loader: "js",
    }));
  },
};

/** The bundle of a program, built first (with a line on stderr saying so) when it is stale. */
export async function ensureBundle(program: Program): Promise<string> {
  const target = bundlePath(program);
  const built = await modifiedAt(target);
  const newest = Math.max(
    ...(await Promise.all(inputs(program).map((input) => newestIn(join(root, input))))),
  );
  if (built !== undefined && built >= newest) return target;
  const started = Date.now();
  process.stderr.write(
    `[bundle] building ${relative(root, target)} (${built === undefined ? "missing" : "sources changed"})\n`,
  );
  await buildBundle(program);
  process.stderr.write(`[bundle] built ${relative(root, target)} in ${Date.now() - started} ms\n`);
  return target;
}

async function modifiedAt(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}

async function newestIn(path: string): Promise<number> {
  const info = await stat(path);
  if (!info.isDirectory()) return info.mtimeMs;
  const entries = await readdir(path, { withFileTypes: true, recursive: true });
  const times = await Promise.all(
    entries
      .filter((entry) => entry.isFile())
      .map(async (entry) => (await stat(join(entry.parentPath, entry.name))).mtimeMs),
  );
  return Math.max(info.mtimeMs, ...times);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((name) => !programs.includes(name as Program));
  if (unknown.length > 0) {
    console.error(`usage: node scripts/bundle.ts [${programs.join("|")}]...`);
    process.exit(2);
  }
  for (const program of wanted.length > 0 ? (wanted as Program[]) : programs) {
    const started = Date.now();
    const target = await buildBundle(program);
    const { size } = await stat(target);
    console.log(`${relative(root, target)}  ${(size / 1024).toFixed(0)} KiB  ${Date.now() - started} ms`);
  }
}
