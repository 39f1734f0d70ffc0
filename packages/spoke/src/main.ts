/**
 * Builds the agent from configuration and runs it. `buildAgent` wires the controllers, metrics and
 * probes onto any KubePort and HubClient (tests hand in fakes); `runAgent` adds what a process needs:
 * the real Kubernetes client, the HTTP endpoints and signal handling. With --bootstrap-kubeconfig
 * (SPEC §3.4) the leader also runs the bootstrap controller next to the others, and every replica runs
 * the certificate health checker, whose verdict ends `run` with a reason to restart.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import { KubeConfig } from "@kubernetes/client-node";
import { type Clock, type Random, cryptoRandom, systemClock } from "@tether/shared/time";
import { type Logger, pino } from "pino";
import { certificateInfo, splitPemBundle } from "@tether/shared/pki";
import { BootstrapController } from "./bootstrap/controller.ts";
import { fingerprint } from "./bootstrap/bootstrap-kubeconfig.ts";
import { CertificateHealthChecker, type RestartReason } from "./bootstrap/health-check.ts";
import { type BootstrapConfig, ConfigError, type SpokeConfig, parseListenAddress } from "./config.ts";
import { CertificateRequestController } from "./controllers/certificate-request.ts";
import { ConnectionController } from "./controllers/connection.ts";
import { kubeEventRecorder } from "./controllers/events.ts";
import { RolloutController } from "./controllers/rollout/controller.ts";
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
import type { Violation } from "./policy/state.ts";

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
  /** The bootstrap kubeconfig file's text (undefined: unreadable); needed with config.bootstrap. */
  readBootstrapFile?: () => Promise<string | undefined>;
}

/** How `run` ended: on a signal, or because the health checker asks for a restart. */
export interface RunOutcome {
  restart?: Violation<RestartReason>;
}

export interface Agent {
  metrics: SpokeMetrics;
  probes: Probes;
  isLeader(): boolean;
  /** The bootstrap flow's parts, with --bootstrap-kubeconfig. */
  bootstrap?: { controller: BootstrapController; health: CertificateHealthChecker };
  /**
   * Runs until `signal` aborts or the health checker fails; the controllers run only while leading
   * (or always without election).
   */
  run(signal: AbortSignal): Promise<RunOutcome>;
}

export function buildAgent(config: SpokeConfig, deps: AgentDeps): Agent {
  const { kube, hub, logger, namespace, identity, hubCaPem } = deps;
  const clock = deps.clock ?? systemClock;
  const metrics = createSpokeMetrics({ processMetrics: true });
  const probes = new Probes();
  let leading = false;
  let started = false;
  probes.addReadiness("started", () => (started ? undefined : "the agent is starting"));
  const bootstrap =
    config.bootstrap === undefined ? undefined : buildBootstrap(config.bootstrap, deps, clock, logger);
  if (bootstrap) {
    probes.addLiveness("certificate", () => bootstrap.health.problem());
    // Only the leader bootstraps; a standby replica is ready to take over, not waiting to join.
    probes.addReadiness("bootstrap", () => (leading ? bootstrap.controller.problem() : undefined));
  }

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
    const rollouts = new RolloutController({
      ...{ kube, clock, logger, namespace, metrics, instance: identity },
      rolloutNamespaces: config.rolloutNamespaces,
      resyncPeriodMs: config.syncPeriodMs,
    });
    leading = true;
    requests.start();
    rollouts.start();
    const joining = bootstrap?.controller.run(signal);
    await bootstrap?.controller.firstAttempt;
    connections.start();
    logger.info({ namespace }, "controllers started");
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener("abort", () => resolve(), { once: true });
    });
    leading = false;
    await Promise.all([requests.stop(), connections.stop(), rollouts.stop(), joining]);
    logger.info("controllers stopped");
  }

  return {
    metrics,
    probes,
    isLeader: () => leading,
    ...(bootstrap ? { bootstrap } : {}),
    async run(signal) {
      started = true;
      const inner = new AbortController();
      const forward = () => inner.abort();
      signal.addEventListener("abort", forward, { once: true });
      if (signal.aborted) inner.abort();
      const outcome: RunOutcome = {};
      const checking = bootstrap?.health
        .run(inner.signal, (error) => logger.warn({ err: error }, "certificate health check failed to run"))
        .then((failure) => {
          if (failure === undefined) return;
          logger.error({ reason: failure.reason }, `restarting: ${failure.message}`);
          outcome.restart = failure;
          inner.abort();
        });
      try {
        await runElected(inner.signal);
      } finally {
        inner.abort();
        signal.removeEventListener("abort", forward);
        await checking;
      }
      return outcome;
    },
  };

  async function runElected(signal: AbortSignal): Promise<void> {
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
  }
}

function buildBootstrap(
  config: BootstrapConfig,
  deps: AgentDeps,
  clock: Clock,
  logger: Logger,
): NonNullable<Agent["bootstrap"]> {
  const { kube, namespace } = deps;
  const readBootstrapFile = deps.readBootstrapFile ?? (() => readTextFile(config.kubeconfigFile));
  const health = new CertificateHealthChecker({
    clock,
    periodMs: config.certHealthPeriodMs,
    sources: {
      file: async () => {
        const text = await readBootstrapFile();
        return text === undefined ? undefined : fingerprint(text);
      },
      secret: async () => {
        const data = (await kube.secrets.get(namespace, config.kubeconfigSecret))?.data?.kubeconfig;
        return data === undefined || data === ""
          ? undefined
          : fingerprint(Buffer.from(data, "base64").toString("utf8"));
      },
      certificateNotAfter: async () => {
        const data = (await kube.secrets.get(namespace, config.hubKubeconfigSecret))?.data?.["tls.crt"];
        return data === undefined ? undefined : readNotAfter(Buffer.from(data, "base64").toString("utf8"));
      },
    },
  });
  const controller = new BootstrapController({
    kube,
    hub: deps.hub,
    clock,
    logger,
    events: kubeEventRecorder({ kube, clock, logger, instance: deps.identity }),
    namespace,
    config,
    readBootstrapFile,
    ...(deps.hubCaPem === undefined ? {} : { hubCaPem: deps.hubCaPem }),
    onJoined: (held) => health.track(held.certificate.notAfter),
  });
  return { controller, health };
}

function readNotAfter(chainPem: string): Date | undefined {
  try {
    return certificateInfo(splitPemBundle(chainPem)[0] ?? "").notAfter;
  } catch {
    return undefined;
  }
}

async function readTextFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}

export function createLogger(level: string): Logger {
  return pino({ level, base: { component: "tether-spoke" }, timestamp: pino.stdTimeFunctions.isoTime });
}

/**
 * The whole process: resolves once a SIGTERM or SIGINT has shut everything down (exit code 0), or
 * once the health checker has asked for a restart (exit code 1, so that Kubernetes restarts it).
 */
export async function runAgent(config: SpokeConfig, logger: Logger): Promise<number> {
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
  logger.info(
    { namespace, identity, leaderElect: config.leaderElect, bootstrap: config.bootstrap !== undefined },
    "tether spoke agent started",
  );
  const outcome = await agent.run(stop.signal);
  await Promise.all(servers.map((server) => server.close()));
  if (outcome.restart) {
    logger.error({ reason: outcome.restart.reason }, `exiting to be restarted: ${outcome.restart.message}`);
    return 1;
  }
  logger.info("stopped");
  return 0;
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
