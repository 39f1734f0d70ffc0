/**
 * What the bench runs besides the servers' sources: the peers (scripts/ensure-peers.sh builds or
 * installs them, cached in ~/.cache/tether/peers) and the Go load driver (bench/peers/driver, built
 * with the machine's Go into the same cache, keyed by its sources and the Go version).
 */
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { DriverReport } from "./table.ts";

const run = promisify(execFile);
const driverSource = fileURLToPath(new URL("./driver/", import.meta.url));
const ensureScript = fileURLToPath(new URL("../../scripts/ensure-peers.sh", import.meta.url));

export type Peer = "step-ca" | "cfssl" | "nginx";

export interface Peers {
  stepCa: string;
  cfssl: string;
  nginx: string;
}

/** Runs scripts/ensure-peers.sh with its progress on our stderr; the paths come back on stdout. */
export function ensurePeers(names: Peer[]): Promise<Peers> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [ensureScript, ...names], { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0)
        return reject(new Error(`scripts/ensure-peers.sh failed (exit ${code}); see its output above`));
      const path = (name: string) => new RegExp(`^${name}=(.+)$`, "m").exec(stdout)?.[1] ?? "";
      resolve({ stepCa: path("STEP_CA_BIN"), cfssl: path("CFSSL_BIN"), nginx: path("NGINX_BIN") });
    });
  });
}

/** Builds the driver once per source and Go version; the standard library only, so no downloads. */
export async function buildDriver(): Promise<string> {
  const env = { ...process.env, GOTOOLCHAIN: "local", GOPROXY: "off", GOFLAGS: "-mod=mod", CGO_ENABLED: "0" };
  const { stdout: version } = await run("go", ["version"], { env }).catch((error: Error) => {
    throw new Error(`the load driver is built with Go, which did not run: ${error.message}`);
  });
  const hash = createHash("sha256").update(version);
  const files = readdirSync(driverSource)
    .filter((file) => file === "go.mod" || (file.endsWith(".go") && !file.endsWith("_test.go")))
    .sort();
  for (const file of files) hash.update(file).update(readFileSync(join(driverSource, file)));
  const dir = join(homedir(), ".cache/tether/peers");
  const binary = join(dir, `driver-${hash.digest("hex").slice(0, 16)}`);
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const partial = `${binary}.${process.pid}`;
  await run("go", ["build", "-trimpath", "-o", partial, "."], { cwd: driverSource, env }).catch(
    (error: Error & { stderr?: string }) => {
      throw new Error(`building the load driver failed: ${error.stderr ?? error.message}`);
    },
  );
  renameSync(partial, binary);
  return binary;
}

/** One driver run; its JSON report, or an error with what the driver said. */
export async function runDriver(binary: string, args: string[]): Promise<DriverReport> {
  try {
    const { stdout } = await run(binary, args, { maxBuffer: 1 << 20 });
    return JSON.parse(stdout) as DriverReport;
  } catch (error) {
    const { stderr, message } = error as Error & { stderr?: string };
    throw new Error(`load driver ${args.slice(0, 2).join(" ")}: ${stderr?.trim() || message}`, {
      cause: error,
    });
  }
}
