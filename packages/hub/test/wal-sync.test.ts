/**
 * The SQLite store's group commit (store/wal-sync.ts, docs/store.md#durability): a write is answered
 * after a flush that started after its commit; writes waiting together share one flush; a failed
 * flush fails the writes that waited for it, and the next one opens the file again.
 */
import { writeFileSync } from "node:fs";
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import t from "tap";
import { WalSync } from "../src/store/wal-sync.ts";
import { tempDir } from "./helpers/hub.ts";

t.test(
  "writes waiting together share a flush; one that arrives during a flush waits for the next",
  async (t) => {
    const file = join(tempDir(t), "x.db-wal");
    writeFileSync(file, "frames");
    // Count the flushes: every FileHandle shares this prototype.
    const handle = await open(file, "r");
    const prototype = Object.getPrototypeOf(handle) as { datasync: () => Promise<void> };
    await handle.close();
    const original = prototype.datasync;
    const started: number[] = [];
    let onFlush = (): unknown => undefined;
    prototype.datasync = async function (this: unknown) {
      started.push(performance.now());
      onFlush();
      return original.call(this);
    };
    t.teardown(() => {
      prototype.datasync = original;
    });
    const wal = new WalSync(file);
    t.teardown(() => wal.close());

    await Promise.all(Array.from({ length: 100 }, () => wal.sync()));
    t.equal(started.length, 1, "100 writes waiting at once: one flush");

    started.length = 0;
    let late: Promise<number> | undefined;
    // A commit made while the disk is being flushed may not be in that flush.
    onFlush = () => (late ??= wal.sync().then(() => performance.now()));
    await wal.sync();
    const lateAt = await late!;
    t.equal(started.length, 2, "a write made while the flush ran gets a flush of its own");
    t.ok(lateAt >= started[1]!, "and is answered after that flush started");
  },
);

t.test("a failed flush fails its writes; the next flush opens the file again", async (t) => {
  const file = join(tempDir(t), "x.db-wal");
  const wal = new WalSync(file);
  t.teardown(() => wal.close());
  await t.rejects(wal.sync(), { code: "ENOENT" }, "no WAL to flush: the write is not confirmed");
  writeFileSync(file, "frames");
  await t.resolves(wal.sync(), "the file is back: writes are confirmed again");
  await rm(file);
  writeFileSync(file, "new frames");
  await t.resolves(wal.sync());
});
