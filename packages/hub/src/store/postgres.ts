/**
 * The distributed store: PostgreSQL shared by several hub replicas. One-time token use is a single
 * conditional UPDATE, so exactly one replica can ever win it; migrations hold an advisory lock so
 * replicas starting together apply each change once. Every statement but the migrations' is a
 * named (prepared) statement: PostgreSQL parses and plans it once per connection.
 */
import { createHash } from "node:crypto";
import pg from "pg";
import { MIGRATIONS_TABLE, migrations } from "./migrations.ts";
import {
  AUDIT_DEFAULT_LIMIT,
  certificateValues,
  classifyToken,
  isReusable,
  LINEAGE,
  runtimeValues,
  toAudit,
  toCertificate,
  toRevocation,
  toRevokedCertificate,
  RUNTIME_PAGE_CERTIFICATES,
  toRuntime,
  toRuntimePage,
  toToken,
  tokenValues,
  type Row,
} from "./rows.ts";
import type {
  AuditEvent,
  CertificateRecord,
  ConsumeResult,
  Purchase,
  Revocation,
  RevokedCertificate,
  Runtime,
  RuntimeHistory,
  Store,
  TokenPurpose,
  TokenRecord,
} from "./store.ts";
import { DuplicateRuntimeError } from "./errors.ts";
import { postgresCas } from "./ca-postgres.ts";
import type { CaCertificateCount, CaChangeResult, CaPhaseChange, CaRecord, NewCa } from "./cas.ts";

/** Any constant; it only has to be the same for every replica of this schema. */
const MIGRATION_LOCK_KEY = 0x7e7e_0001;
const UNIQUE_VIOLATION = "23505";
const INSERT_TOKEN =
  "INSERT INTO tokens (hash, purpose, runtime_id, created_at, expires_at, used_at, labels) VALUES ($1, $2, $3, $4, $5, $6, $7)";
const INSERT_CERTIFICATE =
  "INSERT INTO certificates (sha256, runtime_id, serial, not_before, not_after, issuer_sha256, kind, issued_at, pem, parent_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const SET_LABELS = "UPDATE runtimes SET labels = $1 WHERE id = $2";
const READ_TOKEN = "SELECT * FROM tokens WHERE hash = $1";
const INSERT_AUDIT = "INSERT INTO audit (at, type, runtime_id, detail) VALUES ($1, $2, $3, $4)";
const auditValues = (event: AuditEvent) => [
  event.at.getTime(),
  event.type,
  event.runtimeId,
  JSON.stringify(event.detail),
];

const PAGE_CERTIFICATES = RUNTIME_PAGE_CERTIFICATES.replace("?", "$1").replace("?", "$2");

const statementNames = new Map<string, string>();

/** The query as a named statement: its name is derived from its text, so one text has one name. */
function prepared(text: string, values: unknown[] = []): pg.QueryConfig {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `tether_${createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
    statementNames.set(text, name);
  }
  return { name, text, values };
}

export function openPostgresStore(url: string, options: { max?: number } = {}): PostgresStore {
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10 });
  // An idle connection dropped by the server (restart, failover) is discarded by the pool; without a
  // listener the 'error' event would crash the hub. The next query opens a new connection or fails.
  pool.on("error", () => undefined);
  return new PostgresStore(pool);
}

export class PostgresStore implements Store {
  readonly #pool: pg.Pool;

  constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  async #query(sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await this.#pool.query<Row>(prepared(sql, params))).rows;
  }

  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      client.release();
      return result;
    } catch (error) {
      // A connection that failed mid-transaction is not trusted again: the pool replaces it.
      await client.query("ROLLBACK").catch(() => undefined);
      client.release(true);
      throw error;
    }
  }

  async migrate(): Promise<void> {
    await this.#transaction(async (client) => {
      await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
      await client.query(MIGRATIONS_TABLE);
      const applied = new Set(
        (await client.query<Row>("SELECT version FROM schema_migrations")).rows.map((r) => Number(r.version)),
      );
      for (const m of migrations) {
        if (applied.has(m.version)) continue;
        await client.query(m.postgres);
        await client.query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", [
          m.version,
          Date.now(),
        ]);
      }
    });
  }

  async ping(): Promise<void> {
    await this.#query(
      "INSERT INTO heartbeat (id, at) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
      [Date.now()],
    );
  }

  async close(): Promise<void> {
    if (!this.#pool.ended) await this.#pool.end();
  }

  async createRuntime(runtime: Runtime): Promise<void> {
    try {
      await this.#query(
        "INSERT INTO runtimes (id, tenant, grp, labels, created_at, last_seen_at, deleted_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        runtimeValues(runtime),
      );
    } catch (error) {
      if ((error as { code?: string }).code === UNIQUE_VIOLATION) throw new DuplicateRuntimeError(runtime.id);
      throw error;
    }
  }

  async getRuntime(id: string): Promise<Runtime | undefined> {
    const [row] = await this.#query("SELECT * FROM runtimes WHERE id = $1", [id]);
    return row && toRuntime(row);
  }

  async listRuntimes(): Promise<Runtime[]> {
    return (await this.#query("SELECT * FROM runtimes ORDER BY created_at, id")).map(toRuntime);
  }

  async listRuntimePage(after: string | null, limit: number): Promise<RuntimeHistory[]> {
    // The primary key's index walks the ids in the database's collation; '' comes before every id.
    const runtimes = (
      await this.#query("SELECT * FROM runtimes WHERE id > $1 ORDER BY id LIMIT $2", [after ?? "", limit])
    ).map(toRuntime);
    const last = runtimes.at(-1);
    if (last === undefined) return [];
    const certificates = await this.#query(PAGE_CERTIFICATES, [after ?? "", last.id]);
    return toRuntimePage(runtimes, certificates);
  }

  async setRuntimeLabels(id: string, labels: Record<string, string>): Promise<void> {
    await this.#query(SET_LABELS, [JSON.stringify(labels), id]);
  }

  async touchRuntime(id: string, at: Date): Promise<void> {
    await this.#query("UPDATE runtimes SET last_seen_at = $1 WHERE id = $2", [at.getTime(), id]);
  }

  async deleteRuntime(id: string, at: Date): Promise<boolean> {
    return this.#transaction(async (client) => {
      const { rowCount } = await client.query(
        "UPDATE runtimes SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL",
        [at.getTime(), id],
      );
      if (!rowCount) return false;
      await client.query(
        "INSERT INTO revocations (sha256, revoked_at, reason) SELECT sha256, $1, 'runtime deleted' FROM certificates WHERE runtime_id = $2 ON CONFLICT (sha256) DO NOTHING",
        [at.getTime(), id],
      );
      return true;
    });
  }

  async putToken(token: TokenRecord): Promise<void> {
    await this.#query(INSERT_TOKEN, tokenValues(token));
  }

  async #readToken(hash: string): Promise<TokenRecord | undefined> {
    const [row] = await this.#query(READ_TOKEN, [hash.toLowerCase()]);
    return row && toToken(row);
  }

  async peekToken(hash: string, purpose: TokenPurpose, now: Date): Promise<ConsumeResult> {
    return classifyToken(await this.#readToken(hash), purpose, now);
  }

  async consumeToken(hash: string, purpose: TokenPurpose, now: Date): Promise<ConsumeResult> {
    if (isReusable(purpose)) return this.peekToken(hash, purpose, now);
    return this.#useToken(this.#pool, hash, purpose, now);
  }

  async #useToken(db: pg.Pool | pg.PoolClient, hash: string, purpose: TokenPurpose, now: Date) {
    const { rows } = await db.query<Row>(
      prepared(
        "UPDATE tokens SET used_at = $1 WHERE hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 RETURNING *",
        [now.getTime(), hash.toLowerCase(), purpose],
      ),
    );
    const [row] = rows;
    if (row) return { ok: true as const, token: toToken(row) };
    const [current] = (await db.query<Row>(prepared(READ_TOKEN, [hash.toLowerCase()]))).rows;
    return classifyToken(current && toToken(current), purpose, now);
  }

  async recordCertificate(cert: CertificateRecord): Promise<void> {
    await this.#query(INSERT_CERTIFICATE, certificateValues(cert));
  }

  async getCertificate(sha256: string): Promise<CertificateRecord | undefined> {
    const [row] = await this.#query("SELECT * FROM certificates WHERE sha256 = $1", [sha256.toLowerCase()]);
    return row && toCertificate(row);
  }

  async listCertificates(runtimeId: string): Promise<CertificateRecord[]> {
    const rows = await this.#query(
      "SELECT * FROM certificates WHERE runtime_id = $1 ORDER BY issued_at, sha256",
      [runtimeId],
    );
    return rows.map(toCertificate);
  }

  async revoke(revocation: Revocation): Promise<boolean> {
    const { rowCount } = await this.#pool.query(
      prepared(
        "INSERT INTO revocations (sha256, revoked_at, reason) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING",
        [revocation.sha256.toLowerCase(), revocation.revokedAt.getTime(), revocation.reason],
      ),
    );
    return rowCount === 1;
  }

  async getRevocation(sha256: string): Promise<Revocation | undefined> {
    const [row] = await this.#query("SELECT * FROM revocations WHERE sha256 = $1", [sha256.toLowerCase()]);
    return row && toRevocation(row);
  }

  async listRevocations(runtimeId?: string): Promise<Revocation[]> {
    const rows =
      runtimeId === undefined
        ? await this.#query("SELECT * FROM revocations ORDER BY revoked_at, sha256")
        : await this.#query(
            "SELECT r.* FROM revocations r JOIN certificates c ON c.sha256 = r.sha256 WHERE c.runtime_id = $1 ORDER BY r.revoked_at, r.sha256",
            [runtimeId],
          );
    return rows.map(toRevocation);
  }

  async revocationStamp(): Promise<number> {
    return Number((await this.#query("SELECT count(*) AS n FROM revocations"))[0]?.n);
  }

  async listRevokedCertificates(issuerSha256: string, now: Date): Promise<RevokedCertificate[]> {
    const rows = await this.#query(
      "SELECT c.serial, r.revoked_at FROM revocations r JOIN certificates c ON c.sha256 = r.sha256 WHERE c.issuer_sha256 = $1 AND c.not_after > $2 ORDER BY r.revoked_at, c.serial",
      [issuerSha256.toLowerCase(), now.getTime()],
    );
    return rows.map(toRevokedCertificate);
  }

  async appendAudit(event: AuditEvent): Promise<void> {
    await this.#query(INSERT_AUDIT, auditValues(event));
  }

  async listAudit(filter: { runtimeId?: string; type?: string; limit?: number } = {}): Promise<AuditEvent[]> {
    const rows = await this.#query(
      "SELECT * FROM audit WHERE ($1::text IS NULL OR runtime_id = $1) AND ($2::text IS NULL OR type = $2) ORDER BY at DESC, id DESC LIMIT $3",
      [filter.runtimeId ?? null, filter.type ?? null, filter.limit ?? AUDIT_DEFAULT_LIMIT],
    );
    return rows.map(toAudit);
  }

  async spendToken(
    hash: string,
    purpose: TokenPurpose,
    now: Date,
    purchase: Purchase,
  ): Promise<ConsumeResult> {
    return this.#transaction(async (client) => {
      let result: ConsumeResult;
      if (isReusable(purpose)) {
        const [row] = (await client.query<Row>(prepared(READ_TOKEN, [hash.toLowerCase()]))).rows;
        result = classifyToken(row && toToken(row), purpose, now);
      } else {
        result = await this.#useToken(client, hash, purpose, now);
      }
      if (!result.ok) return result;
      if (purchase.token) {
        await client.query(prepared(INSERT_TOKEN, tokenValues(purchase.token)));
      }
      if (purchase.certificate) {
        await client.query(prepared(INSERT_CERTIFICATE, certificateValues(purchase.certificate)));
      }
      if (purchase.labels) {
        const { runtimeId, labels } = purchase.labels;
        await client.query(prepared(SET_LABELS, [JSON.stringify(labels), runtimeId]));
      }
      for (const event of purchase.audit) {
        await client.query(prepared(INSERT_AUDIT, auditValues(event)));
      }
      return result;
    });
  }

  async revokeLineage(revocation: Revocation): Promise<number> {
    const { rowCount } = await this.#pool.query(
      prepared(
        `${LINEAGE.replace(":hash", "$1")} INSERT INTO revocations (sha256, revoked_at, reason) SELECT sha256, $2, $3 FROM lineage ON CONFLICT (sha256) DO NOTHING`,
        [revocation.sha256.toLowerCase(), revocation.revokedAt.getTime(), revocation.reason],
      ),
    );
    return rowCount ?? 0;
  }

  async firstRenewal(sha256: string): Promise<CertificateRecord | undefined> {
    const [row] = await this.#query(
      "SELECT * FROM certificates WHERE parent_sha256 = $1 ORDER BY issued_at, sha256 LIMIT 1",
      [sha256.toLowerCase()],
    );
    return row && toCertificate(row);
  }

  async revokeToken(hash: string, at: Date): Promise<boolean> {
    const { rowCount } = await this.#pool.query(
      prepared("UPDATE tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL", [
        at.getTime(),
        hash.toLowerCase(),
      ]),
    );
    return rowCount === 1;
  }

  async listCas(): Promise<CaRecord[]> {
    return postgresCas.listCas(this.#pool);
  }

  async caGeneration(): Promise<number> {
    return postgresCas.caGeneration(this.#pool);
  }

  async addCa(ca: NewCa, audit: AuditEvent[]): Promise<CaChangeResult> {
    return postgresCas.addCa(this.#pool, ca, audit);
  }

  async changeCaPhases(changes: CaPhaseChange[], at: Date, audit: AuditEvent[]): Promise<CaChangeResult> {
    return postgresCas.changeCaPhases(this.#pool, changes, at, audit);
  }

  async caCertificateCounts(now: Date, supersededBefore: Date): Promise<CaCertificateCount[]> {
    return postgresCas.caCertificateCounts(this.#pool, now, supersededBefore);
  }

  async recordTrustSeen(runtimeId: string, generation: number, at: Date): Promise<void> {
    await postgresCas.recordTrustSeen(this.#pool, runtimeId, generation, at);
  }

  async countTrustSeen(generation: number): Promise<number> {
    return postgresCas.countTrustSeen(this.#pool, generation);
  }
}
