/**
 * The agent, built and not yet started (like Fastify's `buildApp`): `buildAgent` wires the
 * controllers, metrics and probes onto any KubePort and HubClient (tests hand in fakes); serve.ts
 * adds what a process needs. With --bootstrap-kubeconfig (docs/renewal.md#bootstrap) the leader also runs the
 * bootstrap controller next to the others, and every replica runs the certificate health checker,
 * whose verdict ends `run` with a reason to restart.
 */
import { readFile } from "node:fs/promises";
import { type Clock, type Random, cryptoRandom, systemClock } from "@tether/shared/time";
import type { Logger } from "pino";
import { BootstrapController, retiredCertificate } from "./bootstrap/controller.ts";
import { fingerprint } from "./bootstrap/bootstrap-kubeconfig.ts";
import { CertificateHealthChecker, type RestartReason } from "./bootstrap/health-check.ts";
import type { BootstrapConfig, SpokeConfig } from "./config.ts";
import { CertificateRequestController } from "./controllers/certificate-request.ts";
import { ConnectionController } from "./controllers/connection/controller.ts";
import { RolloutController } from "./controllers/rollout/controller.ts";
import { certificateNotAfter, secretCertificate, secretKeys, secretText } from "./credential/secret.ts";
import { createSpokeMetrics, type SpokeMetrics } from "./health/metrics.ts";
import { Probes } from "./health/server.ts";
import type { HubClient } from "./hub-client/client.ts";
import type { KubePort } from "./kube/port.ts";
import { LeaderElector } from "./leader/lease.ts";
import type { Violation } from "./policy/chain.ts";
import { kubeEventRecorder } from "./runtime/events.ts";

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
    const shared = { kube, hub, clock, logger, events, namespace, hubCaPem };
    const requests = new CertificateRequestController(shared);
    const connections = new ConnectionController({
      ...shared,
      metrics,
      syncPeriodMs: config.syncPeriodMs,
      bootstrapConnection: config.bootstrap?.clusterName,
    });
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
    bootstrap,
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
        // The bootstrap Secret keeps its kubeconfig under the same key as the credential Secret.
        const secret = await kube.secrets.get(namespace, config.kubeconfigSecret);
        const text = secretText(secret, secretKeys.kubeconfig);
        return text === undefined ? undefined : fingerprint(text);
      },
      certificateNotAfter: async () =>
        certificateNotAfter(await kube.secrets.get(namespace, config.hubKubeconfigSecret)),
      issuerRetired: async () => {
        const refused = retiredCertificate(await kube.centralConnections.get(config.clusterName));
        if (refused === undefined) return false;
        const held = secretCertificate(await kube.secrets.get(namespace, config.hubKubeconfigSecret));
        return held?.sha256 === refused;
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
    hubCaPem: deps.hubCaPem,
    onJoined: (held) => health.track(held.certificate.notAfter),
  });
  return { controller, health };
}

async function readTextFile(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return undefined;
  }
}
