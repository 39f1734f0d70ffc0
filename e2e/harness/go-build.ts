/**
 * The small standard-library Go programs the tests and benches run (e2e/go-client, the PKI tests'
 * go-verify, the bench's load driver), each built once per source and Go version with the machine's
 * Go into ~/.cache/tether/<cache>/<name>-<hash>. GOPROXY=off: they download nothing.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface GoProgram {
  /** The directory with its go.mod. */
  source: string;
  /** The binary's name, before the hash. */
  name: string;
  /** The directory under ~/.cache/tether. */
  cache: string;
}

/** The binary's path, built first when this source and Go version have none yet. */
export async function buildGoProgram({ source, name, cache }: GoProgram): Promise<string> {
  const env = { ...process.env, GOTOOLCHAIN: "local", GOPROXY: "off", GOFLAGS: "-mod=mod", CGO_ENABLED: "0" };
  const { stdout: version } = await run("go", ["version"], { env }).catch((error: Error) => {
    throw new Error(`${name} is built with Go, which did not run: ${error.message}`);
  });
  const hash = createHash("sha256").update(version);
  const files = readdirSync(source)
    .filter((file) => file === "go.mod" || (file.endsWith(".go") && !file.endsWith("_test.go")))
    .sort();
  for (const file of files) hash.update(file).update(readFileSync(join(source, file)));
  const dir = join(homedir(), ".cache/tether", cache);
  const binary = join(dir, `${name}-${hash.digest("hex").slice(0, 16)}`);
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  // Built beside its final name and renamed: a concurrent run never starts a half-written binary.
  const partial = `${binary}.${process.pid}`;
  await run("go", ["build", "-trimpath", "-o", partial, "."], { cwd: source, env }).catch(
    (error: Error & { stderr?: string }) => {
      throw new Error(`building ${name} failed: ${error.stderr ?? error.message}`);
    },
  );
  renameSync(partial, binary);
  return binary;
}
