/**
 * Builds the agent from configuration and runs it. `buildAgent` wires the controllers, metrics and
 * probes onto any KubePort and HubClient (tests hand in fakes); `runAgent` adds what a process needs:
 * the real Kubernetes client, the HTTP endpoints and signal handling. The bootstrap supervisor (SPEC
 * §3.4) slots in before `agent.run`, deciding whether to enrol first, and adds its own probes.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import { KubeConfig } from "@kubernetes/client-node";
import { type Clock, type Random, cryptoRandom, systemClock } from "@tether/shared/time";
import { type Logger, pino } from "pino";
import { ConfigError, type SpokeConfig, parseListenAddress } from "./config.ts";
import { CertificateRequestController } from "./controllers/certificate-request.ts";
import { ConnectionController } from "./controllers/connection.ts";
import { kubeEventRecorder } from "./controllers/events.ts";
import { createSpokeMetrics, type SpokeMetrics } from "./health/metrics.ts";
import {
  Probes,
  type RunningServer,
  type Route,
  healthRoutes,
  metricsRoutes,
  serve,
} from "./health/server.ts";
import type { HubClient } from "./hub-client/client.ts";
import { createHttpHubClient } from "./hub-client/http.ts";
import { clientNodeKube } from "./kube/client-node.ts";
import type { KubePort } from "./kube/port.ts";
import { LeaderElector } from "./leader/lease.ts";

export interface AgentDeps {
  kube: KubePort;
  hub: HubClient;
  logger: Logger;
  namespace: string;
  /** Who this replica is, in the Lease and in Events. */
  identity: string;
  hubCaPem?: string;
  clock?: Clock;
  random?: Random;
}

export interface Agent {
  metrics: SpokeMetrics;
  probes: Probes;
  isLeader(): boolean;
  /** Runs until `signal` aborts; the controllers run only while leading (or always without election). */
  run(signal: AbortSignal): Promise<void>;
}

export function buildAgent(config: SpokeConfig, deps: AgentDeps): Agent {
  const { kube, hub, logger, namespace, identity, hubCaPem } = deps;
  const clock = deps.clock ?? systemClock;
  const metrics = createSpokeMetrics({ processMetrics: true });
  const probes = new Probes();
  let leading = false;
  let started = false;
  probes.addReadiness("started", () => (started ? undefined : "the agent is starting"));

  async function runControllers(signal: AbortSignal): Promise<void> {
    const events = kubeEventRecorder({ kube, clock, logger, instance: identity });
    const shared = {
      kube,
      hub,
      clock,
      logger,
      events,
      namespace,
      ...(hubCaPem === undefined ? {} : { hubCaPem }),
    };
    const requests = new CertificateRequestController(shared);
    const connections = new ConnectionController({ ...shared, metrics, syncPeriodMs: config.syncPeriodMs });
    leading = true;
    requests.start();
    connections.start();
    logger.info({ namespace }, "controllers started");
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
    leading = false;
    await Promise.all([requests.stop(), connections.stop()]);
    logger.info("controllers stopped");
  }

  return {
    metrics,
    probes,
    isLeader: () => leading,
    async run(signal) {
      started = true;
      if (!config.leaderElect) return runControllers(signal);
      const elector = new LeaderElector({
        leases: kube.leases,
        clock,
        random: deps.random ?? cryptoRandom,
        logger,
        namespace,
        name: config.leaderElection.leaseName,
        identity,
        timing: config.leaderElection,
      });
      await elector.run(signal, runControllers);
    },
  };
}

export function createLogger(level: string): Logger {
  return pino({ level, base: { component: "tether-spoke" }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** The whole process: resolves once a SIGTERM or SIGINT has shut everything down. */
export async function runAgent(config: SpokeConfig, logger: Logger): Promise<void> {
  const kubeConfig = new KubeConfig();
  if (config.kubeconfig === undefined) kubeConfig.loadFromCluster();
  else kubeConfig.loadFromFile(config.kubeconfig);
  const namespace = config.namespace ?? inClusterNamespace() ?? contextNamespace(kubeConfig) ?? "default";
  const hubCaPem = config.hubCaFile === undefined ? undefined : readCaFile(config.hubCaFile);
  const kube = clientNodeKube(kubeConfig, logger);
  await preflight(kube);
  const identity = process.env.POD_NAME ?? `${hostname()}_${randomUUID().slice(0, 8)}`;
  const agent = buildAgent(config, {
    kube,
    hub: createHttpHubClient({ timeoutMs: config.hubTimeoutMs }),
    logger,
    namespace,
    identity,
    ...(hubCaPem === undefined ? {} : { hubCaPem }),
  });
  const servers = await startServers(config, agent, logger);
  const stop = new AbortController();
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      logger.info({ signal }, "shutting down");
      stop.abort();
    });
  }
  logger.info({ namespace, identity, leaderElect: config.leaderElect }, "tether spoke agent started");
  await agent.run(stop.signal);
  await Promise.all(servers.map((server) => server.close()));
  logger.info("stopped");
}

async function startServers(config: SpokeConfig, agent: Agent, logger: Logger): Promise<RunningServer[]> {
  const byAddress = new Map<string, Record<string, Route>>();
  const add = (text: string, routes: Record<string, Route>) => {
    if (parseListenAddress(text) === undefined) return;
    byAddress.set(text, { ...byAddress.get(text), ...routes });
  };
  add(config.healthAddr, healthRoutes(agent.probes));
  add(config.metricsAddr, metricsRoutes(agent.metrics.registry));
  const servers: RunningServer[] = [];
  for (const [text, routes] of byAddress) {
    const server = await serve(parseListenAddress(text)!, routes);
    logger.info({ address: server.address, paths: Object.keys(routes) }, "listening");
    servers.push(server);
  }
  return servers;
}

/** Fails fast, with what to fix, when the CRDs are missing or RBAC does not allow the agent's work. */
async function preflight(kube: KubePort): Promise<void> {
  try {
    await kube.certificateRequests.list();
    await kube.centralConnections.list();
  } catch (error) {
    throw new ConfigError(
      `cannot list CertificateRequests and CentralConnections (${(error as Error).message}): are the tether.dev CRDs installed and the agent's RBAC bound?`,
    );
  }
}

function readCaFile(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`--hub-ca-file: ${(error as Error).message}`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----"))
    throw new ConfigError(`--hub-ca-file: ${path} holds no PEM certificate`);
  return pem;
}

function inClusterNamespace(): string | undefined {
  try {
    return (
      readFileSync("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "utf8").trim() || undefined
    );
  } catch {
    return undefined;
  }
}

function contextNamespace(config: KubeConfig): string | undefined {
  return config.getContextObject(config.getCurrentContext())?.namespace;
}
