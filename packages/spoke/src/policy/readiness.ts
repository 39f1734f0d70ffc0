/**
 * "Is this connection ready?" as a chain of pure policies: the credential must be usable and the
 * last call to the hub must have succeeded. The first violation becomes the Ready condition's
 * reason and message; without one the connection is Ready with reason Connected.
 */
import type { CredentialState, Violation } from "./state.ts";
import { keyMismatch, secretMissing, secretMissingData } from "./renewal.ts";

/** Why the last management-info call failed, as the connection controller classified it. */
export type SyncFailureReason = "Revoked" | "HubRefused" | "HubUnreachable";

export type SyncOutcome =
  { ok: true; at: Date } | { ok: false; at: Date; reason: SyncFailureReason; message: string };

export type ReadinessReason =
  | "SecretMissing"
  | "SecretMissingData"
  | "KeyMismatch"
  | "NotYetValid"
  | "Expired"
  | SyncFailureReason
  | "SyncPending"
  | "Connected";

export interface ReadinessInput {
  credential: CredentialState;
  /** undefined until the first sync of this process. */
  sync: SyncOutcome | undefined;
  now: Date;
}

export type ReadinessPolicy = (input: ReadinessInput) => Violation<ReadinessReason> | undefined;

const credentialPresent: ReadinessPolicy = (input) =>
  secretMissing(input) ?? secretMissingData(input) ?? keyMismatch(input);

const withinValidity: ReadinessPolicy = ({ credential, now }) => {
  const certificate = credential.certificate;
  if (certificate === undefined) return undefined;
  if (now < certificate.notBefore) {
    return {
      reason: "NotYetValid",
      message: `the certificate is valid from ${certificate.notBefore.toISOString()} (check the clocks)`,
    };
  }
  if (now >= certificate.notAfter) {
    return { reason: "Expired", message: `the certificate expired at ${certificate.notAfter.toISOString()}` };
  }
  return undefined;
};

const hubAccepts: ReadinessPolicy = ({ sync }) => {
  if (sync === undefined) return { reason: "SyncPending", message: "waiting for the first call to the hub" };
  return sync.ok ? undefined : { reason: sync.reason, message: sync.message };
};

export const readinessPolicies: readonly ReadinessPolicy[] = [credentialPresent, withinValidity, hubAccepts];

export function readiness(input: ReadinessInput): Violation<ReadinessReason> {
  for (const policy of readinessPolicies) {
    const violation = policy(input);
    if (violation) return violation;
  }
  const notAfter = input.credential.certificate?.notAfter.toISOString() ?? "unknown";
  return { reason: "Connected", message: `the hub accepts the certificate; it is valid until ${notAfter}` };
}
