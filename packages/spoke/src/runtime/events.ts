/**
 * Kubernetes Events, the one recorder of the agent: on the custom resources (docs/renewal.md#connection-upkeep)
 * and on the workloads the rollout controller rolls. An Event lives in its object's namespace; the
 * CRs are cluster-scoped, and the API server accepts Events about a cluster-scoped object only in
 * "default" (as client-go's recorder writes them), where `kubectl describe` finds them. Recording is
 * best effort: a failed Event never fails the work it reports.
 */
import type { Clock } from "@tether/shared/time";
import type { Logger } from "pino";
import type { KubePort } from "../kube/port.ts";

export type EventType = "Normal" | "Warning";

/** The reasons of the rollout controller's Events (on workloads and on CentralConnections). */
export type RolloutEventReason = "Rolled" | "CredentialRecorded" | "RolloutFailed" | "RolloutIgnored";

/** The reasons an operator sees on Events of the agent. */
export type EventReason =
  | "Issued"
  | "IssueFailed"
  | "Renewed"
  | "RenewalFailed"
  | "SyncFailed"
  | "Revoked"
  | "IssuerRetired"
  | "TrustUpdated"
  | "RotationRenewalScheduled"
  | "RotationComplete"
  | RolloutEventReason;

/** What an Event is about: a CR, a workload; namespaced or not. */
export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export interface EventRecorder {
  record(object: InvolvedObject, type: EventType, reason: EventReason, message: string): void;
}

/** Where Events about cluster-scoped objects must live. */
export const clusterScopedEventNamespace = "default";

export function kubeEventRecorder(options: {
  kube: KubePort;
  clock: Clock;
  logger: Logger;
  /** Pod name or host: who reported. */
  instance: string;
}): EventRecorder {
  const { kube, clock, logger, instance } = options;
  return {
    record(object, type, reason, message) {
      const now = clock.now();
      const { name, namespace, uid, resourceVersion } = object.metadata;
      kube.events
        .create({
          metadata: { generateName: `${name}.`, namespace: namespace ?? clusterScopedEventNamespace },
          involvedObject: {
            apiVersion: object.apiVersion,
            kind: object.kind,
            name,
            namespace,
            uid,
            resourceVersion,
          },
          type,
          reason,
          message: message.slice(0, 1024),
          source: { component: "tether-spoke", host: instance },
          reportingComponent: "tether.dev/spoke",
          reportingInstance: instance,
          firstTimestamp: now,
          lastTimestamp: now,
          count: 1,
        })
        .catch((error: unknown) =>
          logger.warn({ err: error, reason, object: `${object.kind} ${name}` }, "could not record an Event"),
        );
    },
  };
}
