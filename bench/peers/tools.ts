/**
 * What the bench runs besides the servers' sources: the peers (scripts/ensure-peers.sh builds or
 * installs them, cached in ~/.cache/tether/peers) and the Go load driver (bench/peers/driver, built
 * with the machine's Go into the same cache, keyed by its sources and the Go version).
 */
import { execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { buildGoProgram } from "@tether/e2e/harness";
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

/** The driver's binary, built once per source and Go version (the standard library only). */
export function buildDriver(): Promise<string> {
  return buildGoProgram({ source: driverSource, name: "driver", cache: "peers" });
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
