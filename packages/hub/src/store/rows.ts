/**
 * Row ⇄ record mapping shared by both SQL adapters, and the one place that decides why a token
 * cannot be used, so that both engines give the same answer.
 */
import type {
  AuditEvent,
  CertificateKind,
  CertificateRecord,
  ConsumeResult,
  Revocation,
  RevokedCertificate,
  Runtime,
  RuntimeHistory,
  TokenPurpose,
  TokenRecord,
} from "./store.ts";

type Value = string | number | bigint | null;
export type Row = Record<string, unknown>;

/** pg returns BIGINT as text; node:sqlite as number. */
export function num(value: unknown): number {
  return typeof value === "number" ? value : Number(value);
}

export function date(value: unknown): Date {
  return new Date(num(value));
}

export function maybeDate(value: unknown): Date | null {
  return value === null || value === undefined ? null : date(value);
}

export function ms(d: Date | null): number | null {
  return d === null ? null : d.getTime();
}

export function toRuntime(row: Row): Runtime {
  return {
    id: String(row.id),
    tenant: String(row.tenant),
    group: String(row.grp),
    labels: JSON.parse(String(row.labels)) as Record<string, string>,
    createdAt: date(row.created_at),
    lastSeenAt: maybeDate(row.last_seen_at),
    deletedAt: maybeDate(row.deleted_at),
  };
}

export function runtimeValues(r: Runtime): Value[] {
  return [
    r.id,
    r.tenant,
    r.group,
    JSON.stringify(r.labels),
    ms(r.createdAt),
    ms(r.lastSeenAt),
    ms(r.deletedAt),
  ];
}

export function toToken(row: Row): TokenRecord {
  return {
    hash: String(row.hash),
    purpose: String(row.purpose) as TokenPurpose,
    runtimeId: String(row.runtime_id),
    createdAt: date(row.created_at),
    expiresAt: date(row.expires_at),
    usedAt: maybeDate(row.used_at),
    labels: typeof row.labels === "string" ? (JSON.parse(row.labels) as Record<string, string>) : null,
  };
}

export function tokenValues(t: TokenRecord): Value[] {
  return [
    t.hash.toLowerCase(),
    t.purpose,
    t.runtimeId,
    ms(t.createdAt),
    ms(t.expiresAt),
    ms(t.usedAt),
    t.labels === null ? null : JSON.stringify(t.labels),
  ];
}

export function toRevokedCertificate(row: Row): RevokedCertificate {
  return { serial: String(row.serial), revokedAt: date(row.revoked_at) };
}

export function toCertificate(row: Row): CertificateRecord {
  return {
    runtimeId: String(row.runtime_id),
    serial: String(row.serial),
    sha256: String(row.sha256),
    notBefore: date(row.not_before),
    notAfter: date(row.not_after),
    issuerSha256: String(row.issuer_sha256),
    kind: String(row.kind) as CertificateKind,
    issuedAt: date(row.issued_at),
    pem: String(row.pem),
    parentSha256: typeof row.parent_sha256 === "string" ? row.parent_sha256 : null,
  };
}

export function certificateValues(c: CertificateRecord): Value[] {
  return [
    c.sha256.toLowerCase(),
    c.runtimeId,
    c.serial,
    ms(c.notBefore),
    ms(c.notAfter),
    c.issuerSha256.toLowerCase(),
    c.kind,
    ms(c.issuedAt),
    c.pem,
    c.parentSha256?.toLowerCase() ?? null,
  ];
}

export function toRevocation(row: Row): Revocation {
  return { sha256: String(row.sha256), revokedAt: date(row.revoked_at), reason: String(row.reason) };
}

export function toAudit(row: Row): AuditEvent {
  return {
    at: date(row.at),
    type: String(row.type),
    runtimeId: row.runtime_id === null ? null : (row.runtime_id as string),
    detail: JSON.parse(String(row.detail)) as Record<string, unknown>,
  };
}

/**
 * The page's runtimes with the certificates of their id range, each row carrying its revocation's
 * `revoked_at` and `reason` (null when not revoked), ordered by issue time. Certificates recorded for
 * ids that are no runtime of the page are left out.
 */
export function toRuntimePage(runtimes: Runtime[], certificateRows: Row[]): RuntimeHistory[] {
  const byId = new Map<string, RuntimeHistory>(
    runtimes.map((runtime) => [runtime.id, { runtime, certificates: [], revocations: [] }]),
  );
  for (const row of certificateRows) {
    const history = byId.get(String(row.runtime_id));
    if (!history) continue;
    const certificate = toCertificate(row);
    history.certificates.push(certificate);
    if (row.revoked_at !== null) {
      history.revocations.push({
        sha256: certificate.sha256,
        revokedAt: date(row.revoked_at),
        reason: String(row.reason),
      });
    }
  }
  for (const { revocations } of byId.values()) {
    revocations.sort(
      (a, b) => a.revokedAt.getTime() - b.revokedAt.getTime() || (a.sha256 < b.sha256 ? -1 : 1),
    );
  }
  return [...byId.values()];
}

/** Reusable tokens are checked, never used up. */
export function isReusable(purpose: TokenPurpose): boolean {
  return purpose === "bootstrap" || purpose === "admin" || purpose === "scoped-admin";
}

/** Why a token cannot be used now, or ok: the same classification for peek and for a lost consume. */
export function classifyToken(
  token: TokenRecord | undefined,
  purpose: TokenPurpose,
  now: Date,
): ConsumeResult {
  if (!token) return { ok: false, reason: "unknown" };
  if (token.purpose !== purpose) return { ok: false, reason: "wrong-purpose" };
  if (token.usedAt !== null) return { ok: false, reason: "used" };
  if (token.expiresAt.getTime() <= now.getTime()) return { ok: false, reason: "expired" };
  return { ok: true, token };
}

export const AUDIT_DEFAULT_LIMIT = 1000;

/**
 * The certificates of the runtime ids after the first `?` up to the second (a page's last id), in the
 * order the page shows them; both engines compare the ids as they order the runtimes' keyset.
 */
export const RUNTIME_PAGE_CERTIFICATES = `SELECT c.*, r.revoked_at, r.reason FROM certificates c
LEFT JOIN revocations r ON r.sha256 = c.sha256
WHERE c.runtime_id > ? AND c.runtime_id <= ?
ORDER BY c.runtime_id, c.issued_at, c.sha256`;

/** The certificate named and every one renewed from it, as a recursive query both engines read. */
export const LINEAGE = `WITH RECURSIVE lineage (sha256) AS (
  SELECT CAST(:hash AS TEXT)
  UNION SELECT c.sha256 FROM certificates c JOIN lineage l ON c.parent_sha256 = l.sha256
)`;
