/**
 * Kubernetes Events on the two custom resources (docs/renewal.md#connection-upkeep). The CRs are cluster-scoped, and the API
 * server accepts Events about a cluster-scoped object only in the "default" namespace (as client-go's
 * recorder writes them); `kubectl describe` finds them there. Recording is best effort: a failed
 * Event never fails the work it reports.
 */
import type { Clock } from "@tether/shared/time";
import type { Logger } from "pino";
import type { KubePort } from "../kube/port.ts";
import type { CustomResource } from "../kube/types.ts";

export type EventType = "Normal" | "Warning";

/** The reasons an operator sees on the CRs' Events. */
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
  | "RotationComplete";

export interface EventRecorder {
  record(object: CustomResource, type: EventType, reason: EventReason, message: string): void;
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
  const namespace = clusterScopedEventNamespace;
  return {
    record(object, type, reason, message) {
      const now = clock.now();
      const name = object.metadata.name;
      kube.events
        .create({
          metadata: { generateName: `${name}.`, namespace },
          involvedObject: {
            apiVersion: object.apiVersion,
            kind: object.kind,
            name,
            uid: object.metadata.uid,
            resourceVersion: object.metadata.resourceVersion,
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
          logger.warn({ err: error, reason, object: name }, "could not record an Event"),
        );
    },
  };
}
