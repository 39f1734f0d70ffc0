/**
 * The two custom resources of docs/resources.md#custom-resources (group tether.dev, version v1alpha1, cluster-scoped), typed
 * once here so that the port, the fake, the adapter and the controllers agree on every field name.
 * Times are RFC 3339 strings as the API server stores them.
 */

export const apiGroup = "tether.dev";
export const apiVersionName = "v1alpha1";
export const apiVersion = `${apiGroup}/${apiVersionName}`;

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  /** Bumped by the API server on spec changes only (status is a subresource). */
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface CertificateRequestSpec {
  /** The token URL: `https://HUB/v1/runtimes/signingRequests/info?token=T`. */
  csrInfoUrl: string;
  /** Base64 of the PEM that issued the hub's serving certificate; else --hub-ca-file, else system trust. */
  caBundle?: string;
}

export interface CertificateRequest {
  apiVersion: typeof apiVersion;
  kind: "CertificateRequest";
  metadata: ObjectMeta;
  spec: CertificateRequestSpec;
  status?: { error?: string };
}

export interface RenewalSpec {
  enabled?: boolean;
  renewAfterFraction?: number;
  renewIntervalDays?: number;
}

export interface SecretReference {
  name: string;
  namespace: string;
}

export interface CentralConnectionSpec {
  managementInfoUrl: string;
  establishedAt: string;
  renewNow?: boolean;
  renewal?: RenewalSpec;
  secretRef?: SecretReference;
}

export type ConditionType = "Ready" | "Issuing" | "CertificateAuthorityRotating";
export type ConditionStatus = "True" | "False" | "Unknown";

/** metav1.Condition. */
export interface Condition {
  type: ConditionType;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface CertificateStatus {
  notBefore: string;
  notAfter: string;
  /** Absent while automatic renewal is off. */
  renewalTime?: string;
  serialNumber: string;
  sha256: string;
  /** SHA-256 of the issuing CA certificate's DER (the second certificate of tls.crt), when known. */
  issuerSha256?: string;
}

/** Why a call for management info failed. */
export type SyncFailureReason = "Revoked" | "IssuerRetired" | "HubRefused" | "HubUnreachable";

export interface SynchronizationStatus {
  /** The last call for management info, successful or not. */
  lastSync?: string;
  lastSuccess?: string;
  /** Present while the last call failed. */
  failure?: { reason: SyncFailureReason; message: string };
}

/**
 * The hub's trust bundle as this connection last read it (docs/resources.md#certificateauthorityrotating-condition): what the
 * CertificateAuthorityRotating condition and the IssuerRotated renewal are judged against between syncs.
 */
export interface TrustBundleStatus {
  phase: "stable" | "prepared" | "activated";
  activeSha256: string;
  /** When the agent first read this activeSha256: the IssuerRotated renewal is spread from here. */
  activeSince: string;
  renewalWindowSeconds: number;
  cas: { sha256: string; phase: "next" | "active" | "retiring"; notAfter: string }[];
}

export interface CentralConnectionStatus {
  certificateStatus?: CertificateStatus;
  /** Absent while the hub publishes no trust bundle (a hub without CA rotation). */
  trustBundle?: TrustBundleStatus;
  synchronizationStatus?: SynchronizationStatus;
  error?: { message: string };
  conditions?: Condition[];
  /** Consecutive failed calls to the hub (sync or renewal) or Secret writes; reset by a success. */
  failedAttempts?: number;
  lastFailureTime?: string;
  /** No call to the hub before this time, unless the spec changes (the back-off). */
  nextAttemptTime?: string;
  /** Written by the rollout controller only; every other status writer keeps it as it is. */
  rollouts?: RolloutRecord[];
}

/** One roll (or failure to roll) of a workload that uses the connection's credential, newest first. */
export interface RolloutRecord {
  kind: WorkloadKind;
  namespace: string;
  /** Absent when a whole namespace could not be read. */
  name?: string;
  result: "Rolled" | "Recorded" | "Failed";
  reason: string;
  message: string;
  /** tether.dev/credential-hash that was written. */
  hash?: string;
  time: string;
}

export interface CentralConnection {
  apiVersion: typeof apiVersion;
  kind: "CentralConnection";
  metadata: ObjectMeta;
  spec: CentralConnectionSpec;
  status?: CentralConnectionStatus;
}

/** The apps/v1 workloads that can opt in to a rollout on credential change. */
export const workloadKinds = ["Deployment", "StatefulSet", "DaemonSet"] as const;
export type WorkloadKind = (typeof workloadKinds)[number];

/** The part of an apps/v1 workload that the rollout controller reads. */
export interface Workload {
  apiVersion: "apps/v1";
  kind: WorkloadKind;
  metadata: ObjectMeta;
  spec: { template: { metadata?: { annotations?: Record<string, string> } } };
}

export type CustomResource = CertificateRequest | CentralConnection;

/** Plural resource names, as the API server serves them. */
export const plurals = {
  CertificateRequest: "certificaterequests",
  CentralConnection: "centralconnections",
} as const;

/** The renewal settings the spoke writes when it creates a connection (docs/resources.md#custom-resources defaults). */
export const defaultRenewal = { enabled: true, renewAfterFraction: 0.66 } as const;

export const managedByLabel = "app.kubernetes.io/managed-by";
export const managedByValue = "tether-spoke";
export const connectionLabel = "tether.dev/connection";

export function defaultSecretName(connection: string): string {
  return `${connection}-hub-credentials`;
}
