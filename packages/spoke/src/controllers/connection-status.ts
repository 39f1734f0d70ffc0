/**
 * Builds a CentralConnection's status (SPEC §3.1) from what one reconcile learned. Pure: the
 * controller gathers, this file decides what the operator reads.
 */
import type { CentralConnectionStatus, CertificateStatus } from "../kube/types.ts";
import type { ReadinessReason, SyncOutcome } from "../policy/readiness.ts";
import type { CertificateFacts, Violation } from "../policy/state.ts";
import type { DesiredCondition } from "./conditions.ts";
import { setCondition } from "./conditions.ts";

export interface StatusInput {
  previous: CentralConnectionStatus | undefined;
  generation: number | undefined;
  now: Date;
  /** The certificate in the Secret, else the one the agent holds; undefined keeps the last known. */
  certificate: CertificateFacts | undefined;
  renewalTime: Date | undefined;
  sync: SyncOutcome | undefined;
  lastSuccess: Date | undefined;
  ready: Violation<ReadinessReason>;
  issuing: DesiredCondition;
  /** The latest failure in words; undefined clears status.error. */
  error: string | undefined;
  failedAttempts: number;
}

export function connectionStatus(input: StatusInput): CentralConnectionStatus {
  const { previous, now, generation } = input;
  const status: CentralConnectionStatus = {};
  const certificateStatus = input.certificate
    ? describeCertificate(input.certificate, input.renewalTime)
    : previous?.certificateStatus;
  if (certificateStatus) status.certificateStatus = certificateStatus;
  const lastSync = input.sync?.at.toISOString() ?? previous?.synchronizationStatus?.lastSync;
  const lastSuccess = input.lastSuccess?.toISOString() ?? previous?.synchronizationStatus?.lastSuccess;
  if (lastSync !== undefined || lastSuccess !== undefined) {
    status.synchronizationStatus = {
      ...(lastSync === undefined ? {} : { lastSync }),
      ...(lastSuccess === undefined ? {} : { lastSuccess }),
    };
  }
  if (input.error !== undefined) status.error = { message: input.error };
  const readyStatus = input.ready.reason === "Connected" ? "True" : "False";
  let conditions = setCondition(
    previous?.conditions,
    { type: "Ready", status: readyStatus, reason: input.ready.reason, message: input.ready.message },
    now,
    generation,
  );
  conditions = setCondition(conditions, input.issuing, now, generation);
  status.conditions = conditions;
  status.failedAttempts = input.failedAttempts;
  // The rollout controller's own field (controllers/rollout/): kept as it is.
  if (previous?.rollouts !== undefined) status.rollouts = previous.rollouts;
  return status;
}

function describeCertificate(
  certificate: CertificateFacts,
  renewalTime: Date | undefined,
): CertificateStatus {
  return {
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
    ...(renewalTime === undefined ? {} : { renewalTime: renewalTime.toISOString() }),
    serialNumber: certificate.serial,
    sha256: certificate.sha256,
  };
}
