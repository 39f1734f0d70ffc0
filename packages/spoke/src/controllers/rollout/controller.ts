/**
 * Rolls the workloads that use a credential Secret of this agent when the Secret's certificate, key
 * or CA changes (docs/resources.md#rollout-of-workloads; the rules are in rollout/decide.ts). It reads every credential
 * Secret and every Deployment, StatefulSet and DaemonSet in the agent's namespace and in
 * --rollout-namespaces, decides per workload, and patches the pod template's annotations once, so
 * that Kubernetes' own controllers do the rollout.
 *
 * It runs apart from the connection controller, on its own queue: a refused patch, a workload gone
 * between list and patch or a namespace it may not read is an Event, a status.rollouts entry and a
 * log line, never a failed renewal. It is the only writer of status.rollouts and writes it with a
 * status update that keeps every other field.
 *
 * A credential Secret's change wakes it, and so does a workload that opts in and carries no hash
 * yet (watched in each namespace once a list there has worked, so a namespace it may not read is
 * not retried every two seconds); a resync every sync period retries failures and catches the rest.
 */
import type { V1Secret } from "@kubernetes/client-node";
import { certificateInfo, splitPemBundle } from "@tether/shared/pki";
import { grantedFrom } from "@tether/shared/renewal";
import type { Clock } from "@tether/shared/time";
import type { Logger } from "pino";
import type { RolloutMetrics } from "../../health/metrics.ts";
import { updateWithRetry } from "../../kube/conflict.ts";
import type { KubePort, Watcher } from "../../kube/port.ts";
import type { CentralConnection, RolloutRecord, Workload, WorkloadKind } from "../../kube/types.ts";
import { managedByLabel, managedByValue, workloadKinds } from "../../kube/types.ts";
import {
  credentialHashAnnotation,
  restartOnChangeAnnotation,
  restartedAtAnnotation,
} from "../../rollout/annotations.ts";
import { type Credential, type RolloutDecision, decideRollout } from "../../rollout/decide.ts";
import { listFailure, patchFailure } from "../../rollout/failures.ts";
import { type CredentialDigest, credentialDigest, describeChange } from "../../rollout/hash.ts";
import { withRecords } from "../../rollout/records.ts";
import { secretKeys, secretText } from "../../credential/secret.ts";
import { secretRefOf } from "../connection/controller.ts";
import { WorkQueue } from "../../runtime/queue.ts";
import { type EventRecorder, type RolloutEventReason, kubeEventRecorder } from "../../runtime/events.ts";

export interface RolloutControllerOptions {
  kube: KubePort;
  clock: Clock;
  logger: Logger;
  /** The agent's namespace: home of the credential Secrets, and its workloads may opt in too. */
  namespace: string;
  /** --rollout-namespaces: further namespaces whose workloads may opt in. */
  rolloutNamespaces: readonly string[];
  metrics: RolloutMetrics;
  /** Pod name or host: who reported, in Events. */
  instance: string;
  /** How often every workload is looked at again without a Secret change. */
  resyncPeriodMs: number;
}

/** One key: every reconcile looks at every workload, and changes that arrive meanwhile coalesce. */
const everything = "workloads";

export class RolloutController {
  readonly #o: RolloutControllerOptions;
  readonly #queue: WorkQueue;
  readonly #events: EventRecorder;
  readonly #namespaces: string[];
  /** Per Secret ("ns/name"): its last digest and what changed when that digest appeared. */
  readonly #seen = new Map<string, { digest: CredentialDigest; change: string }>();
  /** Warnings already recorded as Events, by subject: a lasting problem is one Event. */
  readonly #warned = new Map<string, string>();
  /** Records not yet in a CentralConnection's status (its write failed): written next time. */
  readonly #pending = new Map<string, RolloutRecord[]>();
  #watchers: Watcher[] = [];
  /** "Kind namespace" pairs whose workloads are watched. */
  readonly #watching = new Set<string>();
  #stopped = false;

  constructor(options: RolloutControllerOptions) {
    this.#o = options;
    this.#namespaces = [...new Set([options.namespace, ...options.rolloutNamespaces])];
    this.#events = kubeEventRecorder(options);
    this.#queue = new WorkQueue({
      clock: options.clock,
      concurrency: 1,
      handle: () => this.reconcile(),
      onError: (_key, error) => options.logger.error({ err: error }, "workload rollout failed"),
    });
  }

  start(): void {
    const { kube, namespace } = this.#o;
    const wake = () => this.#queue.add(everything);
    this.#watchers.push(
      kube.centralConnections.watch(wake),
      kube.secrets.watch(namespace, `${managedByLabel}=${managedByValue}`, wake),
    );
    wake();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const watcher of this.#watchers) watcher.stop();
    this.#watchers = [];
    await this.#queue.stop();
  }

  /** Resolves when no reconcile is queued or running; for tests. */
  idle(): Promise<void> {
    return this.#queue.idle();
  }

  async reconcile(): Promise<void> {
    const { kube, clock } = this.#o;
    const connections = await kube.centralConnections.list();
    const credentials = await Promise.all(connections.map((connection) => this.#credential(connection)));
    const byName = new Map(connections.map((connection) => [connection.metadata.name, connection]));
    const note = (names: readonly string[], record: RolloutRecord) => {
      const bounded = { ...record, message: record.message.slice(0, 1024) };
      for (const name of names) this.#pending.set(name, [...(this.#pending.get(name) ?? []), bounded]);
    };
    for (const namespace of this.#namespaces) {
      for (const kind of workloadKinds) {
        let workloads: Workload[];
        try {
          workloads = await kube.workloads.list(kind, namespace);
        } catch (error) {
          const failure = listFailure(kind, namespace, error);
          const record = { kind, namespace, result: "Failed" as const, ...failure, time: stamp(clock.now()) };
          note([...byName.keys()], record);
          for (const connection of connections)
            this.#warnOnce(`${connection.metadata.name} ${kind} ${namespace}`, connection, failure.message);
          this.#o.logger.warn({ kind, namespace, err: error }, failure.message);
          continue;
        }
        for (const connection of connections)
          this.#warned.delete(`${connection.metadata.name} ${kind} ${namespace}`);
        this.#watchWorkloads(kind, namespace);
        for (const workload of workloads) {
          const decision = decideRollout({ workload, credentials, agentNamespace: this.#o.namespace });
          const touched = await this.#act(workload, decision, byName);
          if (touched) note(decision.connections, touched);
        }
      }
    }
    for (const connection of connections) await this.#writeStatus(connection.metadata.name);
    this.#queue.addAfter(everything, this.#o.resyncPeriodMs);
  }

  /** Status changes of workloads already served do not wake it: only one waiting to be adopted does. */
  #watchWorkloads(kind: WorkloadKind, namespace: string): void {
    const key = `${kind} ${namespace}`;
    if (this.#watching.has(key) || this.#stopped) return;
    this.#watching.add(key);
    this.#watchers.push(
      this.#o.kube.workloads.watch(kind, namespace, ({ type, object }) => {
        const annotations = object.metadata.annotations;
        const waiting =
          annotations?.[restartOnChangeAnnotation] !== undefined &&
          annotations[credentialHashAnnotation] === undefined;
        if (type !== "DELETED" && waiting) this.#queue.add(everything);
      }),
    );
  }

  async #credential(connection: CentralConnection): Promise<Credential> {
    const name = connection.metadata.name;
    const ref = secretRefOf(connection, this.#o.namespace);
    let secret: V1Secret | undefined;
    try {
      secret = await this.#o.kube.secrets.get(ref.namespace, ref.name);
    } catch (error) {
      this.#o.logger.warn({ err: error, connection: name }, "could not read the credential Secret");
    }
    const digest = credentialDigest(secret);
    if (digest === undefined) return { connection: name, ref, change: "credential changed" };
    const key = `${ref.namespace}/${ref.name}`;
    const seen = this.#seen.get(key);
    const change = seen?.digest.full === digest.full ? seen.change : describeChange(seen?.digest, digest);
    this.#seen.set(key, { digest, change });
    return { connection: name, ref, digest, change, ...leafFacts(secret) };
  }

  /** Patches the workload as decided; answers what to note in the connections' status. */
  async #act(
    workload: Workload,
    decision: RolloutDecision,
    connections: ReadonlyMap<string, CentralConnection>,
  ): Promise<RolloutRecord | undefined> {
    const { kind, metadata } = workload;
    const namespace = metadata.namespace ?? "";
    const subject = `${kind} ${namespace}/${metadata.name}`;
    const involved = decision.connections.flatMap((name) => connections.get(name) ?? []);
    const ignored = [...decision.problems];
    if (decision.reason === "NoCredential" || decision.reason === "CredentialNotReady")
      ignored.push(decision.message);
    if (ignored.length === 0) this.#warned.delete(`${subject} annotation`);
    else {
      const message = `${subject} ignores part of its opt-in: ${ignored.join("; ")}`;
      this.#warnOnce(`${subject} annotation`, workload, message, "RolloutIgnored");
    }
    if (decision.action === "none" || decision.hash === undefined) return undefined;

    const now = this.#o.clock.now();
    const hash = decision.hash;
    const patch =
      decision.action === "record"
        ? { metadata: { [credentialHashAnnotation]: hash } }
        : {
            metadata: { [credentialHashAnnotation]: hash },
            template: { [credentialHashAnnotation]: hash, [restartedAtAnnotation]: stamp(now) },
          };
    const base = { kind, namespace, name: metadata.name, hash, time: stamp(now) };
    try {
      await this.#o.kube.workloads.patchAnnotations(kind, namespace, metadata.name, patch);
    } catch (error) {
      const failure = patchFailure(subject, error);
      this.#o.logger.warn({ err: error, workload: subject }, failure.message);
      for (const connection of involved)
        this.#warnOnce(`${connection.metadata.name} ${subject}`, connection, failure.message);
      if (failure.reason !== "WorkloadGone") this.#warnOnce(`${subject} patch`, workload, failure.message);
      return { ...base, result: "Failed", ...failure };
    }
    this.#warned.delete(`${subject} patch`);
    for (const connection of involved) this.#warned.delete(`${connection.metadata.name} ${subject}`);
    if (decision.action === "record") {
      const message = `recorded credential hash ${hash} on ${subject}: ${decision.message}`;
      this.#events.record(workload, "Normal", "CredentialRecorded", message);
      this.#o.logger.info({ workload: subject, hash }, message);
      return { ...base, result: "Recorded", reason: decision.reason, message };
    }
    const message = `rolled ${subject}: ${decision.message}`;
    for (const connection of involved) {
      this.#o.metrics.countWorkloadRestart(connection.metadata.name, kind);
      this.#events.record(connection, "Normal", "Rolled", message);
    }
    this.#events.record(workload, "Normal", "Rolled", message);
    this.#o.logger.info({ workload: subject, hash }, message);
    return { ...base, result: "Rolled", reason: decision.reason, message };
  }

  #warnOnce(
    key: string,
    object: Workload | CentralConnection,
    message: string,
    reason: RolloutEventReason = "RolloutFailed",
  ): void {
    if (this.#warned.get(key) === message) return;
    this.#warned.set(key, message);
    this.#events.record(object, "Warning", reason, message);
  }

  async #writeStatus(name: string): Promise<void> {
    const records = this.#pending.get(name);
    if (records === undefined) return;
    const { kube, logger } = this.#o;
    try {
      await updateWithRetry(
        () => kube.centralConnections.get(name),
        (current) => {
          const rollouts = withRecords(current.status?.rollouts, records);
          if (rollouts === undefined) return undefined;
          current.status = { ...current.status, rollouts };
          return current;
        },
        (next) => kube.centralConnections.updateStatus(next),
      );
      this.#pending.delete(name);
    } catch (error) {
      logger.warn({ err: error, connection: name }, "could not write status.rollouts; retrying later");
    }
  }
}

/** The leaf's serial and when the hub issued it, for messages and for the adoption rule. */
function leafFacts(secret: V1Secret | undefined): { serial?: string; issuedAt?: Date } {
  try {
    const chain = secretText(secret, secretKeys.certificate) ?? "";
    const leaf = certificateInfo(splitPemBundle(chain)[0] ?? "");
    return { serial: leaf.serial, issuedAt: new Date(grantedFrom(leaf.notBefore, leaf.notAfter)) };
  } catch {
    return {};
  }
}

/** RFC 3339 in whole seconds, as `kubectl rollout restart` writes kubectl.kubernetes.io/restartedAt. */
function stamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
