/**
 * Builds a CentralConnection's status (docs/resources.md#custom-resources) from the previous status and what one reconcile
 * did, and says whether it differs from what the API server holds. Pure: the controller gathers and
 * acts, this file decides what the operator reads. Status is compared as values (the API server
 * answers keys in its own order), so an unchanged status is never written.
 */
import { isDeepStrictEqual } from "node:util";
import type {
  CentralConnectionStatus,
  CertificateStatus,
  Condition,
  TrustBundleStatus,
} from "../../kube/types.ts";
import type { Violation } from "../../policy/chain.ts";
import type { ReadinessReason, SyncOutcome } from "../../policy/readiness.ts";
import type { RenewalReason } from "../../policy/renewal.ts";
import type { RotatingVerdict } from "../../policy/rotation.ts";
import type { CertificateFacts } from "../../policy/state.ts";
import { backoffDelay } from "../../runtime/backoff.ts";
import { type DesiredCondition, setCondition } from "../../runtime/conditions.ts";
import { time } from "./decide.ts";

/** The failure bookkeeping of status, which the back-off is computed from. */
export interface Progress {
  failedAttempts: number;
  lastFailureTime?: string;
  nextAttemptTime?: string;
  /** The latest failure in words; undefined clears status.error. */
  error?: string;
}

/** What one reconcile did, as far as status cares. */
export interface Attempt {
  /** A call to the hub or a Secret write failed. */
  failure?: { at: Date; message: string };
  /** A call to the hub, or the rewrite of a lost Secret, succeeded (and nothing failed). */
  succeeded: boolean;
}

export function nextProgress(
  previous: CentralConnectionStatus | undefined,
  attempt: Attempt,
  backoff: { baseMs: number; capMs: number },
): Progress {
  if (attempt.failure) {
    const failedAttempts = (previous?.failedAttempts ?? 0) + 1;
    const { at, message } = attempt.failure;
    const next = at.getTime() + backoffDelay(failedAttempts, backoff.baseMs, backoff.capMs);
    return {
      failedAttempts,
      lastFailureTime: at.toISOString(),
      nextAttemptTime: new Date(next).toISOString(),
      error: message,
    };
  }
  if (attempt.succeeded) return { failedAttempts: 0 };
  return {
    failedAttempts: previous?.failedAttempts ?? 0,
    lastFailureTime: previous?.lastFailureTime,
    nextAttemptTime: previous?.nextAttemptTime,
    error: previous?.error?.message,
  };
}

export function issuingCondition(
  violation: Violation<RenewalReason> | undefined,
  progress: Progress,
  renewalTime: Date | undefined,
  canAuthenticate: boolean,
): DesiredCondition {
  if (violation === undefined) {
    return {
      type: "Issuing",
      status: "False",
      reason: "UpToDate",
      message: renewalTime
        ? `next renewal at ${renewalTime.toISOString()}`
        : "automatic renewal is off (spec.renewal.enabled: false); set spec.renewNow to renew",
    };
  }
  if (!canAuthenticate) {
    return {
      type: "Issuing",
      status: "False",
      reason: "CannotRenew",
      message: `${violation.reason}: ${violation.message}; no valid certificate to authenticate a renewal`,
    };
  }
  if (progress.failedAttempts > 0) {
    const nextAttempt = time(progress.nextAttemptTime);
    const next = nextAttempt === undefined ? "" : `; next attempt at ${new Date(nextAttempt).toISOString()}`;
    return {
      type: "Issuing",
      status: "False",
      reason: "Failed",
      message: `${violation.reason}: attempt ${progress.failedAttempts} failed: ${progress.error ?? "unknown error"}${next}`,
    };
  }
  return { type: "Issuing", status: "True", reason: violation.reason, message: violation.message };
}

export interface StatusInput {
  previous: CentralConnectionStatus | undefined;
  /** The spec generation this status answers. */
  generation: number | undefined;
  now: Date;
  /** The certificate in the Secret, else the one the agent holds; undefined keeps the last known. */
  certificate: CertificateFacts | undefined;
  /** SHA-256 of that certificate's issuing CA, when known. */
  issuerSha256: string | undefined;
  /** The hub's trust bundle as last read; undefined: none (a hub without CA rotation). */
  trust: TrustBundleStatus | undefined;
  rotating: RotatingVerdict;
  renewalTime: Date | undefined;
  /** The last call for management info: of this reconcile, else as status recorded it. */
  sync: SyncOutcome | undefined;
  ready: Violation<ReadinessReason>;
  issuing: DesiredCondition;
  progress: Progress;
}

export function connectionStatus(input: StatusInput): CentralConnectionStatus {
  const { previous, now, generation, sync, progress } = input;
  const status: CentralConnectionStatus = {};
  const certificateStatus = input.certificate
    ? describeCertificate(input.certificate, input.renewalTime, input.issuerSha256)
    : previous?.certificateStatus;
  if (certificateStatus) status.certificateStatus = certificateStatus;
  if (input.trust) status.trustBundle = input.trust;
  if (sync) {
    const lastSuccess = sync.ok ? sync.at.toISOString() : previous?.synchronizationStatus?.lastSuccess;
    status.synchronizationStatus = { lastSync: sync.at.toISOString(), lastSuccess };
    if (!sync.ok) status.synchronizationStatus.failure = { reason: sync.reason, message: sync.message };
  }
  if (progress.error !== undefined) status.error = { message: progress.error };
  const readyStatus = input.ready.reason === "Connected" ? "True" : "False";
  let conditions = setCondition(
    previous?.conditions,
    { type: "Ready", status: readyStatus, reason: input.ready.reason, message: input.ready.message },
    now,
    generation,
  );
  conditions = setCondition(conditions, input.issuing, now, generation);
  conditions = setCondition(
    conditions,
    { type: "CertificateAuthorityRotating", ...input.rotating },
    now,
    generation,
  );
  status.conditions = conditions;
  status.failedAttempts = progress.failedAttempts;
  status.lastFailureTime = progress.lastFailureTime;
  status.nextAttemptTime = progress.nextAttemptTime;
  return status;
}

/** True when the two say the same: key order, absent keys and the order of conditions aside. */
export function sameStatus(
  a: CentralConnectionStatus | undefined,
  b: CentralConnectionStatus | undefined,
): boolean {
  return isDeepStrictEqual(normalise(a), normalise(b));
}

function normalise(status: CentralConnectionStatus | undefined): CentralConnectionStatus {
  // A JSON round trip drops undefined members, as the API server does.
  const plain = JSON.parse(JSON.stringify(status ?? {})) as CentralConnectionStatus;
  plain.conditions?.sort((x: Condition, y: Condition) => x.type.localeCompare(y.type));
  return plain;
}

function describeCertificate(
  certificate: CertificateFacts,
  renewalTime: Date | undefined,
  issuerSha256: string | undefined,
): CertificateStatus {
  return {
    issuerSha256,
    notBefore: certificate.notBefore.toISOString(),
    notAfter: certificate.notAfter.toISOString(),
    renewalTime: renewalTime?.toISOString(),
    serialNumber: certificate.serial,
    sha256: certificate.sha256,
  };
}
