/**
 * Group commit at the transaction level for the SQLite store (docs/store.md#durability). The writes
 * asked for during one turn of the event loop run together, at the end of it, in ONE
 * `BEGIN IMMEDIATE … COMMIT`, followed by one flush of the WAL (wal-sync.ts); each is answered only
 * after both. A COMMIT writes every page the transaction changed to the WAL, and the writes of one
 * turn mostly change the same pages (the ends of the audit and certificate tables and of their
 * indexes), so a batch writes each page once instead of once per write.
 *
 * Every write is still all or nothing on its own: a unit of several statements runs inside a
 * SAVEPOINT, and when it throws, only it is rolled back and only its caller gets the error. A unit of
 * one statement needs none: SQLite undoes a failed statement by itself. When the transaction as a
 * whole is lost (a COMMIT that fails, or an error after which SQLite rolled everything back), every
 * unit of the batch fails, and none of them has been answered yet.
 *
 * The batch runs synchronously from BEGIN to COMMIT, so no read on the connection ever sees a write
 * that is not committed, and the write lock a batch takes (shared with `--workers` processes) is
 * held only while its statements run, not for the rest of the turn.
 */
import type { DatabaseSync } from "node:sqlite";
import type { WalSync } from "./wal-sync.ts";

interface Unit {
  work: () => unknown;
  /** Several statements: the unit needs a savepoint of its own to be undone alone. */
  statements: "one" | "several";
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

interface Done {
  unit: Unit;
  value: unknown;
}

export class SqliteBatches {
  readonly #db: DatabaseSync;
  /** Undefined for an in-memory database, which has no disk to wait for. */
  readonly #wal: WalSync | undefined;
  #queue: Unit[] = [];
  #scheduled = false;

  constructor(db: DatabaseSync, wal: WalSync | undefined) {
    this.#db = db;
    this.#wal = wal;
  }

  /**
   * Runs `work` in the batch of this turn; resolves with what it returned once the batch is committed
   * and on disk, or rejects with what it threw (then nothing it did is kept).
   */
  write<T>(work: () => T, statements: "one" | "several" = "one"): Promise<T> {
    const done = new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, statements, resolve: resolve as (value: unknown) => void, reject });
    });
    if (!this.#scheduled) {
      this.#scheduled = true;
      // At the end of this turn, so that the writes the other requests of the turn ask for join it.
      setImmediate(() => this.run());
    }
    return done;
  }

  /** Runs what is queued now; `close` calls it so that no write asked for is dropped. */
  run(): void {
    this.#scheduled = false;
    const units = this.#queue.splice(0);
    if (units.length === 0) return;
    const committed = this.#commit(units);
    if (committed.length === 0) return;
    const durable = this.#wal?.sync() ?? Promise.resolve();
    durable.then(
      () => {
        for (const { unit, value } of committed) unit.resolve(value);
      },
      (error: unknown) => {
        for (const { unit } of committed) unit.reject(error);
      },
    );
  }

  /** The units that are committed (each failed one has been rejected), or none when the batch is lost. */
  #commit(units: Unit[]): Done[] {
    const db = this.#db;
    try {
      db.exec("BEGIN IMMEDIATE");
    } catch (error) {
      for (const unit of units) unit.reject(error);
      return [];
    }
    const done: Done[] = [];
    for (const unit of units) {
      try {
        done.push({ unit, value: this.#runUnit(unit) });
      } catch (error) {
        if (db.isTransaction) {
          unit.reject(error);
          continue;
        }
        // SQLite rolled the whole transaction back (an I/O error, a full disk): the units before this
        // one are gone with it, and the ones after it would run without a transaction.
        for (const other of units) other.reject(error);
        return [];
      }
    }
    try {
      db.exec("COMMIT");
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      for (const { unit } of done) unit.reject(error);
      return [];
    }
    return done;
  }

  /** Throws with the unit undone and the transaction still open, or with the transaction gone. */
  #runUnit(unit: Unit): unknown {
    const db = this.#db;
    if (unit.statements === "one") return unit.work();
    db.exec("SAVEPOINT unit");
    try {
      const value = unit.work();
      db.exec("RELEASE unit");
      return value;
    } catch (error) {
      if (db.isTransaction) {
        try {
          db.exec("ROLLBACK TO unit");
          db.exec("RELEASE unit");
        } catch {
          // The savepoint could not be undone: give up the whole transaction, as SQLite would.
          db.exec("ROLLBACK");
        }
      }
      throw error;
    }
  }
}
