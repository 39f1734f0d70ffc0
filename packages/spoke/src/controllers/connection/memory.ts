/**
 * What the connection controller remembers per connection between reconciles, and the small
 * decisions about it: which credential to hold, when the Secret must be rewritten from memory, and
 * what the Issuing condition says.
 */
import type { ManagementInfo } from "@tether/shared/contract";
import type { SyncOutcome } from "../policy/readiness.ts";
import type { Violation } from "../policy/state.ts";
import type { DesiredCondition } from "./conditions.ts";
import type { HeldCredential, InspectedSecret } from "./credentials.ts";

export interface Memory {
  /** spec.establishedAt this memory belongs to: a re-enrolment starts afresh. */
  establishedAt: string;
  /** The newest valid credential seen: issued by this agent or read from the Secret. */
  held?: HeldCredential;
  /** The last successful management info. */
  info?: ManagementInfo;
  sync?: SyncOutcome;
  lastSuccess?: Date;
  nextSyncAt?: number;
  /** No hub call before this time (backoff after a failure), unless the spec changes. */
  retryAt?: number;
  failedAttempts: number;
  error?: string;
  observedGeneration?: number;
  /** sha256 of a renewed certificate not yet stored in the Secret. */
  unstored?: string;
  /** A renewal asked for by spec.renewNow got its certificate: reset the flag once it is stored. */
  renewNowServed?: boolean;
  /** The last warning recorded as an Event, so that a lasting failure is not repeated every sync. */
  lastWarning?: string;
}

/**
 * Takes the Secret's credential as the held one when nothing is held yet, when it is the same
 * certificate, or when it is a newer certificate for the same subject. A certificate for another
 * subject is never adopted: the WrongIdentity policy renews over it with the held credential.
 */
export function adopt(memory: Memory, inspected: InspectedSecret): void {
  const fromSecret = inspected.held;
  if (fromSecret === undefined || inspected.state.chain?.ok === false || memory.unstored !== undefined)
    return;
  const held = memory.held;
  if (
    held === undefined ||
    held.certificate.sha256 === fromSecret.certificate.sha256 ||
    (fromSecret.certificate.notAfter > held.certificate.notAfter &&
      JSON.stringify(fromSecret.certificate.subject) === JSON.stringify(held.certificate.subject))
  ) {
    memory.held = fromSecret;
  }
}

/** True when the hub issued a certificate whose Secret write was lost: write it from memory. */
export function restoreSecret(memory: Memory, inspected: InspectedSecret, now: Date): boolean {
  const held = memory.held;
  if (held === undefined || memory.unstored !== held.certificate.sha256) return false;
  return now < held.certificate.notAfter && inspected.state.certificate?.sha256 !== held.certificate.sha256;
}

export function issuingCondition(
  violation: Violation | undefined,
  memory: Memory,
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
  if (memory.failedAttempts > 0) {
    const next =
      memory.retryAt === undefined ? "" : `; next attempt at ${new Date(memory.retryAt).toISOString()}`;
    return {
      type: "Issuing",
      status: "False",
      reason: "Failed",
      message: `${violation.reason}: attempt ${memory.failedAttempts} failed: ${memory.error ?? "unknown error"}${next}`,
    };
  }
  return { type: "Issuing", status: "True", reason: violation.reason, message: violation.message };
}
