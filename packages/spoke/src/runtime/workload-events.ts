/**
 * Events of the rollout controller: on the workload it rolled (in the workload's namespace) and on
 * the CentralConnection whose credential changed (cluster-scoped: in "default", as
 * runtime/events.ts explains). Best effort, like every Event of the agent: a failed Event never
 * fails the rollout it reports.
 */
import type { Clock } from "@tether/shared/time";
import type { Logger } from "pino";
import type { KubePort } from "../kube/port.ts";
import { clusterScopedEventNamespace } from "./events.ts";

export type RolloutEventReason = "Rolled" | "CredentialRecorded" | "RolloutFailed" | "RolloutIgnored";

export interface InvolvedObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export type RolloutEvents = (
  object: InvolvedObject,
  type: "Normal" | "Warning",
  reason: RolloutEventReason,
  message: string,
) => void;

export function rolloutEvents(options: {
  kube: KubePort;
  clock: Clock;
  logger: Logger;
  instance: string;
}): RolloutEvents {
  const { kube, clock, logger, instance } = options;
  return (object, type, reason, message) => {
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
  };
}
