/**
 * What a failed list or patch of a workload means to an operator: the reason word of the
 * status.rollouts entry and the message of the Event. Pure.
 */
import { KubeError, NotFoundError } from "../kube/port.ts";
import type { WorkloadKind } from "../kube/types.ts";

export interface Failure {
  reason: "Forbidden" | "ListFailed" | "WorkloadGone" | "PatchFailed";
  message: string;
}

export function listFailure(kind: WorkloadKind, namespace: string, error: unknown): Failure {
  if (error instanceof KubeError && error.status === 403) {
    return {
      reason: "Forbidden",
      message: `not allowed to list ${kind}s in namespace ${namespace}: grant the agent get, list, watch and patch there (the chart's rollout.namespaces): ${error.message}`,
    };
  }
  return {
    reason: "ListFailed",
    message: `could not list ${kind}s in namespace ${namespace}: ${text(error)}`,
  };
}

export function patchFailure(subject: string, error: unknown): Failure {
  if (error instanceof NotFoundError)
    return { reason: "WorkloadGone", message: `${subject} is gone: not rolled` };
  if (error instanceof KubeError && error.status === 403)
    return { reason: "Forbidden", message: `not allowed to patch ${subject}: ${error.message}` };
  return { reason: "PatchFailed", message: `could not patch ${subject}: ${text(error)}` };
}

function text(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
