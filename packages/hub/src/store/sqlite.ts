/* eslint-disable @typescript-eslint/require-await -- node:sqlite is synchronous; the Store port is async for PostgreSQL. */
/**
 * The embedded store: one SQLite file through Node's built-in node:sqlite. node:sqlite is
 * synchronous; the writes of one turn of the event loop run together in one IMMEDIATE transaction at
 * its end, each in a savepoint of its own (sqlite-batch.ts), which also keeps them correct when several
 * hub processes share the file (WAL + busy timeout serialise the writers). Statements are prepared
 * once, for the life of the store. A write returns once its commit is on disk: the commit itself only
 * writes the WAL (`synchronous = NORMAL`), and WalSync flushes it for every commit made meanwhile at
 * once (docs/store.md#durability).
 */
import { chmodSync, closeSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
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
import { WalSync } from "./wal-sync.ts";
import { SqliteBatches } from "./sqlite-batch.ts";
import { sqliteCas } from "./ca-sqlite.ts";
import type { CaCertificateCount, CaChangeResult, CaPhaseChange, CaRecord, NewCa } from "./cas.ts";

export const SQLITE_FILE = "tether-hub.db";
/** How long a writer waits for another process's write lock before SQLITE_BUSY. */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (creating 0600) `<dataDir>/tether-hub.db`, or an in-memory database for ":memory:".
 * `exclusive`: this process alone holds the file, and the WAL index lives in its heap instead of a
 * memory-mapped `-shm` file (docs/store.md#a-data-directory-that-cannot-be-written).
 */
export function openSqliteStore(dataDir: string, options: { exclusive?: boolean } = {}): SqliteStore {
  if (dataDir === ":memory:") return new SqliteStore(new DatabaseSync(":memory:"));
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, SQLITE_FILE);
  // Create the file ourselves so it is private from its first byte; it holds token hashes and the audit log.
  closeSync(openSync(file, "a", 0o600));
  chmodSync(file, 0o600);
  // The busy timeout is set on open, before the WAL switch, which itself may wait for another process.
  const db = new DatabaseSync(file, { timeout: BUSY_TIMEOUT_MS });
  // Only before the first access in WAL mode does SQLite keep the WAL index off shared memory.
  if (options.exclusive === true) db.exec("PRAGMA locking_mode = EXCLUSIVE");
  db.exec("PRAGMA journal_mode = WAL");
  // COMMIT writes the WAL without fsync; WalSync flushes it before a write is answered.
  db.exec("PRAGMA synchronous = NORMAL");
  // A checkpoint runs inside the COMMIT that fills the WAL to this many pages and holds the event loop
  // for its two fsyncs (up to ~200 ms on a busy disk): at 4000 pages (16 MiB) instead of SQLite's 1000
  // it comes a third as often, and the batches spend ~15 % less time committing (docs/store.md#durability).
  db.exec("PRAGMA wal_autocheckpoint = 4000");
  return new SqliteStore(db, new WalSync(`${file}-wal`));
}

export class SqliteStore implements Store {
  readonly #db: DatabaseSync;
  /** Undefined for an in-memory database, which has no disk to wait for. */
  readonly #wal: WalSync | undefined;
  readonly #statements = new Map<string, StatementSync>();
  /** Every write but the migrations' and the CAs' goes through the group commit (sqlite-batch.ts). */
  readonly #batches: SqliteBatches;

  constructor(db: DatabaseSync, wal?: WalSync) {
    // A batch undoes a failed write with its savepoint's journal: kept in memory, it costs no file writes.
    db.exec("PRAGMA temp_store = MEMORY");
    this.#db = db;
    this.#wal = wal;
    this.#batches = new SqliteBatches(db, wal);
  }

  /** The statement for `sql`, prepared on first use and kept; SQLite re-prepares it if the schema changes. */
  #prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** Waits until the writes committed so far are on disk. */
  async #durable(): Promise<void> {
    await this.#wal?.sync();
  }

  /**
   * Writes are only trusted once COMMIT returned: a disk error shows there, not in the statements
   * before it. SQLite may already have rolled back a failed COMMIT; the first error is the one reported.
   */
  #transaction<T>(work: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  #get(sql: string, ...params: (string | number | null)[]): Row | undefined {
    return this.#prepare(sql).get(...params);
  }

  #all(sql: string, ...params: (string | number | null)[]): Row[] {
    return this.#prepare(sql).all(...params);
  }

  async migrate(): Promise<void> {
    this.#transaction(() => {
      this.#db.exec(MIGRATIONS_TABLE);
      const applied = new Set(
        this.#all("SELECT version FROM schema_migrations").map((r) => Number(r.version)),
      );
      for (const m of migrations) {
        if (applied.has(m.version)) continue;
        this.#db.exec(m.sqlite);
        this.#db
          .prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
          .run(m.version, Date.now());
      }
    });
    await this.#durable();
  }

  async ping(): Promise<void> {
    await this.#batches.write(() => {
      this.#prepare(
        "INSERT INTO heartbeat (id, at) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at",
      ).run(Date.now());
    });
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) {
      this.#batches.run();
      this.#db.close();
    }
    await this.#wal?.close();
  }

  async createRuntime(runtime: Runtime): Promise<void> {
    await this.#batches.write(() => {
      try {
        this.#prepare(
          "INSERT INTO runtimes (id, tenant, grp, labels, created_at, last_seen_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ).run(...(runtimeValues(runtime) as (string | number | null)[]));
      } catch (error) {
        if ((error as { errcode?: number }).errcode === 1555) throw new DuplicateRuntimeError(runtime.id);
        throw error;
      }
    });
  }

  async getRuntime(id: string): Promise<Runtime | undefined> {
    const row = this.#get("SELECT * FROM runtimes WHERE id = ?", id);
    return row && toRuntime(row);
  }

  async listRuntimes(): Promise<Runtime[]> {
    return this.#all("SELECT * FROM runtimes ORDER BY created_at, id").map(toRuntime);
  }

  async listRuntimePage(after: string | null, limit: number): Promise<RuntimeHistory[]> {
    const runtimes = this.#all(
      "SELECT * FROM runtimes WHERE id > ? ORDER BY id LIMIT ?",
      after ?? "",
      limit,
    ).map(toRuntime);
    const last = runtimes.at(-1);
    if (last === undefined) return [];
    return toRuntimePage(runtimes, this.#all(RUNTIME_PAGE_CERTIFICATES, after ?? "", last.id));
  }

  async setRuntimeLabels(id: string, labels: Record<string, string>): Promise<void> {
    await this.#batches.write(() => this.#setLabels(id, labels));
  }

  #setLabels(id: string, labels: Record<string, string>): void {
    this.#prepare("UPDATE runtimes SET labels = ? WHERE id = ?").run(JSON.stringify(labels), id);
  }

  async touchRuntime(id: string, at: Date): Promise<void> {
    await this.#batches.write(() => {
      this.#prepare("UPDATE runtimes SET last_seen_at = ? WHERE id = ?").run(at.getTime(), id);
    });
  }

  async deleteRuntime(id: string, at: Date): Promise<boolean> {
    return this.#batches.write(() => {
      const changed = this.#prepare(
        "UPDATE runtimes SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
      ).run(at.getTime(), id).changes;
      if (Number(changed) === 0) return false;
      this.#prepare(
        "INSERT INTO revocations (sha256, revoked_at, reason) SELECT sha256, ?, 'runtime deleted' FROM certificates WHERE runtime_id = ? ON CONFLICT (sha256) DO NOTHING",
      ).run(at.getTime(), id);
      return true;
    }, "several");
  }

  async putToken(token: TokenRecord): Promise<void> {
    await this.#batches.write(() => this.#insertToken(token));
  }

  #insertToken(token: TokenRecord): void {
    this.#prepare(
      "INSERT INTO tokens (hash, purpose, runtime_id, created_at, expires_at, used_at, labels) VALUES (?, ?, ?, ?, ?, ?, ?)",
    ).run(...(tokenValues(token) as (string | number | null)[]));
  }

  #readToken(hash: string): TokenRecord | undefined {
    const row = this.#get("SELECT * FROM tokens WHERE hash = ?", hash.toLowerCase());
    return row && toToken(row);
  }

  async peekToken(hash: string, purpose: TokenPurpose, now: Date): Promise<ConsumeResult> {
    return classifyToken(this.#readToken(hash), purpose, now);
  }

  async consumeToken(hash: string, purpose: TokenPurpose, now: Date): Promise<ConsumeResult> {
    if (isReusable(purpose)) return this.peekToken(hash, purpose, now);
    return this.#batches.write(() => this.#useToken(hash, purpose, now));
  }

  /**
   * `.all()`, never `.get()`: `.get()` stops after the first row, and SQLite commits the statement
   * only when it runs to completion, so a failed commit (a WAL that cannot be written) would be
   * swallowed while the row reads as used.
   */
  #useToken(hash: string, purpose: TokenPurpose, now: Date): ConsumeResult {
    const [row] = this.#prepare(
      "UPDATE tokens SET used_at = ? WHERE hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ? RETURNING *",
    ).all(now.getTime(), hash.toLowerCase(), purpose, now.getTime());
    if (row) return { ok: true, token: toToken(row) };
    return classifyToken(this.#readToken(hash), purpose, now);
  }

  async recordCertificate(cert: CertificateRecord): Promise<void> {
    await this.#batches.write(() => this.#insertCertificate(cert));
  }

  #insertCertificate(cert: CertificateRecord): void {
    this.#prepare(
      "INSERT INTO certificates (sha256, runtime_id, serial, not_before, not_after, issuer_sha256, kind, issued_at, pem, parent_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ).run(...(certificateValues(cert) as (string | number | null)[]));
  }

  async getCertificate(sha256: string): Promise<CertificateRecord | undefined> {
    const row = this.#get("SELECT * FROM certificates WHERE sha256 = ?", sha256.toLowerCase());
    return row && toCertificate(row);
  }

  async listCertificates(runtimeId: string): Promise<CertificateRecord[]> {
    return this.#all(
      "SELECT * FROM certificates WHERE runtime_id = ? ORDER BY issued_at, sha256",
      runtimeId,
    ).map(toCertificate);
  }

  async revoke(revocation: Revocation): Promise<boolean> {
    return this.#batches.write(() => {
      const result = this.#prepare(
        "INSERT INTO revocations (sha256, revoked_at, reason) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
      ).run(revocation.sha256.toLowerCase(), revocation.revokedAt.getTime(), revocation.reason);
      return Number(result.changes) === 1;
    });
  }

  async getRevocation(sha256: string): Promise<Revocation | undefined> {
    const row = this.#get("SELECT * FROM revocations WHERE sha256 = ?", sha256.toLowerCase());
    return row && toRevocation(row);
  }

  async listRevocations(runtimeId?: string): Promise<Revocation[]> {
    const rows =
      runtimeId === undefined
        ? this.#all("SELECT * FROM revocations ORDER BY revoked_at, sha256")
        : this.#all(
            "SELECT r.* FROM revocations r JOIN certificates c ON c.sha256 = r.sha256 WHERE c.runtime_id = ? ORDER BY r.revoked_at, r.sha256",
            runtimeId,
          );
    return rows.map(toRevocation);
  }

  async revocationStamp(): Promise<number> {
    // Rows are only ever added, so the last rowid grows with each; a count would scan the table.
    return Number(this.#get("SELECT coalesce(max(rowid), 0) AS n FROM revocations")?.n);
  }

  async listRevokedCertificates(issuerSha256: string, now: Date): Promise<RevokedCertificate[]> {
    return this.#all(
      // CROSS JOIN makes SQLite start from the revocations, a few, and look their certificates up.
      "SELECT c.serial, r.revoked_at FROM revocations r CROSS JOIN certificates c ON c.sha256 = r.sha256 WHERE c.issuer_sha256 = ? AND c.not_after > ? ORDER BY r.revoked_at, c.serial",
      issuerSha256.toLowerCase(),
      now.getTime(),
    ).map(toRevokedCertificate);
  }

  async appendAudit(event: AuditEvent): Promise<void> {
    await this.#batches.write(() => this.#insertAudit(event));
  }

  #insertAudit(event: AuditEvent): void {
    this.#prepare("INSERT INTO audit (at, type, runtime_id, detail) VALUES (?, ?, ?, ?)").run(
      event.at.getTime(),
      event.type,
      event.runtimeId,
      JSON.stringify(event.detail),
    );
  }

  async listAudit(filter: { runtimeId?: string; type?: string; limit?: number } = {}): Promise<AuditEvent[]> {
    return this.#all(
      "SELECT * FROM audit WHERE (? IS NULL OR runtime_id = ?) AND (? IS NULL OR type = ?) ORDER BY at DESC, id DESC LIMIT ?",
      filter.runtimeId ?? null,
      filter.runtimeId ?? null,
      filter.type ?? null,
      filter.type ?? null,
      filter.limit ?? AUDIT_DEFAULT_LIMIT,
    ).map(toAudit);
  }

  async spendToken(
    hash: string,
    purpose: TokenPurpose,
    now: Date,
    purchase: Purchase,
  ): Promise<ConsumeResult> {
    return this.#batches.write(() => {
      const result = isReusable(purpose)
        ? classifyToken(this.#readToken(hash), purpose, now)
        : this.#useToken(hash, purpose, now);
      if (!result.ok) return result;
      if (purchase.token) this.#insertToken(purchase.token);
      if (purchase.certificate) this.#insertCertificate(purchase.certificate);
      if (purchase.labels) this.#setLabels(purchase.labels.runtimeId, purchase.labels.labels);
      for (const event of purchase.audit) this.#insertAudit(event);
      return result;
    }, "several");
  }

  async revokeLineage(revocation: Revocation): Promise<number> {
    return this.#batches.write(() => {
      const result = this.#prepare(
        `${LINEAGE.replace(":hash", "?")} INSERT INTO revocations (sha256, revoked_at, reason) SELECT sha256, ?, ? FROM lineage WHERE true ON CONFLICT (sha256) DO NOTHING`,
      ).run(revocation.sha256.toLowerCase(), revocation.revokedAt.getTime(), revocation.reason);
      return Number(result.changes);
    });
  }

  async firstRenewal(sha256: string): Promise<CertificateRecord | undefined> {
    const row = this.#get(
      "SELECT * FROM certificates WHERE parent_sha256 = ? ORDER BY issued_at, sha256 LIMIT 1",
      sha256.toLowerCase(),
    );
    return row && toCertificate(row);
  }

  async revokeToken(hash: string, at: Date): Promise<boolean> {
    return this.#batches.write(() => {
      const result = this.#prepare("UPDATE tokens SET used_at = ? WHERE hash = ? AND used_at IS NULL").run(
        at.getTime(),
        hash.toLowerCase(),
      );
      return Number(result.changes) === 1;
    });
  }

  async listCas(): Promise<CaRecord[]> {
    return sqliteCas.listCas(this.#db);
  }

  async caGeneration(): Promise<number> {
    return sqliteCas.caGeneration(this.#db);
  }

  async addCa(ca: NewCa, audit: AuditEvent[]): Promise<CaChangeResult> {
    const result = sqliteCas.addCa(this.#db, ca, audit);
    await this.#durable();
    return result;
  }

  async changeCaPhases(changes: CaPhaseChange[], at: Date, audit: AuditEvent[]): Promise<CaChangeResult> {
    const result = sqliteCas.changeCaPhases(this.#db, changes, at, audit);
    await this.#durable();
    return result;
  }

  async caCertificateCounts(now: Date, supersededBefore: Date): Promise<CaCertificateCount[]> {
    return sqliteCas.caCertificateCounts(this.#db, now, supersededBefore);
  }

  async recordTrustSeen(runtimeId: string, generation: number, at: Date): Promise<void> {
    sqliteCas.recordTrustSeen(this.#db, runtimeId, generation, at);
  }

  async countTrustSeen(generation: number): Promise<number> {
    return sqliteCas.countTrustSeen(this.#db, generation);
  }
}
