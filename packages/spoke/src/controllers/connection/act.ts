/**
 * What a reconcile does once decided (docs/renewal.md#connection-upkeep): rewrite a lost Secret from memory, reset
 * spec.renewNow, call the hub for management info over mTLS and, when the plan has a renewal reason,
 * renew with a new key and a CSR of the current subject, stored in one Secret write. Each outcome goes
 * to metrics, Events and the log here, and to status through the returned outcome.
 */
import type { ManagementInfo } from "@tether/shared/contract";
import { ErrorMessages } from "@tether/shared/contract";
import { createCsr, exportPrivateKeyPem, generateKeyPair, parseSubject } from "@tether/shared/pki";
import type { Clock } from "@tether/shared/time";
import type { Logger } from "pino";
import {
  type HeldCredential,
  heldFromIssued,
  secretLabel,
  storedState,
  writeCredentialSecret,
} from "../../credential/secret.ts";
import type { ConnectionMetrics } from "../../health/metrics.ts";
import type { HubClient, MtlsOptions } from "../../hub-client/client.ts";
import { HubError } from "../../hub-client/errors.ts";
import { updateWithRetry } from "../../kube/conflict.ts";
import type { KubePort } from "../../kube/port.ts";
import type { SyncOutcome } from "../../policy/readiness.ts";
import type { CredentialState } from "../../policy/state.ts";
import type { EventRecorder } from "../../runtime/events.ts";
import { type Gathered, type Plan, assignedSubject, lastSyncOf } from "./decide.ts";
import type { Memory } from "./memory.ts";
import type { Attempt } from "./status.ts";

export interface ActDeps {
  kube: KubePort;
  hub: HubClient;
  clock: Clock;
  logger: Logger;
  events: EventRecorder;
  metrics: ConnectionMetrics;
  hubCaPem?: string;
}

export interface Outcome extends Attempt {
  /** The spec generation after the controller's own spec write (the renewNow reset). */
  generation: number | undefined;
  /** This reconcile's call for management info. */
  sync?: SyncOutcome;
  /** The credential as the Secret now holds it: as decided, or the renewal just stored. */
  credential: CredentialState;
  renewed?: HeldCredential;
}

export async function act(deps: ActDeps, gathered: Gathered, memory: Memory, plan: Plan): Promise<Outcome> {
  const { connection, ref } = gathered;
  const outcome: Outcome = {
    generation: connection.metadata.generation,
    credential: plan.credential,
    succeeded: false,
  };
  if (plan.restore && memory.held) {
    // The hub issued a newer certificate than the Secret shows (its write failed): write it again.
    await writeCredentialSecret(deps.kube, ref, connection.metadata.name, memory.held.credentials);
    memory.unstored = false;
    outcome.succeeded = true;
  }
  if (plan.resetRenewNow)
    outcome.generation = await resetRenewNow(deps.kube, memory, connection.metadata.name);
  if (plan.call && plan.client) await callHub(deps, gathered, memory, plan, plan.client, outcome);
  return outcome;
}

async function callHub(
  deps: ActDeps,
  gathered: Gathered,
  memory: Memory,
  plan: Plan,
  client: HeldCredential,
  outcome: Outcome,
): Promise<void> {
  const { hub, metrics, events, clock, logger } = deps;
  const { connection, ref, now } = gathered;
  const name = connection.metadata.name;
  const tls = mtls(client, deps.hubCaPem);
  let info: ManagementInfo;
  try {
    info = await hub.getManagementInfo(connection.spec.managementInfoUrl, tls);
  } catch (error) {
    metrics.countSync(name, "failure");
    const sync = syncFailure(error, now);
    outcome.sync = sync;
    outcome.failure = { at: now, message: sync.message };
    // A lasting failure is one Event, not one per sync period; status remembers the last one.
    const last = lastSyncOf(connection.status);
    if (last?.ok !== false || last.message !== sync.message) {
      events.record(
        connection,
        "Warning",
        sync.reason === "Revoked" ? "Revoked" : "SyncFailed",
        sync.message,
      );
    }
    logger.warn({ connection: name, reason: sync.reason }, sync.message);
    return;
  }
  metrics.countSync(name, "success");
  outcome.sync = { ok: true, at: now };
  memory.assigned = assignedSubject(info.certificate.subject) ?? memory.assigned;
  const violation = plan.violation;
  if (violation === undefined) {
    outcome.succeeded = true;
    return;
  }
  let held: HeldCredential;
  try {
    held = await renew(hub, info, client, tls);
  } catch (error) {
    const message = `renewal (${violation.reason}) failed: ${errorText(error)}`;
    outcome.failure = { at: clock.now(), message };
    events.record(connection, "Warning", "RenewalFailed", message);
    logger.warn({ connection: name, reason: violation.reason }, message);
    return;
  }
  // From here on the agent holds the new certificate: a failed write is repaired from memory.
  memory.held = held;
  memory.unstored = true;
  memory.renewNowServed = connection.spec.renewNow === true;
  const { serial, notAfter } = held.certificate;
  try {
    await writeCredentialSecret(deps.kube, ref, name, held.credentials);
    memory.unstored = false;
  } catch (error) {
    const message = `renewed certificate ${serial} could not be stored in Secret ${secretLabel(ref)}: ${errorText(error)}`;
    outcome.failure = { at: clock.now(), message };
    events.record(connection, "Warning", "RenewalFailed", message);
    logger.warn({ connection: name, serial }, message);
    return;
  }
  outcome.succeeded = true;
  outcome.renewed = held;
  outcome.credential = storedState(ref, held);
  const message = `renewed (${violation.reason}: ${violation.message}): certificate ${serial} valid until ${notAfter.toISOString()} stored in Secret ${secretLabel(ref)}`;
  events.record(connection, "Normal", "Renewed", message);
  logger.info({ connection: name, reason: violation.reason, serial }, "certificate renewed");
  if (memory.renewNowServed) outcome.generation = await resetRenewNow(deps.kube, memory, name);
}

/** Sets spec.renewNow back to false; answers the generation the spec has then. */
async function resetRenewNow(kube: KubePort, memory: Memory, name: string): Promise<number | undefined> {
  const updated = await updateWithRetry(
    () => kube.centralConnections.get(name),
    (current) => {
      if (current.spec.renewNow !== true) return undefined;
      current.spec.renewNow = false;
      return current;
    },
    (next) => kube.centralConnections.update(next),
  );
  memory.renewNowServed = false;
  return updated?.metadata.generation;
}

async function renew(
  hub: HubClient,
  info: ManagementInfo,
  client: HeldCredential,
  tls: MtlsOptions,
): Promise<HeldCredential> {
  const key = await generateKeyPair(info.certificate["key-algorithm"]);
  const csr = await createCsr(key, parseSubject(info.certificate.subject));
  const issued = await hub.renewCertificate(info.urls.renewCertUrl, csr, tls);
  return heldFromIssued({
    ...client.credentials,
    chainPem: issued.chainPem,
    keyPem: await exportPrivateKeyPem(key),
    trustPem: issued.caPem,
  });
}

function mtls(client: HeldCredential, hubCaPem: string | undefined): MtlsOptions {
  const { chainPem, keyPem, serverCaPem, proxyUrl } = client.credentials;
  return { certPem: chainPem, keyPem, caPem: serverCaPem ?? hubCaPem, proxyUrl };
}

function syncFailure(error: unknown, at: Date): Extract<SyncOutcome, { ok: false }> {
  if (error instanceof HubError && error.hubMessage === ErrorMessages.certificateRevoked) {
    return {
      ok: false,
      at,
      reason: "Revoked",
      message: `the hub refused the client certificate: ${error.hubMessage}`,
    };
  }
  if (error instanceof HubError && !error.transient)
    return { ok: false, at, reason: "HubRefused", message: error.message };
  return { ok: false, at, reason: "HubUnreachable", message: errorText(error) };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
