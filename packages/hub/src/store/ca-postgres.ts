/**
 * The CA methods of the PostgreSQL store (store/cas.ts). Every change holds one advisory lock for its
 * transaction, so that replicas changing CAs at once take turns and each sees the other's result.
 */
import type pg from "pg";
import {
  CA_SQL,
  numbered,
  planAddCa,
  planPhaseChange,
  toCa,
  toCount,
  type CaCertificateCount,
  type CaChangeResult,
  type CaPhaseChange,
  type CaRecord,
  type CaWrite,
  type NewCa,
} from "./cas.ts";
import { num, type Row } from "./rows.ts";
import type { AuditEvent } from "./store.ts";

/** Any constant other than the migration lock's. */
const CA_LOCK_KEY = 0x7e7e_00ca;

type Plan = { ok: false; result: CaChangeResult } | { ok: true; generation: number; writes: CaWrite[] };

async function rows(db: pg.Pool | pg.PoolClient, sql: string, params: unknown[] = []): Promise<Row[]> {
  return (await db.query<Row>(numbered(sql), params)).rows;
}

async function apply(pool: pg.Pool, plan: (current: CaRecord[]) => Plan): Promise<CaChangeResult> {
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock($1)", [CA_LOCK_KEY]);
    const planned = plan((await rows(client, CA_SQL.list)).map(toCa));
    if (!planned.ok) {
      await client.query("ROLLBACK");
      client.release();
      return planned.result;
    }
    for (const write of planned.writes) await client.query(numbered(write.sql), write.params);
    await client.query("COMMIT");
    client.release();
    return { ok: true, generation: planned.generation };
  } catch (error) {
    // A connection that failed mid-transaction is not trusted again: the pool replaces it.
    await client.query("ROLLBACK").catch(() => undefined);
    client.release(true);
    throw error;
  }
}

export const postgresCas = {
  listCas: async (pool: pg.Pool): Promise<CaRecord[]> => (await rows(pool, CA_SQL.list)).map(toCa),
  caGeneration: async (pool: pg.Pool): Promise<number> => num((await rows(pool, CA_SQL.generation))[0]?.g),
  addCa: (pool: pg.Pool, ca: NewCa, audit: AuditEvent[]): Promise<CaChangeResult> =>
    apply(pool, (current) => planAddCa(current, ca, audit)),
  changeCaPhases: (pool: pg.Pool, changes: CaPhaseChange[], at: Date, audit: AuditEvent[]) =>
    apply(pool, (current) => planPhaseChange(current, changes, at, audit)),
  caCertificateCounts: async (
    pool: pg.Pool,
    now: Date,
    supersededBefore: Date,
  ): Promise<CaCertificateCount[]> =>
    (await rows(pool, CA_SQL.counts, [now.getTime(), supersededBefore.getTime()])).map(toCount),
  recordTrustSeen: async (pool: pg.Pool, runtimeId: string, generation: number, at: Date): Promise<void> => {
    await rows(pool, CA_SQL.trustSeen, [runtimeId, generation, at.getTime()]);
  },
  countTrustSeen: async (pool: pg.Pool, generation: number): Promise<number> =>
    num((await rows(pool, CA_SQL.countSeen, [generation]))[0]?.n),
};
