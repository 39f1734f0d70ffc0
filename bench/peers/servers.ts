/**
 * The services under test, each started on loopback with the bench's PKI and stopped after: the hub
 * (SQLite), step-ca (badger DB, one JWK provisioner), cfssl (with its SQLite cert DB, and without a
 * DB), nginx (a static JSON over mTLS) and the bare node:https references (node-floor.ts). Each writes its log to a file in the work directory, not
 * to a pipe this process would have to drain while it measures; a server that fails to start is
 * reported with the end of its log.
 */
import { readFile, mkdir, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DatabaseSync } from "node:sqlite";
import type { Agent } from "undici";
import { request } from "undici";
import type { ManagedProcess } from "@tether/e2e/harness";
import { freePorts, startProcess } from "@tether/e2e/harness";
import type { BenchPki, CaFiles, ProvisionerKey } from "./pki.ts";

export interface Running {
  name: string;
  pid: number;
  /** The URL the driver calls (for the hub: its public base URL). */
  url: string;
  log: string;
  stop(): Promise<void>;
}

export interface RunningHub extends Running {
  internalUrl: string;
  adminTokenFile: string;
}

const HUB_CLI = fileURLToPath(new URL("../../packages/hub/src/cli.ts", import.meta.url));
const NODE_FLOOR = fileURLToPath(new URL("./node-floor.ts", import.meta.url));

async function tail(file: string, lines = 30): Promise<string> {
  const text = await readFile(file, "utf8").catch(() => "(no log)");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Starts cmd with its output appended to log; `exec` keeps the pid the server's own. */
function spawnLogged(
  name: string,
  cmd: string,
  args: string[],
  log: string,
  env: Record<string, string> = {},
) {
  return startProcess({
    name,
    cmd: "/bin/sh",
    args: ["-c", 'exec "$0" "$@" >>"$PEERS_LOG" 2>&1', cmd, ...args],
    env: { ...env, PEERS_LOG: log },
  });
}

/** Polls ready() until it holds; throws with the server's log when it exits or takes too long. */
async function waitReady(proc: ManagedProcess, log: string, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (await ready().catch(() => false)) return;
    if (!proc.running() || Date.now() > deadline) {
      await proc.stop();
      const why = proc.running() ? "did not get ready within 60 s" : "exited";
      throw new Error(`${proc.name} ${why}; the end of ${log}:\n${await tail(log)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function running(proc: ManagedProcess, url: string, log: string): Running {
  return {
    name: proc.name,
    pid: proc.pid,
    url,
    log,
    stop: async () => {
      await proc.stop();
    },
  };
}

async function httpsOk(agent: Agent, url: string): Promise<boolean> {
  const response = await request(url, { dispatcher: agent });
  await response.body.dump();
  return response.statusCode === 200;
}

async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

const tag = (ca: CaFiles) => (ca.key === "P-256" ? "p256" : "rsa2048");

export async function startHub(
  work: string,
  pki: BenchPki,
  ca: CaFiles,
  logLevel: string,
): Promise<RunningHub> {
  const [port, internal] = await freePorts(2);
  const dataDir = join(work, `hub-${tag(ca)}`);
  const log = join(work, `hub-${tag(ca)}.log`);
  const url = `https://127.0.0.1:${port}`;
  const internalUrl = `http://127.0.0.1:${internal}`;
  const proc = spawnLogged(
    `hub ${ca.key}`,
    process.execPath,
    [
      HUB_CLI,
      "serve",
      ...["--listen", `127.0.0.1:${port}`, "--internal-listen", `127.0.0.1:${internal}`, "--public-url", url],
      ...["--data-dir", dataDir, "--store", "sqlite", "--ca-cert", ca.chain, "--ca-key", ca.caKey],
      ...["--tls-cert", pki.servingCert, "--tls-key", pki.servingKey, "--tls-ca", pki.cas["P-256"].rootCert],
      // The bench sends thousands of token requests from one IP; the limit is for the open internet.
      ...["--rate-limit", "100000000", "--log-level", logLevel],
    ],
    log,
  );
  await waitReady(proc, log, async () => (await fetch(`${internalUrl}/readyz`)).ok);
  return { ...running(proc, url, log), internalUrl, adminTokenFile: join(dataDir, "admin-token") };
}

export async function startStepCa(
  bin: string,
  work: string,
  ca: CaFiles,
  provisioner: ProvisionerKey,
  trust: Agent,
): Promise<Running> {
  const port = await freePort();
  const dir = join(work, `step-ca-${tag(ca)}`);
  await mkdir(dir, { recursive: true });
  const config = {
    root: ca.rootCert,
    crt: ca.cert,
    key: ca.caKey,
    address: `127.0.0.1:${port}`,
    dnsNames: ["127.0.0.1", "localhost"],
    logger: { format: "text" },
    db: { type: "badgerv2", dataSource: join(dir, "db") },
    authority: { provisioners: [{ type: "JWK", name: "bench", key: provisioner.publicJwk }] },
    tls: { minVersion: 1.2, maxVersion: 1.3, renegotiation: false },
  };
  const file = join(dir, "ca.json");
  await writeFile(file, JSON.stringify(config, null, 2));
  const log = join(work, `step-ca-${tag(ca)}.log`);
  const url = `https://127.0.0.1:${port}`;
  const proc = spawnLogged(`step-ca ${ca.key}`, bin, [file], log, { STEPPATH: dir });
  await waitReady(proc, log, () => httpsOk(trust, `${url}/health`));
  return running(proc, `${url}/1.0/sign`, log);
}

/** cfssl's own SQLite schema (certdb/sqlite/migrations 001 and 002 of cfssl v1.6.5). */
const cfsslSchema = `
CREATE TABLE certificates (
  serial_number blob NOT NULL, authority_key_identifier blob NOT NULL, ca_label blob, status blob NOT NULL,
  reason int, expiry timestamp, revoked_at timestamp, pem blob NOT NULL,
  issued_at timestamp, not_before timestamp, metadata text, sans text, common_name text,
  PRIMARY KEY(serial_number, authority_key_identifier));
CREATE TABLE ocsp_responses (
  serial_number blob NOT NULL, authority_key_identifier blob NOT NULL, body blob NOT NULL, expiry timestamp,
  PRIMARY KEY(serial_number, authority_key_identifier),
  FOREIGN KEY(serial_number, authority_key_identifier) REFERENCES certificates(serial_number, authority_key_identifier));
`;

export async function startCfssl(
  bin: string,
  work: string,
  pki: BenchPki,
  ca: CaFiles,
  withDb: boolean,
  trust: Agent,
): Promise<Running> {
  const port = await freePort();
  const name = `cfssl${withDb ? "-db" : ""}-${tag(ca)}`;
  const dir = join(work, name);
  await mkdir(dir, { recursive: true });
  const config = join(dir, "config.json");
  await writeFile(
    config,
    JSON.stringify({
      signing: {
        default: { expiry: "720h", usages: ["digital signature", "key encipherment", "client auth"] },
      },
    }),
  );
  const args = [
    "serve",
    ...[
      "-address",
      "127.0.0.1",
      "-port",
      String(port),
      "-ca",
      ca.cert,
      "-ca-key",
      ca.caKey,
      "-config",
      config,
    ],
    ...["-tls-cert", pki.servingCert, "-tls-key", pki.servingKey],
  ];
  if (withDb) {
    const db = join(dir, "certs.db");
    const sqlite = new DatabaseSync(db);
    sqlite.exec(cfsslSchema);
    sqlite.close();
    const dbConfig = join(dir, "db.json");
    await writeFile(dbConfig, JSON.stringify({ driver: "sqlite3", data_source: db }));
    args.push("-db-config", dbConfig);
  }
  const log = join(work, `${name}.log`);
  const url = `https://127.0.0.1:${port}/api/v1/cfssl`;
  const proc = spawnLogged(name, bin, args, log);
  await waitReady(proc, log, () => httpsOk(trust, `${url}/health`));
  return running(proc, `${url}/sign`, log);
}

/**
 * nginx serving body as a static file over mTLS: TLS 1.3, the client certificate required and
 * verified against clientCa, no access log (the floor: the least a server can do for the request).
 */
export async function startNginx(
  bin: string,
  work: string,
  pki: BenchPki,
  clientCa: string,
  body: string,
): Promise<Running> {
  const port = await freePort();
  const dir = join(work, "nginx");
  await mkdir(join(dir, "html"), { recursive: true });
  await mkdir(join(dir, "temp"), { recursive: true });
  await writeFile(join(dir, "html", "info.json"), body);
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((kind) => `  ${kind}_temp_path ${join(dir, "temp", kind)};`)
    .join("\n");
  const conf = join(dir, "nginx.conf");
  await writeFile(
    conf,
    `# Written by bench/peers/servers.ts.
${process.getuid?.() === 0 ? "user root;" : ""}
worker_processes auto;
daemon off;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 4096; }
http {
  access_log off;
${temp}
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate ${pki.servingCert};
    ssl_certificate_key ${pki.servingKey};
    ssl_client_certificate ${clientCa};
    ssl_verify_client on;
    ssl_verify_depth 2;
    location = /info {
      default_type application/json;
      alias ${join(dir, "html", "info.json")};
    }
  }
}
`,
  );
  const log = join(work, "nginx.log");
  const proc = spawnLogged("nginx", bin, ["-c", conf, "-p", dir, "-e", join(dir, "error.log")], log);
  await waitReady(
    proc,
    log,
    () =>
      new Promise<boolean>((resolve) => {
        const socket = connect(port, "127.0.0.1");
        socket.once("connect", () => (socket.destroy(), resolve(true)));
        socket.once("error", () => resolve(false));
      }),
  );
  return running(proc, `https://127.0.0.1:${port}/info`, log);
}

export type NodeFloor =
  | { kind: "json"; workers: number; clientCa: string; body: string }
  | { kind: "csr"; workers: number; ca: CaFiles };

/** node-floor.ts: the bare node:https reference, with the serving certificate the hub presents. */
export async function startNodeFloor(work: string, pki: BenchPki, floor: NodeFloor): Promise<Running> {
  const port = await freePort();
  const name = `node-${floor.kind}${floor.kind === "csr" ? `-${tag(floor.ca)}` : ""}-x${floor.workers}`;
  const args = [
    ...[NODE_FLOOR, "--kind", floor.kind, "--port", String(port), "--workers", String(floor.workers)],
    ...["--cert", pki.servingCert, "--key", pki.servingKey],
  ];
  if (floor.kind === "json") {
    const body = join(work, `${name}.json`);
    await writeFile(body, floor.body);
    args.push("--client-ca", floor.clientCa, "--body", body);
  } else args.push("--ca-cert", floor.ca.chain, "--ca-key", floor.ca.caKey);
  const log = join(work, `${name}.log`);
  const proc = spawnLogged(name, process.execPath, args, log);
  await waitReady(proc, log, async () => (await readFile(log, "utf8")).includes("ready"));
  const url = `https://127.0.0.1:${port}`;
  return running(proc, floor.kind === "json" ? `${url}/info` : `${url}/certificates`, log);
}
