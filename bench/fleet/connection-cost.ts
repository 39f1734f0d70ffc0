/**
 * What one connection costs the hub (docs/fleet.md#what-a-connection-costs), measured apart from the
 * fleet's schedule: the hub's RSS and descriptors with N mTLS connections held open after one request
 * each, less its RSS before; then its CPU per request at a fixed rate on those held connections, on a
 * new connection resuming the spoke's session, and on a new connection with a full handshake.
 */
import { connect as netConnect } from "node:net";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, createSecureContext, type SecureContext, type TLSSocket } from "node:tls";
import type { SpokeCredential } from "./credentials.ts";
import type { FleetHubs } from "./hubs.ts";
import { Latencies } from "./latency.ts";
import { sampleTree } from "./procfs.ts";
import { exchange, requestText } from "./tls-http.ts";

const MANAGEMENT = "/v1/runtimes/management/info";
const KEEP = requestText("GET", MANAGEMENT, { close: false });
const CLOSE = requestText("GET", MANAGEMENT, { close: true });
/** Connections opened at once while filling the held set. */
const OPENING = 32;

export interface RequestCost {
  mode: "keep-alive" | "resume" | "handshake";
  requests: number;
  resumed: number;
  cpuMsPerRequest: number;
  p50: number;
  p99: number;
  /** The hub's event-loop delay over the phase (prom-client's, reset at each scrape), ms. */
  hubLoop: { p99: number; max: number };
  /** This process's event-loop delay over the phase, ms. */
  simLoop: { p99: number; max: number };
}

export interface ConnectionCost {
  held: number;
  idleRssBytes: number;
  heldRssBytes: number;
  heldFds: number;
  requests: RequestCost[];
}

export async function measureConnectionCost(
  hubs: FleetHubs,
  credentials: SpokeCredential[],
  options: { rate: number; seconds: number; timeoutMs: number },
  log: (line: string) => void,
): Promise<ConnectionCost> {
  const { host, port } = hubs.replicas[0]!;
  const pids = hubs.replicas.map((hub) => hub.pid);
  const contexts: SecureContext[] = credentials.map((c) =>
    createSecureContext({ ca: hubs.caPem, cert: c.certPem, key: c.keyPem }),
  );
  const sessions: (Buffer | undefined)[] = [];
  const open = (i: number, session: Buffer | undefined) =>
    new Promise<TLSSocket>((resolve, reject) => {
      const socket = connect({
        socket: netConnect({ host, port, noDelay: true }),
        servername: "localhost",
        secureContext: contexts[i],
        session,
      });
      socket.on("session", (ticket: Buffer) => (sessions[i] = ticket));
      socket.once("error", reject);
      socket.once("secureConnect", () => resolve(socket));
    });
  const ask = async (socket: TLSSocket, text: string) => {
    const answer = await exchange(socket, text, options.timeoutMs);
    if (answer.status !== 200) throw new Error(`management info: status ${answer.status} ${answer.body}`);
  };

  // Every spoke once, so that the hub's per-certificate caches are as full before as after.
  for (let i = 0; i < credentials.length; i += OPENING) {
    await Promise.all(
      contexts.slice(i, i + OPENING).map(async (_, j) => {
        const socket = await open(i + j, undefined);
        await ask(socket, CLOSE);
        socket.destroy();
      }),
    );
  }
  await sleep(3000);
  const idle = sampleTree(pids);
  log(`connection cost: hub with no connection open: RSS ${mb(idle.rssBytes)} MB, ${idle.fds} fds`);
  const held: TLSSocket[] = [];
  for (let i = 0; i < credentials.length; i += OPENING) {
    held.push(
      ...(await Promise.all(
        contexts.slice(i, i + OPENING).map(async (_, j) => {
          const socket = await open(i + j, sessions[i + j]);
          await ask(socket, KEEP);
          return socket;
        }),
      )),
    );
  }
  await sleep(3000);
  const full = sampleTree(pids);
  log(
    `connection cost: ${held.length} held: RSS ${mb(full.rssBytes)} MB, ${full.fds} fds: ${((full.rssBytes - idle.rssBytes) / held.length / 1024).toFixed(1)} KB each`,
  );

  // Where a slow request waited: the hub's event loop, this process's, or neither (the kernel, the network).
  const hubLoop = async () => {
    const response = await fetch(`${hubs.replicas[0]!.internalUrl}/metrics`, {
      headers: { authorization: `Bearer ${hubs.adminToken}` },
    });
    const text = await response.text();
    const gauge = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? NaN) * 1000;
    return { p99: gauge("nodejs_eventloop_lag_p99_seconds"), max: gauge("nodejs_eventloop_lag_max_seconds") };
  };
  const simLoop = monitorEventLoopDelay({ resolution: 10 });
  simLoop.enable();
  const requests: RequestCost[] = [];
  for (const mode of ["keep-alive", "resume", "handshake"] as const) {
    const latencies = new Latencies();
    let resumed = 0;
    await hubLoop();
    simLoop.reset();
    const before = sampleTree(pids).cpuSeconds;
    const started = performance.now();
    const total = Math.round(options.rate * options.seconds);
    const pending: Promise<void>[] = [];
    for (let k = 0; k < total; k++) {
      const wait = started + (k * 1000) / options.rate - performance.now();
      if (wait > 0) await sleep(wait);
      const i = k % held.length;
      pending.push(
        (async () => {
          const begun = performance.now();
          if (mode === "keep-alive") {
            await ask(held[i]!, KEEP);
          } else {
            const socket = await open(i, mode === "resume" ? sessions[i] : undefined);
            if (socket.isSessionReused()) resumed++;
            try {
              await ask(socket, CLOSE);
            } finally {
              socket.destroy();
            }
          }
          latencies.add(performance.now() - begun);
        })(),
      );
    }
    await Promise.all(pending);
    const cpuMs = (sampleTree(pids).cpuSeconds - before) * 1000;
    const [p50, p99] = latencies.quantiles(0.5, 0.99);
    const cost = {
      mode,
      requests: total,
      resumed,
      cpuMsPerRequest: cpuMs / total,
      p50: p50!,
      p99: p99!,
      hubLoop: await hubLoop(),
      simLoop: { p99: simLoop.percentile(99) / 1e6, max: simLoop.max / 1e6 },
    };
    requests.push(cost);
    const loop = ({ p99, max }: { p99: number; max: number }) =>
      `p99 ${p99.toFixed(0)}/max ${max.toFixed(0)} ms`;
    log(
      `connection cost: ${mode} at ${options.rate}/s: ${cost.cpuMsPerRequest.toFixed(2)} hub CPU-ms per request, p50 ${p50!.toFixed(1)} ms, p99 ${p99!.toFixed(1)} ms, ${resumed}/${total} resumed; event-loop delay: hub ${loop(cost.hubLoop)}, bench ${loop(cost.simLoop)}`,
    );
    if (mode === "keep-alive") for (const socket of held) socket.destroy();
  }
  simLoop.disable();
  return {
    held: held.length,
    idleRssBytes: idle.rssBytes,
    heldRssBytes: full.rssBytes,
    heldFds: full.fds,
    requests,
  };
}

const mb = (bytes: number) => (bytes / 1048576).toFixed(0);
