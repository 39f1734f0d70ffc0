/**
 * "Is this connection ready?" (docs/renewal.md#connection-upkeep): the credential must be usable and the last call to the hub
 * must have succeeded. The first violation becomes the Ready condition's reason and message; without
 * one the connection is Ready with reason Connected.
 */
import type { SyncFailureReason } from "../kube/types.ts";
import { type Chain, type Check, type Violation, evaluate } from "./chain.ts";
import { credentialPresent, validity } from "./checks.ts";
import type { CredentialState } from "./state.ts";

export type { SyncFailureReason };

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
  /** undefined until the first sync of the connection. */
  sync: SyncOutcome | undefined;
  now: Date;
}

export const hubAccepts: Check<ReadinessInput, SyncFailureReason | "SyncPending"> = ({ sync }) => {
  if (sync === undefined) return { reason: "SyncPending", message: "waiting for the first call to the hub" };
  return sync.ok ? undefined : { reason: sync.reason, message: sync.message };
};

export const readinessChain: Chain<ReadinessInput, ReadinessReason> = [
  credentialPresent,
  validity,
  hubAccepts,
];

export function readiness(input: ReadinessInput): Violation<ReadinessReason> {
  const violation = evaluate(readinessChain, input);
  if (violation) return violation;
  const notAfter = input.credential.certificate?.notAfter.toISOString() ?? "unknown";
  return { reason: "Connected", message: `the hub accepts the certificate; it is valid until ${notAfter}` };
}
