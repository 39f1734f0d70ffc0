/**
 * The hub's persistence port (docs/store.md#store). Two adapters implement it — SQLite on node:sqlite (the
 * embedded default) and PostgreSQL (shared by several hub replicas) — and both pass one conformance
 * suite (`conformance.ts`). Every method is atomic on its own; nothing here knows about HTTP.
 *
 * Hashes (token hashes, certificate SHA-256) are hex: the store lower-cases what it is given and
 * returns lower case. Times are Dates (UTC) kept to the millisecond, so they round-trip exactly.
 */

import type { CaStore } from "./cas.ts";

export type TokenPurpose = "info" | "csr" | "bootstrap" | "admin" | "scoped-admin";

export interface TokenRecord {
  /** SHA-256 hex of the token text; the token itself is never stored. */
  hash: string;
  purpose: TokenPurpose;
  runtimeId: string;
  createdAt: Date;
  expiresAt: Date;
  /** The `now` of the one successful `consumeToken`; always null for reusable (bootstrap, admin) tokens. */
  usedAt: Date | null;
  /** Labels an info token gives its runtime when it is used (re-enrolment); null leaves them as they are. */
  labels: Record<string, string> | null;
}

export interface Runtime {
  id: string;
  tenant: string;
  group: string;
  labels: Record<string, string>;
  createdAt: Date;
  lastSeenAt: Date | null;
  /** Set by `deleteRuntime`; a deleted runtime keeps its history but can no longer enrol. */
  deletedAt: Date | null;
}

export type CertificateKind = "initial" | "renewal";

export interface CertificateRecord {
  runtimeId: string;
  /** Hex serial number as printed by openssl (upper-case, no colons). */
  serial: string;
  sha256: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the issuing CA certificate's DER: which keyring entry signed it. */
  issuerSha256: string;
  kind: CertificateKind;
  issuedAt: Date;
  /** PEM of the leaf. */
  pem: string;
  /** A renewal's parent: the certificate the client presented to renew; null for initial ones. */
  parentSha256: string | null;
}

/** A runtime with its certificates and revocations: what the internal API shows of it. */
export interface RuntimeHistory {
  runtime: Runtime;
  /** As `listCertificates(runtime.id)`: oldest issued first. */
  certificates: CertificateRecord[];
  /** As `listRevocations(runtime.id)`: oldest first. */
  revocations: Revocation[];
}

export interface Revocation {
  sha256: string;
  revokedAt: Date;
  /** Free text: "runtime request", "admin", "runtime deleted", ... */
  reason: string;
}

export interface RevokedCertificate {
  serial: string;
  revokedAt: Date;
}

export interface AuditEvent {
  at: Date;
  /** e.g. token.issued, token.used, token.refused, certificate.issued, certificate.renewed, certificate.refused, certificate.revoked */
  type: string;
  runtimeId: string | null;
  /** Never contains a token or a key. */
  detail: Record<string, unknown>;
}

/**
 * What spending a one-time token bought: the token it was exchanged for, or the certificate issued
 * with it, and their audit events. `spendToken` writes it in the transaction that uses the token.
 */
export interface Purchase {
  token?: TokenRecord;
  certificate?: CertificateRecord;
  /** A re-enrolment's labels, replacing the runtime's. */
  labels?: { runtimeId: string; labels: Record<string, string> };
  audit: AuditEvent[];
}

export type ConsumeResult =
  { ok: true; token: TokenRecord } | { ok: false; reason: "unknown" | "expired" | "used" | "wrong-purpose" };

/**
 * Token checks take the instant to judge expiry at as `now`: a token is valid while `expiresAt > now`.
 * The store applies no leeway of its own; callers apply the 60 s clock leeway of docs/tokens.md#lifetimes-and-leeway by passing
 * a `now` that far in the past (tokens.ts), so every replica judges a token alike. Failures are
 * reported in this order: unknown, wrong-purpose, used, expired.
 */
export interface Store extends CaStore {
  /** Creates or upgrades the schema; idempotent and safe when several replicas call it at once. */
  migrate(): Promise<void>;
  /**
   * For /readyz: one small committed write (the heartbeat row), so that a store that answers reads
   * but cannot write (a full disk, a read-only database) is not ready.
   */
  ping(): Promise<void>;
  close(): Promise<void>;

  /** Throws `DuplicateRuntimeError` (errors.ts) if the id exists, deleted or not: ids are never reused. */
  createRuntime(runtime: Runtime): Promise<void>;
  getRuntime(id: string): Promise<Runtime | undefined>;
  /** Every runtime, deleted ones included, oldest first. */
  listRuntimes(): Promise<Runtime[]>;
  /**
   * One page of runtimes (deleted ones included) in id order, as the database orders ids: at most
   * `limit` whose id comes after `after` (from the first id when null), each with its certificates and
   * revocations. A keyset, so a page costs the same at the start and at the end of 100k rows, and rows
   * inserted or deleted between two pages never shift the others (docs/api.md#list-runtimes). Two
   * queries whatever the page's length: the runtimes, then the certificates of their id range.
   */
  listRuntimePage(after: string | null, limit: number): Promise<RuntimeHistory[]>;
  /** Replaces the runtime's labels; nothing happens for an unknown id. */
  setRuntimeLabels(id: string, labels: Record<string, string>): Promise<void>;
  /** Records `at` as `lastSeenAt`; nothing happens for an unknown id. */
  touchRuntime(id: string, at: Date): Promise<void>;
  /**
   * Marks the runtime deleted and revokes every certificate recorded for it ("runtime deleted"; earlier
   * revocations are kept), in one transaction. False if it is unknown or already deleted.
   */
  deleteRuntime(id: string, at: Date): Promise<boolean>;

  /** Stores a new token; its hash must be new. */
  putToken(token: TokenRecord): Promise<void>;
  /**
   * Looks a token up without using it: valid for `purpose` at `now`, or why not. Used to check a
   * request before its input is validated, so that bad input does not burn a one-time token.
   */
  peekToken(hash: string, purpose: TokenPurpose, now: Date): Promise<ConsumeResult>;
  /**
   * Uses a one-time token: exactly one call per token can ever return ok, across every replica
   * sharing the store and under any concurrency; the winner's record carries `usedAt = now`.
   * Reusable (bootstrap, admin) tokens are only checked, exactly like `peekToken`.
   */
  consumeToken(hash: string, purpose: TokenPurpose, now: Date): Promise<ConsumeResult>;

  recordCertificate(cert: CertificateRecord): Promise<void>;
  getCertificate(sha256: string): Promise<CertificateRecord | undefined>;
  /** Oldest issued first. */
  listCertificates(runtimeId: string): Promise<CertificateRecord[]>;

  /** Idempotent; works for hashes the store never issued (Kyma semantics). Returns false if already revoked. */
  revoke(revocation: Revocation): Promise<boolean>;
  getRevocation(sha256: string): Promise<Revocation | undefined>;
  /** Oldest first; with a runtime id, only revocations of certificates recorded for that runtime. */
  listRevocations(runtimeId?: string): Promise<Revocation[]>;

  /**
   * A number that grows with every new revocation (revocations are never removed): the CRL cache
   * compares it instead of re-reading the list. SQLite answers from the table's last rowid,
   * PostgreSQL counts.
   */
  revocationStamp(): Promise<number>;
  /** The revoked certificates a CA issued that have not expired at `now`, for its CRL; oldest revocation first. */
  listRevokedCertificates(issuerSha256: string, now: Date): Promise<RevokedCertificate[]>;

  appendAudit(event: AuditEvent): Promise<void>;
  /** Newest first; `limit` defaults to 1000. */
  listAudit(filter?: { runtimeId?: string; type?: string; limit?: number }): Promise<AuditEvent[]>;

  /**
   * Uses a token and stores what it bought in one transaction: both are committed or neither is, so
   * after any failure (a full disk, a lost database, a killed process) the token is still usable and
   * a retry succeeds once the store is back, and every used token has what it bought. One-time tokens
   * are used exactly as by `consumeToken`; reusable ones are checked. Nothing is written when the
   * token cannot be used.
   */
  spendToken(hash: string, purpose: TokenPurpose, now: Date, purchase: Purchase): Promise<ConsumeResult>;

  /**
   * Revokes a certificate and every certificate renewed from it, directly or not, in one transaction
   * (earlier revocations are kept). Returns how many were newly revoked; works for hashes the store
   * never issued, like `revoke`.
   */
  revokeLineage(revocation: Revocation): Promise<number>;
  /** The first certificate renewed from this one, if any: from then on it is superseded. */
  firstRenewal(sha256: string): Promise<CertificateRecord | undefined>;
  /** Marks any token used, reusable ones included, so that it is refused from now on. False if it already was or is unknown. */
  revokeToken(hash: string, at: Date): Promise<boolean>;
}
