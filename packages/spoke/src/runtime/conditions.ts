/**
 * metav1.Condition bookkeeping as apimachinery's SetStatusCondition does it: lastTransitionTime moves
 * only when the status flips, so a condition that keeps its status keeps its time.
 */
import type { Condition, ConditionStatus, ConditionType } from "../kube/types.ts";

export interface DesiredCondition {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
}

export function setCondition(
  conditions: readonly Condition[] | undefined,
  desired: DesiredCondition,
  now: Date,
  observedGeneration: number | undefined,
): Condition[] {
  const existing = conditions?.find((c) => c.type === desired.type);
  const next: Condition = {
    ...desired,
    lastTransitionTime:
      existing !== undefined && existing.status === desired.status
        ? existing.lastTransitionTime
        : now.toISOString(),
  };
  if (observedGeneration !== undefined) next.observedGeneration = observedGeneration;
  return [...(conditions ?? []).filter((c) => c.type !== desired.type), next];
}
