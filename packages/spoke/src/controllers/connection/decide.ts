/**
 * The decision of one reconcile, as a pure function of what was gathered (the CentralConnection with
 * its status, the inspected Secret, the memory) and the clock: whether to rewrite the Secret from
 * memory, whether to reset spec.renewNow, what the renewal chain says (evaluated once) and whether to
 * call the hub. The back-off, the sync schedule and the generation last acted on come from status,
 * so any replica that leads decides the same.
 */
import { parseSubject, type Subject } from "@tether/shared/pki";
import {
  type HeldCredential,
  type InspectedSecret,
  isValidAt,
  storedState,
} from "../../credential/secret.ts";
import type { CentralConnection, CentralConnectionStatus, SecretReference } from "../../kube/types.ts";
import type { Violation } from "../../policy/chain.ts";
import { type RenewalReason, certificateRandom, needsRenewal } from "../../policy/renewal.ts";
import { connectionJitter } from "../../policy/rotation.ts";
import type { SyncOutcome } from "../../policy/readiness.ts";
import type { CredentialState } from "../../policy/state.ts";
import type { Memory } from "./memory.ts";

export interface Gathered {
  connection: CentralConnection;
  ref: SecretReference;
  inspected: InspectedSecret;
  now: Date;
}

export interface Plan {
  /** The hub issued the held credential but its Secret write failed: write it first. */
  restore: boolean;
  /** A renewal asked for by spec.renewNow is stored: reset the flag. */
  resetRenewNow: boolean;
  /** The Secret as the chain judged it: as read, or as it will be once restored. */
  credential: CredentialState;
  violation: Violation<RenewalReason> | undefined;
  /** The valid credential the agent can present to the hub. */
  client: HeldCredential | undefined;
  /** Call the hub: management info, then a renewal when `violation` is set. */
  call: boolean;
  /** The subject the chain compared with (WrongIdentity). */
  expectedSubject: Subject | undefined;
}

export function decide(gathered: Gathered, memory: Memory, syncPeriodMs: number): Plan {
  const { connection, ref, inspected, now } = gathered;
  const status = connection.status;
  const held = memory.held;
  const restore =
    held !== undefined &&
    memory.unstored &&
    now < held.certificate.notAfter &&
    inspected.state.certificate?.sha256 !== held.certificate.sha256;
  const credential = restore ? storedState(ref, held) : inspected.state;
  const resetRenewNow =
    memory.renewNowServed && connection.spec.renewNow === true && (restore || !memory.unstored);
  const spec = resetRenewNow ? { ...connection.spec, renewNow: false } : connection.spec;
  const expectedSubject = memory.assigned ?? held?.certificate.subject;
  const certificate = credential.certificate ?? held?.certificate;
  const violation = needsRenewal({
    spec,
    credential,
    expectedSubject,
    now,
    random: certificateRandom(certificate?.sha256 ?? ""),
    trust: status?.trustBundle,
    rotationJitter: connectionJitter(connection.metadata.uid ?? connection.metadata.name),
  });
  const client = isValidAt(held, now) ? held : undefined;
  const specChanged = connection.metadata.generation !== observedGeneration(status);
  const nextAttempt = time(status?.nextAttemptTime);
  const mayCall = specChanged || nextAttempt === undefined || now.getTime() >= nextAttempt;
  const lastSync = lastSyncOf(status);
  const syncDue =
    specChanged || lastSync?.ok !== true || now.getTime() >= lastSync.at.getTime() + syncPeriodMs;
  return {
    restore,
    resetRenewNow,
    credential,
    violation,
    client,
    call: client !== undefined && mayCall && (syncDue || violation !== undefined),
    expectedSubject,
  };
}

/** The generation of the spec the status was written for. */
export function observedGeneration(status: CentralConnectionStatus | undefined): number | undefined {
  return status?.conditions?.find((c) => c.type === "Ready")?.observedGeneration;
}

/** The last management-info call as status records it; undefined before the first. */
export function lastSyncOf(status: CentralConnectionStatus | undefined): SyncOutcome | undefined {
  const sync = status?.synchronizationStatus;
  const at = time(sync?.lastSync);
  if (at === undefined) return undefined;
  return sync?.failure === undefined
    ? { ok: true, at: new Date(at) }
    : { ok: false, at: new Date(at), reason: sync.failure.reason, message: sync.failure.message };
}

/** The subject the hub names in management info; undefined when it does not parse. */
export function assignedSubject(subject: string): Subject | undefined {
  try {
    return parseSubject(subject);
  } catch {
    return undefined;
  }
}

export function time(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : at;
}
