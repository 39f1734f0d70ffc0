/**
 * Group commit for the SQLite store (docs/store.md#durability). The database runs WAL with
 * `synchronous = NORMAL`, so a COMMIT only writes the WAL, without waiting for the disk; a write is
 * answered once `sync()` says the WAL is on disk. Writes that arrive while one fdatasync runs share
 * the next one, on libuv's thread pool, so neither the event loop nor the other requests wait for the
 * disk, and one flush serves every commit before it.
 */
import { open, type FileHandle } from "node:fs/promises";

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class WalSync {
  readonly #file: string;
  #handle: Promise<FileHandle> | undefined;
  #waiters: Waiter[] = [];
  #flushing = false;

  /** `file`: the WAL (`<database>-wal`), which SQLite keeps while a connection is open. */
  constructor(file: string) {
    this.#file = file;
  }

  /** Resolves once everything committed before the call is on disk; rejects when the flush failed. */
  sync(): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (!this.#flushing) {
      this.#flushing = true;
      // The first flush starts once this turn of the event loop is done, so that the commits the
      // other requests of this turn make share it.
      setImmediate(() => void this.#flush());
    }
    return done;
  }

  /** Each round flushes for the commits made before it started; later ones wait for the next round. */
  async #flush(): Promise<void> {
    while (this.#waiters.length > 0) {
      const round = this.#waiters.splice(0);
      try {
        // Linux flushes a file's pages through any descriptor of it, a read-only one included.
        await (await (this.#handle ??= open(this.#file, "r"))).datasync();
        for (const waiter of round) waiter.resolve();
      } catch (error) {
        // The next round opens the file again (and this descriptor is let go).
        void this.close();
        for (const waiter of round) waiter.reject(error);
      }
    }
    this.#flushing = false;
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await (await handle?.catch(() => undefined))?.close();
  }
}
