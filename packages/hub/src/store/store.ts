/**
 * The hub's persistence port (SPEC §2.7). Two adapters implement it — SQLite on node:sqlite (the
 * embedded default) and PostgreSQL (shared by several hub replicas) — and both pass one conformance
 * suite (`conformance.ts`). Every method is atomic on its own; nothing here knows about HTTP.
 *
 * Hashes (token hashes, certificate SHA-256) are lower-case hex. Times are Dates (UTC).
 */

export type TokenPurpose = "info" | "csr" | "bootstrap" | "admin";

export interface TokenRecord {
  /** SHA-256 hex of the token text; the token itself is never stored. */
  hash: string;
  purpose: TokenPurpose;
  runtimeId: string;
  createdAt: Date;
  expiresAt: Date;
  /** Set by the one successful `consumeToken`; always null for reusable (bootstrap) tokens. */
  usedAt: Date | null;
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
}

export interface Revocation {
  sha256: string;
  revokedAt: Date;
  /** Free text: "runtime request", "admin", "runtime deleted", ... */
  reason: string;
}

export interface AuditEvent {
  at: Date;
  /** e.g. token.issued, token.used, token.refused, certificate.issued, certificate.renewed, certificate.refused, certificate.revoked */
  type: string;
  runtimeId: string | null;
  /** Never contains a token or a key. */
  detail: Record<string, unknown>;
}

export type ConsumeResult =
  { ok: true; token: TokenRecord } | { ok: false; reason: "unknown" | "expired" | "used" | "wrong-purpose" };

export interface Store {
  /** Creates or upgrades the schema; idempotent and safe when several replicas call it at once. */
  migrate(): Promise<void>;
  /** Cheap round trip for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;

  createRuntime(runtime: Runtime): Promise<void>;
  getRuntime(id: string): Promise<Runtime | undefined>;
  listRuntimes(): Promise<Runtime[]>;
  touchRuntime(id: string, at: Date): Promise<void>;
  /** Marks the runtime deleted and revokes every certificate recorded for it, in one transaction. */
  deleteRuntime(id: string, at: Date): Promise<boolean>;

  putToken(token: TokenRecord): Promise<void>;
  /**
   * Looks a token up without using it: valid for `purpose` at `now`, or why not. Used to check a
   * request before its input is validated, so that bad input does not burn a one-time token.
   */
  peekToken(hash: string, purpose: TokenPurpose, now: Date): Promise<ConsumeResult>;
  /**
   * Uses a one-time token: exactly one call per token can ever return ok, across every replica
   * sharing the store and under any concurrency. Reusable (bootstrap) tokens are only checked.
   */
  consumeToken(hash: string, purpose: TokenPurpose, now: Date): Promise<ConsumeResult>;

  recordCertificate(cert: CertificateRecord): Promise<void>;
  getCertificate(sha256: string): Promise<CertificateRecord | undefined>;
  listCertificates(runtimeId: string): Promise<CertificateRecord[]>;

  /** Idempotent; works for hashes the store never issued (Kyma semantics). Returns false if already revoked. */
  revoke(revocation: Revocation): Promise<boolean>;
  getRevocation(sha256: string): Promise<Revocation | undefined>;
  listRevocations(runtimeId?: string): Promise<Revocation[]>;

  appendAudit(event: AuditEvent): Promise<void>;
  listAudit(filter?: { runtimeId?: string; type?: string; limit?: number }): Promise<AuditEvent[]>;
}
