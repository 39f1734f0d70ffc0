/**
 * The agent as a process (docs/spoke.md#running-the-spoke): the real Kubernetes client, a preflight check, the HTTP
 * endpoints, signal handling and the exit code. `cli.ts` parses the flags and calls `runAgent`.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import { KubeConfig } from "@kubernetes/client-node";
import { type Logger, pino } from "pino";
import { type Agent, buildAgent } from "./agent.ts";
import { ConfigError, type SpokeConfig, parseListenAddress } from "./config.ts";
import { type RunningServer, type Route, healthRoutes, metricsRoutes, serve } from "./health/server.ts";
import { createHttpHubClient } from "./hub-client/http.ts";
import { clientNodeKube } from "./kube/client-node.ts";
import type { KubePort } from "./kube/port.ts";

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
    hubCaPem,
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
