/**
 * The hubs a fleet run talks to, as `tether-hub serve` child processes: one on SQLite, or replicas
 * sharing one PostgreSQL database and one CA. Their data dirs persist under the fleet cache
 * (~/.cache/tether/fleet/<store>/), because the cached credentials (credentials.ts) are only good
 * against the CA and the store that issued them.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../../packages/hub/src/cli.ts", import.meta.url));
const POSTGRES_SCRIPT = fileURLToPath(new URL("../../e2e/scripts/ensure-postgres.sh", import.meta.url));
/**
 * 100k keep-alive connections need 100k descriptors in the hub and in the simulator: the soft limit is
 * raised to the hard one (raising the hard one needs CAP_SYS_RESOURCE, which a container may lack).
 */
export const FILE_LIMIT = Math.min(
  1_048_576,
  Number(execFileSync("sh", ["-c", "ulimit -Hn"], { encoding: "utf8" })) || 1024,
);

export const FLEET_CACHE = process.env.TETHER_FLEET_CACHE ?? join(homedir(), ".cache", "tether", "fleet");

export interface HubProcess {
  child: ChildProcess;
  pid: number;
  host: string;
  port: number;
  internalUrl: string;
  stop(): Promise<void>;
}

export interface FleetHubs {
  store: "sqlite" | "postgres";
  replicas: HubProcess[];
  caPem: string;
  adminToken: string;
  /** Where this CA's and this store's credentials are cached. */
  credentialDir: string;
  stop(): Promise<void>;
}

export interface HubTuning {
  /** The hub's --keep-alive-timeout: a kept connection must outlive one sync period. */
  keepAliveTimeout: string;
  /** Extra `serve` flags, e.g. what another branch adds. */
  flags: string[];
}

/** Lets this process hold as many sockets as the fleet needs (root, or CAP_SYS_RESOURCE). */
export function raiseOwnFileLimit(): void {
  try {
    execFileSync("prlimit", ["--pid", String(process.pid), `--nofile=${FILE_LIMIT}:${FILE_LIMIT}`]);
    console.log(`open files: ${FILE_LIMIT} for the simulator and each hub (ulimit -Hn)`);
  } catch {
    console.log(
      "note: could not raise this process's open-file limit (prlimit); keep-alive is capped by ulimit -n",
    );
  }
}

async function startHub(
  dataDir: string,
  flags: string[],
  tuning: HubTuning,
  env: Record<string, string> = {},
): Promise<HubProcess> {
  mkdirSync(dataDir, { recursive: true });
  const args = [
    `--nofile=${FILE_LIMIT}:${FILE_LIMIT}`,
    process.execPath,
    CLI,
    "serve",
    "--data-dir",
    dataDir,
    "--listen",
    "127.0.0.1:0",
    "--internal-listen",
    "127.0.0.1:0",
    "--key-algorithm",
    "ecdsa-p256",
    "--cert-validity",
    "90d",
    "--keep-alive-timeout",
    tuning.keepAliveTimeout,
    ...flags,
    ...tuning.flags,
  ];
  const child = spawn("prlimit", args, {
    env: {
      ...process.env,
      TETHER_HUB_LOG_LEVEL: "warn",
      TETHER_HUB_RATE_LIMIT: "100000000",
      TETHER_HUB_RENEWAL_LIMIT: "1000000",
      TETHER_HUB_MAX_CONNECTIONS: String(FILE_LIMIT),
      ...env,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let output = "";
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    // Warnings after start-up (e.g. a store error) are what a failing run needs to show.
    if (output.includes("tether hub ready") && /"level":(40|50|60)/.test(chunk.toString())) {
      process.stderr.write(`[hub ${child.pid}] ${chunk.toString()}`);
    }
  });
  const deadline = Date.now() + 60_000;
  while (!output.includes("tether hub ready")) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`hub did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const external = new URL(/runtime API \(TLS\):\s+(\S+)/.exec(output)![1]!);
  return {
    child,
    pid: child.pid!,
    host: external.hostname,
    port: Number(external.port),
    internalUrl: /internal API:\s+(\S+)/.exec(output)![1]!,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      // A hub draining thousands of connections on a starved machine may take long; the run goes on.
      const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/**
 * One bench at a time per cache: two hubs on one SQLite file would wait on each other's locks and
 * both measure that. The lock is this process's pid; a lock left by a process that is gone is taken over.
 */
function lockCache(root: string): void {
  mkdirSync(root, { recursive: true });
  const lock = join(root, "lock");
  try {
    const holder = Number(readFileSync(lock, "utf8"));
    if (holder !== process.pid && existsSync(`/proc/${holder}`)) {
      throw new Error(`${root} is in use by another fleet bench (pid ${holder}); wait for it or stop it`);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  writeFileSync(lock, String(process.pid));
}

const caSha256 = (pem: string) => new X509Certificate(pem).fingerprint256.replaceAll(":", "").toLowerCase();

/** One hub on SQLite, its data dir kept under `root` (the fleet cache; a test passes a temporary one). */
export async function sqliteHub(tuning: HubTuning, root = join(FLEET_CACHE, "sqlite")): Promise<FleetHubs> {
  lockCache(root);
  const dataDir = join(root, "hub");
  const hub = await startHub(dataDir, [], tuning);
  const caPem = readFileSync(join(dataDir, "ca.crt"), "utf8");
  return {
    store: "sqlite",
    replicas: [hub],
    caPem,
    adminToken: readFileSync(join(dataDir, "admin-token"), "utf8").trim(),
    credentialDir: join(root, caSha256(caPem)),
    stop: () => hub.stop(),
  };
}

/**
 * `replicas` hubs on one PostgreSQL database (`tether_fleet`, kept between runs), the first one's CA
 * and admin token shared by all, as a Deployment with a CA Secret runs them.
 */
export async function postgresHubs(replicas: number, tuning: HubTuning): Promise<FleetHubs> {
  const testUrl = execFileSync("bash", [POSTGRES_SCRIPT], { encoding: "utf8" }).trim();
  const url = new URL(testUrl);
  url.pathname = "/tether_fleet";
  const exists = execFileSync(
    "psql",
    [testUrl, "-tAc", "SELECT 1 FROM pg_database WHERE datname = 'tether_fleet'"],
    {
      encoding: "utf8",
    },
  ).trim();
  if (exists !== "1") execFileSync("psql", [testUrl, "-tAc", "CREATE DATABASE tether_fleet"]);
  const root = join(FLEET_CACHE, "postgres");
  lockCache(root);
  const first = await startHub(join(root, "hub-0"), ["--store", url.toString()], tuning);
  const caPem = readFileSync(join(root, "hub-0", "ca.crt"), "utf8");
  const adminToken = readFileSync(join(root, "hub-0", "admin-token"), "utf8").trim();
  const shared = [
    "--store",
    url.toString(),
    "--ca-cert",
    join(root, "hub-0", "ca.crt"),
    "--ca-key",
    join(root, "hub-0", "ca.key"),
  ];
  // The token through the environment: a command line is visible to every user of the machine.
  const others = await Promise.all(
    Array.from({ length: replicas - 1 }, (_, i) =>
      startHub(join(root, `hub-${i + 1}`), shared, tuning, { TETHER_HUB_ADMIN_TOKEN: adminToken }),
    ),
  );
  const all = [first, ...others];
  return {
    store: "postgres",
    replicas: all,
    caPem,
    adminToken,
    credentialDir: join(root, caSha256(caPem)),
    stop: async () => {
      await Promise.all(all.map((hub) => hub.stop()));
    },
  };
}
