/**
 * The CA methods of the SQLite store (store/cas.ts). Each change is one IMMEDIATE transaction, run
 * synchronously from BEGIN to COMMIT so that no other call on the connection can slip in between.
 */
import type { DatabaseSync } from "node:sqlite";
import {
  CA_SQL,
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
import { num } from "./rows.ts";
import type { AuditEvent } from "./store.ts";

type Plan = { ok: false; result: CaChangeResult } | { ok: true; generation: number; writes: CaWrite[] };

function listCas(db: DatabaseSync): CaRecord[] {
  return db.prepare(CA_SQL.list).all().map(toCa);
}

function apply(db: DatabaseSync, plan: (current: CaRecord[]) => Plan): CaChangeResult {
  db.exec("BEGIN IMMEDIATE");
  try {
    const planned = plan(listCas(db));
    if (!planned.ok) {
      db.exec("ROLLBACK");
      return planned.result;
    }
    for (const write of planned.writes) db.prepare(write.sql).run(...write.params);
    db.exec("COMMIT");
    return { ok: true, generation: planned.generation };
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

export const sqliteCas = {
  listCas,
  caGeneration: (db: DatabaseSync): number => num(db.prepare(CA_SQL.generation).get()?.g),
  addCa: (db: DatabaseSync, ca: NewCa, audit: AuditEvent[]): CaChangeResult =>
    apply(db, (current) => planAddCa(current, ca, audit)),
  changeCaPhases: (
    db: DatabaseSync,
    changes: CaPhaseChange[],
    at: Date,
    audit: AuditEvent[],
  ): CaChangeResult => apply(db, (current) => planPhaseChange(current, changes, at, audit)),
  caCertificateCounts: (db: DatabaseSync, now: Date, supersededBefore: Date): CaCertificateCount[] =>
    db.prepare(CA_SQL.counts).all(now.getTime(), supersededBefore.getTime()).map(toCount),
  recordTrustSeen: (db: DatabaseSync, runtimeId: string, generation: number, at: Date): void => {
    db.prepare(CA_SQL.trustSeen).run(runtimeId, generation, at.getTime());
  },
  countTrustSeen: (db: DatabaseSync, generation: number): number =>
    num(db.prepare(CA_SQL.countSeen).get(generation)?.n),
};
