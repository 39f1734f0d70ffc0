/**
 * `--workers N` (docs/hub.md#worker-processes): the primary prepares the data directory and the
 * store once (migrations, CA, admin token), then forks N hub processes that share both listeners
 * (node:cluster hands each new connection to one of them) and the store. What the processes must
 * agree on comes from the primary: the TLS session-ticket key, so that a client resumes its session
 * on whichever process takes its next connection, and the metrics, which the primary adds up from
 * every process (prom-client's AggregatorRegistry) when one of them serves /metrics.
 */
import cluster, { type Worker } from "node:cluster";
import { randomBytes } from "node:crypto";
import type { Logger } from "pino";
import { AggregatorRegistry, type Registry } from "prom-client";
import { systemClock } from "@tether/shared/time";
import { loadKeyring } from "./ca/keyring.ts";
import type { HubConfig } from "./config.ts";
import { openStore } from "./store/open.ts";
import { ensureAdminToken } from "./tokens/admin-token.ts";

/** Where a worker's hub listens, as the primary reports it once. */
export interface WorkerReady {
  externalUrl: string;
  internalUrl: string;
  publicUrl: string;
  caCertPath: string;
  adminTokenFile: string | undefined;
}

type Message =
  | { type: "tether:ticket-keys"; keys: string }
  | ({ type: "tether:ready" } & WorkerReady)
  | { type: "tether:metrics"; id: number }
  | { type: "tether:metrics-reply"; id: number; text?: string; error?: string };

const isMessage = (value: unknown): value is Message =>
  typeof value === "object" &&
  value !== null &&
  String((value as { type?: unknown }).type).startsWith("tether:");

export const isHubWorker = (): boolean => cluster.isWorker;

/**
 * The primary: prepares, forks `config.workers` processes, replaces one that dies after it was
 * ready, and stops them all on SIGTERM/SIGINT. Resolves with the first worker's addresses once
 * every worker listens; rejects when a worker dies before it was ready (a port in use, a bad flag).
 */
export async function runPrimary(config: HubConfig, logger: Logger): Promise<WorkerReady> {
  const store = await openStore({
    url: config.store === "sqlite" ? undefined : config.store,
    dataDir: config.dataDir,
  });
  try {
    await loadKeyring({ ...config, clock: systemClock });
    await ensureAdminToken({
      store,
      clock: systemClock,
      dataDir: config.dataDir,
      explicit: config.adminToken,
    });
  } finally {
    await store.close();
  }

  // TLS 1.3 session tickets are encrypted with this key in every process; it lives in memory only.
  const ticketKeys = randomBytes(48).toString("base64");
  const aggregator = new AggregatorRegistry();
  let stopping = false;
  let readyCount = 0;
  let first: WorkerReady | undefined;
  let resolve: (ready: WorkerReady) => void = () => undefined;
  let reject: (error: Error) => void = () => undefined;
  const allReady = new Promise<WorkerReady>((yes, no) => ([resolve, reject] = [yes, no]));

  const fork = (): Worker => {
    const worker = cluster.fork();
    let ready = false;
    worker.on("message", (message: unknown) => {
      if (!isMessage(message)) return;
      if (message.type === "tether:ready") {
        ready = true;
        first ??= message;
        if (++readyCount === config.workers) resolve(first);
      } else if (message.type === "tether:metrics") {
        aggregator.clusterMetrics().then(
          (text) => worker.send({ type: "tether:metrics-reply", id: message.id, text } satisfies Message),
          (error: unknown) =>
            worker.send({
              type: "tether:metrics-reply",
              id: message.id,
              error: (error as Error).message,
            } satisfies Message),
        );
      }
    });
    worker.once("online", () =>
      worker.send({ type: "tether:ticket-keys", keys: ticketKeys } satisfies Message),
    );
    worker.once("exit", (code, signal) => {
      if (stopping) return;
      if (!ready) {
        reject(new Error(`a hub worker exited before it was ready (code ${code}, signal ${signal})`));
        return;
      }
      logger.error({ pid: worker.process.pid, code, signal }, "hub worker died; starting another");
      fork();
    });
    return worker;
  };
  for (let i = 0; i < config.workers; i++) fork();

  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    logger.info({ signal }, "shutting down: stopping the hub workers");
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
    process.once(signal, () => process.exit(1));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  cluster.on("exit", () => {
    if (stopping && Object.keys(cluster.workers ?? {}).length === 0) process.exitCode ??= 0;
  });
  try {
    return await allReady;
  } catch (error) {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
    throw error;
  }
}

/** A worker waits for what the primary shares before it builds its hub. */
export async function workerTicketKeys(): Promise<Buffer> {
  return new Promise((resolve) => {
    const onMessage = (message: unknown) => {
      if (!isMessage(message) || message.type !== "tether:ticket-keys") return;
      process.off("message", onMessage);
      resolve(Buffer.from(message.keys, "base64"));
    };
    process.on("message", onMessage);
  });
}

export function reportReady(hub: WorkerReady): void {
  const { externalUrl, internalUrl, publicUrl, caCertPath, adminTokenFile } = hub;
  const ready = { externalUrl, internalUrl, publicUrl, caCertPath, adminTokenFile };
  process.send?.({ type: "tether:ready", ...ready } satisfies Message);
}

/**
 * A worker's configuration: the rate limit is counted in each process, so each takes its share and
 * the hub as a whole never lets more through than --rate-limit.
 */
export function workerConfig(config: HubConfig): HubConfig {
  const max = Math.max(1, Math.floor(config.rateLimit.max / config.workers));
  return { ...config, rateLimit: { ...config.rateLimit, max } };
}

/**
 * The worker's side of /metrics: its registry answers the primary's collection, and a scrape it
 * serves returns every process's metrics added up.
 */
export function clusterMetricsText(registry: Registry): () => Promise<string> {
  AggregatorRegistry.setRegistries([registry]);
  // Its constructor is what makes this process answer the primary's collection requests.
  new AggregatorRegistry();
  let next = 0;
  const waiting = new Map<number, { resolve: (text: string) => void; reject: (error: Error) => void }>();
  process.on("message", (message: unknown) => {
    if (!isMessage(message) || message.type !== "tether:metrics-reply") return;
    const request = waiting.get(message.id);
    waiting.delete(message.id);
    if (message.error !== undefined) request?.reject(new Error(message.error));
    else request?.resolve(message.text ?? "");
  });
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = next++;
      waiting.set(id, { resolve, reject });
      process.send?.({ type: "tether:metrics", id } satisfies Message);
    });
}
