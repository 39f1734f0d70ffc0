/**
 * Connection upkeep (docs/renewal.md#connection-upkeep): for each CentralConnection, call the hub's management info every
 * sync period and on every spec change, renew the certificate when the renewal chain says so, keep
 * the credential Secret in step, and report it all in status, Events and metrics.
 *
 * One reconcile: gather (read the CentralConnection and its Secret once) → decide (decide.ts, pure,
 * one run of the renewal chain) → act (act.ts: Secret rewrite, renewNow reset, hub calls) → write
 * status (status.ts), only when it differs as a value from what the API server holds. The back-off and
 * the sync schedule are read from status; memory.ts says what stays in memory and why.
 */
import { isDeepStrictEqual } from "node:util";
import { inspectSecret, isValidAt } from "../../credential/secret.ts";
import type { ConnectionMetrics } from "../../health/metrics.ts";
import { updateWithRetry } from "../../kube/conflict.ts";
import type { Watcher } from "../../kube/port.ts";
import type { CentralConnection, CentralConnectionStatus, SecretReference } from "../../kube/types.ts";
import { connectionLabel, defaultSecretName, managedByLabel, managedByValue } from "../../kube/types.ts";
import { readiness } from "../../policy/readiness.ts";
import { certificateRandom, plannedRenewalTime } from "../../policy/renewal.ts";
import { connectionJitter, rotatingCondition, rotationRenewalAt } from "../../policy/rotation.ts";
import { defaultBackoff } from "../../runtime/backoff.ts";
import type { ControllerDeps } from "../../runtime/deps.ts";
import { WorkQueue } from "../../runtime/queue.ts";
import { type Outcome, act } from "./act.ts";
import { type Gathered, type Plan, decide, lastSyncOf, observedGeneration, time } from "./decide.ts";
import { type Memory, adopt, freshMemory } from "./memory.ts";
import { connectionStatus, issuingCondition, nextProgress, sameStatus } from "./status.ts";

/** `hubCaPem` serves credentials whose kubeconfig embeds no CA. */
export interface ConnectionControllerOptions extends ControllerDeps {
  metrics: ConnectionMetrics;
  syncPeriodMs: number;
  /** The connection the bootstrap flow made (--cluster-name): it joins again by itself. */
  bootstrapConnection?: string;
}

export class ConnectionController {
  readonly #o: ConnectionControllerOptions;
  readonly #backoff: { baseMs: number; capMs: number };
  readonly #memory = new Map<string, Memory>();
  readonly #queue: WorkQueue;
  #watchers: Watcher[] = [];

  constructor(options: ConnectionControllerOptions) {
    this.#o = options;
    this.#backoff = options.backoff ?? defaultBackoff;
    this.#queue = new WorkQueue({
      clock: options.clock,
      handle: (name) => this.reconcile(name),
      onError: (name, error) =>
        options.logger.error({ err: error, connection: name }, "connection upkeep failed"),
    });
  }

  start(): void {
    const { kube, namespace } = this.#o;
    this.#watchers.push(
      kube.centralConnections.watch(({ type, object }) => {
        // Status writes do not move the generation: only spec changes and deletions need a look.
        if (type === "MODIFIED" && object.metadata.generation === observedGeneration(object.status)) return;
        this.#queue.add(object.metadata.name);
      }),
      kube.secrets.watch(namespace, `${managedByLabel}=${managedByValue}`, ({ object }) => {
        const name = object.metadata?.labels?.[connectionLabel];
        if (name !== undefined) this.#queue.add(name);
      }),
    );
  }

  async stop(): Promise<void> {
    for (const watcher of this.#watchers) watcher.stop();
    this.#watchers = [];
    await this.#queue.stop();
  }

  /** Resolves when no reconcile is queued or running; for tests. */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  async reconcile(name: string): Promise<void> {
    const gathered = await this.#gather(name);
    if (gathered === undefined) {
      this.#memory.delete(name);
      this.#queue.forget(name);
      this.#o.metrics.forget(name);
      return;
    }
    const memory = this.#memoryFor(gathered);
    const plan = decide(gathered, memory, this.#o.syncPeriodMs);
    const outcome = await act(this.#o, gathered, memory, plan);
    const wake = await this.#writeStatus(gathered, memory, plan, outcome);
    // The hub named another subject than the chain compared with: judge again with it at once.
    if (!outcome.renewed && memory.assigned && !isDeepStrictEqual(memory.assigned, plan.expectedSubject))
      this.#queue.add(name);
    // The hub activated another CA: judge IssuerRotated again with it (a renewal may be due now).
    if (outcome.trust && outcome.trust.activeSha256 !== gathered.connection.status?.trustBundle?.activeSha256)
      this.#queue.add(name);
    this.#queue.addAfter(name, wake - gathered.now.getTime());
  }

  async #gather(name: string): Promise<Gathered | undefined> {
    const { kube, clock, namespace } = this.#o;
    const connection = await kube.centralConnections.get(name);
    if (connection === undefined) return undefined;
    const now = clock.now();
    const ref = secretRefOf(connection, namespace);
    const inspected = await inspectSecret(ref, await kube.secrets.get(ref.namespace, ref.name), now);
    const gathered = { connection, ref, inspected, now };
    adopt(this.#memoryFor(gathered), inspected);
    return gathered;
  }

  /** Writes status when it changed; answers when to look again. */
  async #writeStatus(gathered: Gathered, memory: Memory, plan: Plan, outcome: Outcome): Promise<number> {
    const { connection, now } = gathered;
    const name = connection.metadata.name;
    const previous = connection.status;
    const certificate = outcome.credential.certificate ?? memory.held?.certificate;
    // A hub that answers 404 for the trust bundle no longer rotates (a downgrade): forget the last one.
    const trust = outcome.noTrustBundle ? undefined : (outcome.trust ?? previous?.trustBundle);
    const rotation = {
      credential: outcome.credential,
      trust,
      jitter: connectionJitter(connection.metadata.uid ?? name),
    };
    const renewalTime = certificate
      ? plannedRenewalTime(
          connection.spec,
          certificate,
          certificateRandom(certificate.sha256),
          rotationRenewalAt(rotation),
        )
      : undefined;
    const sync = outcome.sync ?? lastSyncOf(previous);
    const ready = readiness({ credential: outcome.credential, sync, now });
    const violation = outcome.renewed ? undefined : plan.violation;
    const progress = nextProgress(previous, outcome, this.#backoff);
    if (violation && !plan.client) {
      progress.error = `${violation.message}, and the agent holds no valid certificate to authenticate a renewal: apply a new CertificateRequest with a fresh token URL to re-enrol`;
    }
    const issuing = issuingCondition(violation, progress, renewalTime, isValidAt(memory.held, now));
    const rotating = rotatingCondition(rotation);
    this.#recordRotation(gathered, rotating);
    this.#o.metrics.observeCertificate(name, certificate?.notAfter, renewalTime);
    this.#o.metrics.observeIssuer(name, outcome.credential.issuerSha256);
    this.#o.metrics.observeReady(name, ready.reason === "Connected");
    const status = connectionStatus({
      previous,
      generation: outcome.generation,
      now,
      certificate,
      issuerSha256: outcome.credential.issuerSha256,
      trust,
      rotating,
      renewalTime,
      sync,
      ready,
      issuing,
      progress,
    });
    await updateWithRetry(
      () => this.#o.kube.centralConnections.get(name),
      (current) => {
        // status.rollouts belongs to the rollout controller: keep what the API server holds now.
        const next = { ...status, rollouts: current.status?.rollouts };
        if (sameStatus(next, current.status)) return undefined;
        current.status = next;
        return current;
      },
      (next) => this.#o.kube.centralConnections.updateStatus(next),
    );
    return this.#wakeAt(status, certificate, renewalTime, now);
  }

  /** An Event when the rotation reaches a step an operator follows: a renewal planned, the rotation done. */
  #recordRotation({ connection }: Gathered, rotating: { reason: string; message: string }): void {
    const previous = connection.status?.conditions?.find((c) => c.type === "CertificateAuthorityRotating");
    if (previous?.reason === rotating.reason) return;
    if (rotating.reason === "RenewalScheduled")
      this.#o.events.record(connection, "Normal", "RotationRenewalScheduled", rotating.message);
    if (rotating.reason === "RotationComplete" && previous !== undefined)
      this.#o.events.record(connection, "Normal", "RotationComplete", rotating.message);
  }

  /** The next look: sync period, planned renewal, validity bounds, or the end of a back-off. */
  #wakeAt(
    status: CentralConnectionStatus,
    certificate: { notBefore: Date; notAfter: Date } | undefined,
    renewalTime: Date | undefined,
    now: Date,
  ): number {
    const period = this.#o.syncPeriodMs;
    const lastSync = time(status?.synchronizationStatus?.lastSync);
    const candidates = [
      lastSync === undefined ? undefined : lastSync + period,
      time(status?.nextAttemptTime),
      certificate?.notBefore.getTime(),
      certificate?.notAfter.getTime(),
      renewalTime?.getTime(),
    ];
    const future = candidates.filter((at): at is number => at !== undefined && at > now.getTime());
    return Math.min(now.getTime() + period, ...future);
  }

  #memoryFor({ connection }: Gathered): Memory {
    const name = connection.metadata.name;
    let memory = this.#memory.get(name);
    // A new establishedAt means the connection was enrolled again: what the agent held is history.
    if (memory === undefined || memory.establishedAt !== connection.spec.establishedAt) {
      memory = freshMemory(connection.spec.establishedAt);
      this.#memory.set(name, memory);
    }
    return memory;
  }
}

export function secretRefOf(connection: CentralConnection, namespace: string): SecretReference {
  return connection.spec.secretRef ?? { name: defaultSecretName(connection.metadata.name), namespace };
}
