/**
 * One round of a connection with the hub (SPEC §3.3): management info over mTLS, then, when the
 * renewal chain asks for it, a renewal with a new key and a CSR of the current subject, stored in one
 * Secret write. Every outcome lands in the connection's memory (failures with backoff), in metrics,
 * in Events and in the log.
 */
import type { ManagementInfo } from "@tether/shared/contract";
import { ErrorMessages } from "@tether/shared/contract";
import { createCsr, exportPrivateKeyPem, generateKeyPair, parseSubject } from "@tether/shared/pki";
import type { Clock } from "@tether/shared/time";
import type { Logger } from "pino";
import type { ConnectionMetrics } from "../health/metrics.ts";
import type { HubClient, MtlsOptions } from "../hub-client/client.ts";
import { HubError } from "../hub-client/errors.ts";
import type { KubePort } from "../kube/port.ts";
import type { CentralConnection, SecretReference } from "../kube/types.ts";
import type { SyncOutcome } from "../policy/readiness.ts";
import type { Violation } from "../policy/state.ts";
import { backoffDelay } from "./backoff.ts";
import type { Memory } from "./connection-memory.ts";
import { type HeldCredential, heldFromIssued, secretLabel, writeCredentialSecret } from "./credentials.ts";
import type { EventRecorder } from "./events.ts";

export interface RoundDeps {
  kube: KubePort;
  hub: HubClient;
  clock: Clock;
  logger: Logger;
  events: EventRecorder;
  metrics: ConnectionMetrics;
  syncPeriodMs: number;
  hubCaPem?: string;
  backoff: { baseMs: number; capMs: number };
}

export interface Round {
  connection: CentralConnection;
  ref: SecretReference;
  memory: Memory;
  /** The valid credential presented to the hub. */
  client: HeldCredential;
  now: Date;
}

/** Answers the new credential when the round renewed and stored one. */
export async function hubRound(
  deps: RoundDeps,
  round: Round,
  violationNow: () => Violation | undefined,
): Promise<HeldCredential | undefined> {
  const { hub, metrics, events, clock, logger } = deps;
  const { connection, ref, memory, client, now } = round;
  const name = connection.metadata.name;
  const tls = mtls(client, deps.hubCaPem);
  memory.nextSyncAt = now.getTime() + deps.syncPeriodMs;
  let info: ManagementInfo;
  try {
    info = await hub.getManagementInfo(connection.spec.managementInfoUrl, tls);
  } catch (error) {
    metrics.countSync(name, "failure");
    const sync = syncFailure(error, now);
    memory.sync = sync;
    failed(deps, memory, now, sync.message);
    // A lasting failure is one Event, not one per sync period.
    if (memory.lastWarning !== sync.message) {
      memory.lastWarning = sync.message;
      events.record(
        connection,
        "Warning",
        sync.reason === "Revoked" ? "Revoked" : "SyncFailed",
        sync.message,
      );
    }
    logger.warn({ connection: name, reason: sync.reason }, sync.message);
    return undefined;
  }
  metrics.countSync(name, "success");
  memory.info = info;
  memory.sync = { ok: true, at: now };
  memory.lastSuccess = now;
  memory.lastWarning = undefined;
  const violation = violationNow();
  if (violation === undefined) {
    succeeded(memory);
    return undefined;
  }
  let held: HeldCredential;
  try {
    held = await renew(hub, info, client, tls);
  } catch (error) {
    const message = `renewal (${violation.reason}) failed: ${errorText(error)}`;
    failed(deps, memory, clock.now(), message);
    events.record(connection, "Warning", "RenewalFailed", message);
    logger.warn({ connection: name, reason: violation.reason }, message);
    return undefined;
  }
  // From here on the agent holds the new certificate: a failed write is repaired from memory.
  memory.held = held;
  memory.unstored = held.certificate.sha256;
  memory.renewNowServed = connection.spec.renewNow === true;
  const { serial, notAfter } = held.certificate;
  try {
    await writeCredentialSecret(deps.kube, ref, name, held.credentials);
    memory.unstored = undefined;
  } catch (error) {
    const message = `renewed certificate ${serial} could not be stored in Secret ${secretLabel(ref)}: ${errorText(error)}`;
    failed(deps, memory, clock.now(), message);
    events.record(connection, "Warning", "RenewalFailed", message);
    logger.warn({ connection: name, serial }, message);
    return undefined;
  }
  succeeded(memory);
  const message = `renewed (${violation.reason}: ${violation.message}): certificate ${serial} valid until ${notAfter.toISOString()} stored in Secret ${secretLabel(ref)}`;
  events.record(connection, "Normal", "Renewed", message);
  logger.info({ connection: name, reason: violation.reason, serial }, "certificate renewed");
  return held;
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

function failed(deps: RoundDeps, memory: Memory, now: Date, message: string): void {
  memory.failedAttempts++;
  memory.error = message;
  memory.retryAt =
    now.getTime() + backoffDelay(memory.failedAttempts, deps.backoff.baseMs, deps.backoff.capMs);
}

function succeeded(memory: Memory): void {
  memory.failedAttempts = 0;
  memory.error = undefined;
  memory.retryAt = undefined;
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
