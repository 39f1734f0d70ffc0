/**
 * Versioned schema, one entry per change, never edited once released. Each entry has the statement
 * for both dialects; they differ only where the engines do (auto-increment ids). Times are epoch
 * milliseconds in BIGINT columns so that Dates round-trip exactly in both engines.
 */
export interface Migration {
  version: number;
  description: string;
  sqlite: string;
  postgres: string;
}

const TABLES = `
CREATE TABLE runtimes (
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  grp TEXT NOT NULL,
  labels TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_seen_at BIGINT,
  deleted_at BIGINT
);
CREATE TABLE tokens (
  hash TEXT PRIMARY KEY,
  purpose TEXT NOT NULL,
  runtime_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  used_at BIGINT
);
CREATE TABLE certificates (
  sha256 TEXT PRIMARY KEY,
  runtime_id TEXT NOT NULL,
  serial TEXT NOT NULL,
  not_before BIGINT NOT NULL,
  not_after BIGINT NOT NULL,
  issuer_sha256 TEXT NOT NULL,
  kind TEXT NOT NULL,
  issued_at BIGINT NOT NULL,
  pem TEXT NOT NULL
);
CREATE INDEX certificates_runtime ON certificates (runtime_id, issued_at);
CREATE TABLE revocations (
  sha256 TEXT PRIMARY KEY,
  revoked_at BIGINT NOT NULL,
  reason TEXT NOT NULL
);
`;

/** At most one next and one active CA, whatever replicas do at once (docs/pki.md#ca-rotation). */
const CA_TABLES = `
CREATE TABLE cas (
  sha256 TEXT PRIMARY KEY,
  cert_pem TEXT NOT NULL,
  key_ciphertext TEXT NOT NULL,
  phase TEXT NOT NULL,
  not_after BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  activated_at BIGINT,
  retiring_at BIGINT,
  retired_at BIGINT,
  published_generation BIGINT NOT NULL,
  generation BIGINT NOT NULL
);
CREATE UNIQUE INDEX cas_one_next_one_active ON cas (phase) WHERE phase IN ('next', 'active');
CREATE TABLE runtime_trust (
  runtime_id TEXT PRIMARY KEY,
  generation BIGINT NOT NULL,
  seen_at BIGINT NOT NULL
);
CREATE INDEX certificates_issuer ON certificates (issuer_sha256);
`;

/**
 * Every certificate was written into five b-trees. The issuer index serves no query: the CRL query
 * starts from the revocations, and the CA counts read every certificate anyway. The parent index is
 * only ever searched for a given hash, and initial certificates (most of them) have none.
 */
const LEANER_CERTIFICATE_INDEXES = `
DROP INDEX certificates_issuer;
DROP INDEX certificates_parent;
CREATE INDEX certificates_parent ON certificates (parent_sha256) WHERE parent_sha256 IS NOT NULL;
`;

export const migrations: readonly Migration[] = [
  {
    version: 1,
    description: "runtimes, tokens, certificates, revocations, audit",
    sqlite: `${TABLES}
CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at BIGINT NOT NULL, type TEXT NOT NULL, runtime_id TEXT, detail TEXT NOT NULL);
CREATE INDEX audit_at ON audit (at);`,
    postgres: `${TABLES}
CREATE TABLE audit (id BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, type TEXT NOT NULL, runtime_id TEXT, detail TEXT NOT NULL);
CREATE INDEX audit_at ON audit (at);`,
  },
  {
    version: 2,
    description: "tokens carry the labels a re-enrolment gives its runtime",
    sqlite: "ALTER TABLE tokens ADD COLUMN labels TEXT",
    postgres: "ALTER TABLE tokens ADD COLUMN labels TEXT",
  },
  {
    version: 3,
    description: "heartbeat: the row /readyz writes to prove the store takes writes",
    sqlite: "CREATE TABLE heartbeat (id INTEGER PRIMARY KEY, at BIGINT NOT NULL)",
    postgres: "CREATE TABLE heartbeat (id INTEGER PRIMARY KEY, at BIGINT NOT NULL)",
  },
  {
    version: 4,
    description: "certificate lineage: a renewal records its parent",
    sqlite: `ALTER TABLE certificates ADD COLUMN parent_sha256 TEXT;
CREATE INDEX certificates_parent ON certificates (parent_sha256);`,
    postgres: `ALTER TABLE certificates ADD COLUMN parent_sha256 TEXT;
CREATE INDEX certificates_parent ON certificates (parent_sha256);`,
  },
  {
    version: 5,
    description:
      "CA rotation: the hub's CAs with their phases and encrypted keys; which trust bundle each runtime read",
    sqlite: CA_TABLES,
    postgres: CA_TABLES,
  },
  {
    version: 6,
    description:
      "fewer pages written per certificate: no issuer index (no query needs it), the parent index holds renewals only",
    sqlite: LEANER_CERTIFICATE_INDEXES,
    postgres: LEANER_CERTIFICATE_INDEXES,
  },
];

export const MIGRATIONS_TABLE =
  "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)";
