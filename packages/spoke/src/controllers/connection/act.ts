/**
 * What a reconcile does once decided (docs/renewal.md#connection-upkeep): rewrite a lost Secret from memory, reset
 * spec.renewNow, call the hub for management info over mTLS and, when the plan has a renewal reason,
 * renew with a new key and a CSR of the current subject, stored in one Secret write. Each outcome goes
 * to metrics, Events and the log here, and to status through the returned outcome.
 */
import type { ManagementInfo, TrustBundle } from "@tether/shared/contract";
import { ErrorMessages } from "@tether/shared/contract";
import {
  createCsr,
  decodeBase64Pem,
  exportPrivateKeyPem,
  generateKeyPair,
  parseSubject,
  splitPemBundle,
} from "@tether/shared/pki";
import type { Clock } from "@tether/shared/time";
import type { Logger } from "pino";
import {
  type Credentials,
  type HeldCredential,
  heldFromIssued,
  pemFingerprints,
  secretLabel,
  storedState,
  writeCredentialSecret,
} from "../../credential/secret.ts";
import type { ConnectionMetrics } from "../../health/metrics.ts";
import { type HubClient, type MtlsOptions, trustBundleUrl } from "../../hub-client/client.ts";
import { HubError } from "../../hub-client/errors.ts";
import { updateWithRetry } from "../../kube/conflict.ts";
import type { KubePort } from "../../kube/port.ts";
import type { TrustBundleStatus } from "../../kube/types.ts";
import type { SyncOutcome } from "../../policy/readiness.ts";
import { trustDifferences } from "../../policy/rotation.ts";
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
  /** The connection the bootstrap flow made (--cluster-name): it joins again by itself. */
  bootstrapConnection?: string;
}

export interface Outcome extends Attempt {
  /** The spec generation after the controller's own spec write (the renewNow reset). */
  generation: number | undefined;
  /** This reconcile's call for management info. */
  sync?: SyncOutcome;
  /** The credential as the Secret now holds it: as decided, or the renewal just stored. */
  credential: CredentialState;
  renewed?: HeldCredential;
  /** The hub's trust bundle as read by this reconcile; undefined: not read (or a hub without one). */
  trust?: TrustBundleStatus;
  /** The hub answered 404 for the trust bundle: it does not rotate its CA. */
  noTrustBundle?: boolean;
  /** What the trust update wrote to the Secret, when it wrote. */
  trustUpdated?: string[];
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
  held: HeldCredential,
  outcome: Outcome,
): Promise<void> {
  const { hub, metrics, events, clock, logger } = deps;
  let client = held;
  const { connection, ref, now } = gathered;
  const name = connection.metadata.name;
  const tls = mtls(client, deps.hubCaPem);
  let info: ManagementInfo;
  try {
    info = await hub.getManagementInfo(connection.spec.managementInfoUrl, tls);
  } catch (error) {
    metrics.countSync(name, "failure");
    const sync = syncFailure(error, now, name === deps.bootstrapConnection);
    outcome.sync = sync;
    outcome.failure = { at: now, message: sync.message };
    // A lasting failure is one Event, not one per sync period; status remembers the last one.
    const last = lastSyncOf(connection.status);
    if (last?.ok !== false || last.message !== sync.message) {
      events.record(
        connection,
        "Warning",
        sync.reason === "Revoked" || sync.reason === "IssuerRetired" ? sync.reason : "SyncFailed",
        sync.message,
      );
    }
    logger.warn({ connection: name, reason: sync.reason }, sync.message);
    return;
  }
  metrics.countSync(name, "success");
  outcome.sync = { ok: true, at: now };
  memory.assigned = assignedSubject(info.certificate.subject) ?? memory.assigned;
  const bundle = await readTrust(deps, gathered, outcome, tls);
  if (bundle) client = await updateTrust(deps, gathered, memory, client, bundle, outcome);
  const violation = plan.violation;
  if (violation === undefined) {
    outcome.succeeded = true;
    return;
  }
  let renewed: HeldCredential;
  try {
    renewed = await renew(hub, info, client, mtls(client, deps.hubCaPem), bundle);
  } catch (error) {
    const message = `renewal (${violation.reason}) failed: ${errorText(error)}`;
    outcome.failure = { at: clock.now(), message };
    events.record(connection, "Warning", "RenewalFailed", message);
    logger.warn({ connection: name, reason: violation.reason }, message);
    return;
  }
  // From here on the agent holds the new certificate: a failed write is repaired from memory.
  memory.held = renewed;
  memory.unstored = true;
  memory.renewNowServed = connection.spec.renewNow === true;
  const { serial, notAfter } = renewed.certificate;
  try {
    await writeCredentialSecret(deps.kube, ref, name, renewed.credentials);
    memory.unstored = false;
  } catch (error) {
    const message = `renewed certificate ${serial} could not be stored in Secret ${secretLabel(ref)}: ${errorText(error)}`;
    outcome.failure = { at: clock.now(), message };
    events.record(connection, "Warning", "RenewalFailed", message);
    logger.warn({ connection: name, serial }, message);
    return;
  }
  outcome.succeeded = true;
  outcome.renewed = renewed;
  outcome.credential = storedState(ref, renewed);
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

/**
 * A new key and certificate. With a trust bundle, ca.crt keeps every CA the hub trusts (plus the
 * new certificate's issuer, should the hub have activated another CA since): a renewal during a
 * rotation must not undo the trust update.
 */
async function renew(
  hub: HubClient,
  info: ManagementInfo,
  client: HeldCredential,
  tls: MtlsOptions,
  bundle: DecodedBundle | undefined,
): Promise<HeldCredential> {
  const key = await generateKeyPair(info.certificate["key-algorithm"]);
  const csr = await createCsr(key, parseSubject(info.certificate.subject));
  const issued = await hub.renewCertificate(info.urls.renewCertUrl, csr, tls);
  const trustPem =
    bundle === undefined || pemFingerprints(bundle.clientCas).includes(pemFingerprints(issued.caPem)[0] ?? "")
      ? (bundle?.clientCas ?? issued.caPem)
      : `${bundle.clientCas}${issued.caPem}`;
  return heldFromIssued({
    ...client.credentials,
    chainPem: issued.chainPem,
    keyPem: await exportPrivateKeyPem(key),
    trustPem,
  });
}

interface DecodedBundle {
  bundle: TrustBundle;
  clientCas: string;
  /** undefined: the hub's serving certificate chains to a public root; the kubeconfig's CA stays. */
  serverCas: string | undefined;
}

/**
 * The trust bundle, read after every successful management info call. A 404 is a hub without CA
 * rotation: nothing changes. Any other failure costs this sync nothing (the management info call
 * succeeded); the next sync reads it again.
 */
async function readTrust(
  deps: ActDeps,
  gathered: Gathered,
  outcome: Outcome,
  tls: MtlsOptions,
): Promise<DecodedBundle | undefined> {
  const { connection, now } = gathered;
  let bundle: TrustBundle | undefined;
  let decoded: DecodedBundle;
  try {
    bundle = await deps.hub.getTrustBundle(trustBundleUrl(connection.spec.managementInfoUrl), tls);
    if (bundle === undefined) {
      outcome.noTrustBundle = true;
      return undefined;
    }
    const clientCas = normalisePem(decodeBase64Pem(bundle.clientCas));
    if (clientCas === "") throw new Error("the trust bundle's clientCas holds no certificate");
    const serverCas = bundle.serverCas === "" ? undefined : normalisePem(decodeBase64Pem(bundle.serverCas));
    decoded = { bundle, clientCas, serverCas };
  } catch (error) {
    deps.logger.warn(
      { connection: connection.metadata.name, err: errorText(error) },
      "could not read the hub's trust bundle; trying again at the next sync",
    );
    return undefined;
  }
  const previous = connection.status?.trustBundle;
  outcome.trust = {
    phase: bundle.phase,
    activeSha256: bundle.activeSha256,
    activeSince: previous?.activeSha256 === bundle.activeSha256 ? previous.activeSince : now.toISOString(),
    renewalWindowSeconds: bundle.renewalWindowSeconds,
    cas: bundle.cas.map(({ sha256, phase, notAfter }) => ({ sha256, phase, notAfter })),
  };
  return decoded;
}

/**
 * ca.crt and the kubeconfig's certificate-authority-data as the hub publishes them, in one Secret
 * write; answers the credential the agent presents from now on.
 */
async function updateTrust(
  deps: ActDeps,
  gathered: Gathered,
  memory: Memory,
  client: HeldCredential,
  decoded: DecodedBundle,
  outcome: Outcome,
): Promise<HeldCredential> {
  const { connection, ref } = gathered;
  const name = connection.metadata.name;
  const current = client.credentials;
  const changed = trustDifferences(
    { trust: pemFingerprints(current.trustPem), serverCa: pemFingerprints(current.serverCaPem) },
    { trust: pemFingerprints(decoded.clientCas), serverCa: pemFingerprints(decoded.serverCas) },
  );
  if (changed.length === 0) return client;
  const credentials: Credentials = {
    ...current,
    trustPem: decoded.clientCas,
    serverCaPem: decoded.serverCas ?? current.serverCaPem,
  };
  const updated: HeldCredential = { ...client, credentials };
  try {
    await writeCredentialSecret(deps.kube, ref, name, credentials);
  } catch (error) {
    // Not a failed sync: the old trust still works until the hub's next step; the next sync retries.
    deps.logger.warn(
      { connection: name, err: errorText(error) },
      `could not store the hub's new trust in Secret ${secretLabel(ref)}; trying again at the next sync`,
    );
    return client;
  }
  if (memory.held === client) memory.held = updated;
  outcome.trustUpdated = changed;
  outcome.credential = storedState(ref, updated);
  const { bundle } = decoded;
  const message = `stored the hub's trust (phase ${bundle.phase}, ${bundle.cas.length} CA${bundle.cas.length === 1 ? "" : "s"}, active ${bundle.activeSha256.slice(0, 16)}…) in ${changed.join(" and ")} of Secret ${secretLabel(ref)}`;
  deps.events.record(connection, "Normal", "TrustUpdated", message);
  deps.logger.info({ connection: name, phase: bundle.phase, changed }, "trust updated");
  return updated;
}

/** One certificate after another, each in its canonical PEM form. */
function normalisePem(pem: string): string {
  return splitPemBundle(pem)
    .map((block) => `${block.trim()}\n`)
    .join("");
}

function mtls(client: HeldCredential, hubCaPem: string | undefined): MtlsOptions {
  const { chainPem, keyPem, serverCaPem, proxyUrl } = client.credentials;
  return { certPem: chainPem, keyPem, caPem: serverCaPem ?? hubCaPem, proxyUrl };
}

function syncFailure(
  error: unknown,
  at: Date,
  bootstrapJoined: boolean,
): Extract<SyncOutcome, { ok: false }> {
  if (error instanceof HubError && error.hubMessage === ErrorMessages.issuerRetired) {
    const next = bootstrapJoined
      ? "the agent joins again with its bootstrap kubeconfig"
      : "enrol the cluster again: apply a new CertificateRequest with a fresh token URL";
    return {
      ok: false,
      at,
      reason: "IssuerRetired",
      message: `the hub retired the CA that issued the client certificate (hub: ${error.hubMessage}); ${next}`,
    };
  }
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
