/**
 * Connection upkeep (SPEC §3.3): for each CentralConnection, call the hub's management info every
 * sync period and on every spec change, renew the certificate when the renewal chain says so, keep
 * the credential Secret in step, and report it all in status, Events and metrics.
 *
 * The agent holds the newest valid credential of each connection in memory: it is what the spoke
 * presents to the hub, so a deleted or damaged Secret can be rebuilt by a renewal.
 */
import { type Subject, parseSubject } from "@tether/shared/pki";
import type { ConnectionMetrics } from "../health/metrics.ts";
import { updateWithRetry } from "../kube/conflict.ts";
import type { Watcher } from "../kube/port.ts";
import type { CentralConnection, SecretReference } from "../kube/types.ts";
import { connectionLabel, defaultSecretName, managedByLabel, managedByValue } from "../kube/types.ts";
import { readiness } from "../policy/readiness.ts";
import { certificateRandom, needsRenewal, plannedRenewalTime } from "../policy/renewal.ts";
import type { Violation } from "../policy/state.ts";
import { defaultBackoff } from "./backoff.ts";
import { type Memory, adopt, issuingCondition, restoreSecret } from "./connection-memory.ts";
import { type RoundDeps, hubRound } from "./connection-round.ts";
import { connectionStatus } from "./connection-status.ts";
import type { HeldCredential, InspectedSecret } from "./credentials.ts";
import { inspectSecret, isValidAt, writeCredentialSecret } from "./credentials.ts";
import type { ControllerDeps } from "./deps.ts";
import { WorkQueue } from "./queue.ts";

/** `hubCaPem` serves credentials whose kubeconfig embeds no CA. */
export interface ConnectionControllerOptions extends ControllerDeps {
  metrics: ConnectionMetrics;
  syncPeriodMs: number;
}

export class ConnectionController {
  readonly #o: ConnectionControllerOptions;
  readonly #round: RoundDeps;
  readonly #memory = new Map<string, Memory>();
  readonly #queue: WorkQueue;
  #watchers: Watcher[] = [];

  constructor(options: ConnectionControllerOptions) {
    this.#o = options;
    this.#round = { ...options, backoff: options.backoff ?? defaultBackoff };
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
        const name = object.metadata.name;
        // Status writes do not move the generation: only spec changes and deletions need a look.
        if (type === "MODIFIED" && object.metadata.generation === this.#memory.get(name)?.observedGeneration)
          return;
        this.#queue.add(name);
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
    const { kube, clock } = this.#o;
    const connection = await kube.centralConnections.get(name);
    if (connection === undefined) {
      this.#memory.delete(name);
      this.#queue.forget(name);
      this.#o.metrics.forget(name);
      return;
    }
    const memory = this.#memoryFor(connection);
    const now = clock.now();
    const ref = secretRefOf(connection, this.#o.namespace);
    let inspected = await inspectSecret(ref, await kube.secrets.get(ref.namespace, ref.name), now);
    adopt(memory, inspected);
    if (restoreSecret(memory, inspected, now)) {
      // The hub issued a newer certificate than the Secret shows (its write failed): write it again.
      const written = await writeCredentialSecret(kube, ref, name, memory.held!.credentials);
      memory.unstored = undefined;
      inspected = await inspectSecret(ref, written, now);
    }
    if (memory.renewNowServed && connection.spec.renewNow === true && memory.unstored === undefined) {
      await this.#resetRenewNow(name, memory);
      connection.spec.renewNow = false;
    }

    const specChanged = connection.metadata.generation !== memory.observedGeneration;
    const mayCall = specChanged || memory.retryAt === undefined || now.getTime() >= memory.retryAt;
    const syncDue =
      specChanged ||
      memory.sync?.ok === false ||
      memory.nextSyncAt === undefined ||
      now.getTime() >= memory.nextSyncAt;
    let violation = this.#renewalViolation(connection, inspected, memory, now);
    const client = isValidAt(memory.held, now) ? memory.held : undefined;
    let renewed: HeldCredential | undefined;
    if (client && mayCall && (syncDue || violation)) {
      renewed = await hubRound(this.#round, { connection, ref, memory, client, now }, () =>
        this.#renewalViolation(connection, inspected, memory, now),
      );
      // A renewal changed the Secret; a sync may have changed the identity the chain compares.
      if (renewed) inspected = await inspectSecret(ref, await kube.secrets.get(ref.namespace, ref.name), now);
      violation = renewed ? undefined : this.#renewalViolation(connection, inspected, memory, now);
    }
    memory.observedGeneration = connection.metadata.generation;
    if (renewed && memory.renewNowServed) await this.#resetRenewNow(name, memory);
    if (violation && !client) {
      memory.error = `${violation.message}, and the agent holds no valid certificate to authenticate a renewal: apply a new CertificateRequest with a fresh token URL to re-enrol`;
    }
    await this.#writeStatus(connection, memory, inspected, violation, now);
    this.#schedule(name, memory, inspected, connection, now);
  }

  #renewalViolation(connection: CentralConnection, inspected: InspectedSecret, memory: Memory, now: Date) {
    const certificate = inspected.state.certificate ?? memory.held?.certificate;
    return needsRenewal({
      spec: connection.spec,
      credential: inspected.state,
      expectedSubject: expectedSubject(memory),
      now,
      random: certificateRandom(certificate?.sha256 ?? ""),
    });
  }

  async #resetRenewNow(name: string, memory: Memory): Promise<void> {
    const updated = await updateWithRetry(
      () => this.#o.kube.centralConnections.get(name),
      (current) => {
        if (current.spec.renewNow !== true) return undefined;
        current.spec.renewNow = false;
        return current;
      },
      (next) => this.#o.kube.centralConnections.update(next),
    );
    memory.renewNowServed = false;
    memory.observedGeneration = updated?.metadata.generation;
  }

  async #writeStatus(
    connection: CentralConnection,
    memory: Memory,
    inspected: InspectedSecret,
    violation: Violation | undefined,
    now: Date,
  ): Promise<void> {
    const certificate = inspected.state.certificate ?? memory.held?.certificate;
    const renewalTime = certificate
      ? plannedRenewalTime(connection.spec, certificate, certificateRandom(certificate.sha256))
      : undefined;
    const ready = readiness({ credential: inspected.state, sync: memory.sync, now });
    const issuing = issuingCondition(violation, memory, renewalTime, isValidAt(memory.held, now));
    const name = connection.metadata.name;
    this.#o.metrics.observeCertificate(name, certificate?.notAfter, renewalTime);
    this.#o.metrics.observeReady(name, ready.reason === "Connected");
    await updateWithRetry(
      () => this.#o.kube.centralConnections.get(name),
      (current) => {
        const status = connectionStatus({
          previous: current.status,
          generation: current.metadata.generation,
          now,
          certificate,
          renewalTime,
          sync: memory.sync,
          lastSuccess: memory.lastSuccess,
          ready,
          issuing,
          error: memory.error,
          failedAttempts: memory.failedAttempts,
        });
        if (JSON.stringify(status) === JSON.stringify(current.status)) return undefined;
        current.status = status;
        return current;
      },
      (next) => this.#o.kube.centralConnections.updateStatus(next),
    );
  }

  /** The next wake-up: sync period, planned renewal, end of validity, or the end of a backoff. */
  #schedule(
    name: string,
    memory: Memory,
    inspected: InspectedSecret,
    connection: CentralConnection,
    now: Date,
  ): void {
    const certificate = inspected.state.certificate ?? memory.held?.certificate;
    const candidates = [memory.nextSyncAt ?? now.getTime() + this.#o.syncPeriodMs, memory.retryAt];
    if (certificate) {
      candidates.push(certificate.notBefore.getTime(), certificate.notAfter.getTime());
      candidates.push(
        plannedRenewalTime(connection.spec, certificate, certificateRandom(certificate.sha256))?.getTime(),
      );
    }
    const future = candidates.filter((at): at is number => at !== undefined && at > now.getTime());
    const wake = Math.min(now.getTime() + this.#o.syncPeriodMs, ...future);
    this.#queue.addAfter(name, wake - now.getTime());
  }

  #memoryFor(connection: CentralConnection): Memory {
    const name = connection.metadata.name;
    let memory = this.#memory.get(name);
    // A new establishedAt means the connection was enrolled again: what the agent held is history.
    if (memory === undefined || memory.establishedAt !== connection.spec.establishedAt) {
      memory = {
        establishedAt: connection.spec.establishedAt,
        failedAttempts: connection.status?.failedAttempts ?? 0,
      };
      this.#memory.set(name, memory);
    }
    return memory;
  }
}

export function secretRefOf(connection: CentralConnection, namespace: string): SecretReference {
  return connection.spec.secretRef ?? { name: defaultSecretName(connection.metadata.name), namespace };
}

function expectedSubject(memory: Memory): Subject | undefined {
  if (memory.info) {
    try {
      return parseSubject(memory.info.certificate.subject);
    } catch {
      return memory.held?.certificate.subject;
    }
  }
  return memory.held?.certificate.subject;
}
