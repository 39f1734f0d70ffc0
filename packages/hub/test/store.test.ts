import { execFile } from "node:child_process";
import { DatabaseSync } from "node:sqlite";
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import pg from "pg";
import t, { type Test } from "tap";
import { runStoreConformance } from "../src/store/conformance.ts";
import { isPostgresUrl, openStore } from "../src/store/open.ts";
import { openPostgresStore } from "../src/store/postgres.ts";
import { SQLITE_FILE, openSqliteStore } from "../src/store/sqlite.ts";
import { freshPostgresDatabase } from "./helpers/postgres.ts";

const T0 = new Date("2026-03-01T12:00:00Z");
const OPEN_TS = new URL("../src/store/open.ts", import.meta.url).href;
const SQLITE_TS = new URL("../src/store/sqlite.ts", import.meta.url).href;

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "tether-store-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function infoToken(hash: string) {
  return {
    hash,
    purpose: "info" as const,
    runtimeId: "rt",
    createdAt: T0,
    expiresAt: new Date(T0.getTime() + 600_000),
    usedAt: null,
    labels: null,
  };
}

/** Runs `body` in a separate Node process with `store` opened on `dataDir`; its stdout is JSON. */
async function inProcess(dataDir: string, body: string): Promise<unknown> {
  const code = `import { openStore } from ${JSON.stringify(OPEN_TS)};
const store = await openStore({ dataDir: ${JSON.stringify(dataDir)} });
${body}
await store.close();`;
  const { stdout } = await promisify(execFile)(process.execPath, ["--input-type=module", "-e", code]);
  return JSON.parse(stdout || "null");
}

t.test("SQLite (in memory)", async (t) => {
  runStoreConformance(t, {
    open: async () => {
      const store = openSqliteStore(":memory:");
      await store.migrate();
      return store;
    },
  });
});

t.test("SQLite (file; reopened as a second process or after a restart)", async (t) => {
  let dir = "";
  runStoreConformance(t, {
    open: async () => {
      dir = tempDir(t);
      return openStore({ dataDir: dir });
    },
    reopen: () => openStore({ dataDir: dir }),
  });
});

t.test("PostgreSQL (reopened as a second pool: another replica, or after a restart)", async (t) => {
  let url = "";
  runStoreConformance(t, {
    open: async () => {
      url = await freshPostgresDatabase(t);
      return openStore({ url, dataDir: "/nonexistent" });
    },
    reopen: () => openStore({ url, dataDir: "/nonexistent" }),
    insertRuntimes: async (runtimes) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(
        "INSERT INTO runtimes (id, tenant, grp, labels, created_at) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])",
        [
          runtimes.map((r) => r.id),
          runtimes.map((r) => r.tenant),
          runtimes.map((r) => r.group),
          runtimes.map((r) => JSON.stringify(r.labels)),
          runtimes.map((r) => r.createdAt.getTime()),
        ],
      );
      await client.end();
    },
  });
});

t.test("PostgreSQL: replicas starting at once on an empty database migrate it once", async (t) => {
  const url = await freshPostgresDatabase(t);
  const replicas = [1, 2, 3, 4].map(() => openPostgresStore(url, { max: 2 }));
  t.teardown(() => Promise.all(replicas.map((s) => s.close())));
  await t.resolves(Promise.all(replicas.map((s) => s.migrate())));
  await replicas[0]!.putToken(infoToken("a".repeat(64)));
  t.equal((await replicas[3]!.peekToken("a".repeat(64), "info", T0)).ok, true, "all replicas see one schema");
});

t.test("SQLite: three processes share one new file; each one-time token is won exactly once", async (t) => {
  const dir = tempDir(t);
  await t.resolves(
    Promise.all([1, 2, 3].map(() => inProcess(dir, ""))),
    "processes opening a fresh file at once all migrate it",
  );
  t.equal(statSync(join(dir, SQLITE_FILE)).mode & 0o777, 0o600, "the file is private");

  const store = await openStore({ dataDir: dir });
  t.teardown(() => store.close());
  const hashes = Array.from({ length: 100 }, (_, i) => i.toString(16).padStart(64, "0"));
  for (const hash of hashes) await store.putToken(infoToken(hash));
  // Each process opens the store, says it is ready, and waits for "go": then all three walk the
  // tokens in the same order, so that each token is contested by every process.
  const race = `const { existsSync, writeFileSync } = await import("node:fs");
writeFileSync(${JSON.stringify(join(dir, "ready-"))} + process.pid, "");
while (!existsSync(${JSON.stringify(join(dir, "go"))})) await new Promise((resolve) => setTimeout(resolve, 2));
const wins = [];
for (const hash of ${JSON.stringify(hashes)}) {
  if ((await store.consumeToken(hash, "info", new Date(${T0.getTime()}))).ok) wins.push(hash);
}
console.log(JSON.stringify(wins));`;
  let exited = 0;
  const processes = [1, 2, 3].map(() => inProcess(dir, race).finally(() => exited++));
  while (exited === 0 && readdirSync(dir).filter((f) => f.startsWith("ready-")).length < 3) await sleep(10);
  writeFileSync(join(dir, "go"), "");
  const wins = (await Promise.all(processes)) as string[][];
  t.same(wins.flat().sort(), hashes, "every token won once, by one process");
});

t.test(
  "SQLite: a write whose commit fails (the WAL cannot be written) is reported, never seen as done",
  async (t) => {
    const dir = tempDir(t);
    const store = await openStore({ dataDir: dir });
    t.teardown(() => store.close());
    for (const hash of ["a", "b"]) await store.putToken(infoToken(hash.repeat(64)));
    // This connection keeps the WAL index (-shm) in place; with the WAL emptied, the first frame a
    // writer appends is past the child's file size limit: the disk is full for it, and only for it.
    const holder = new DatabaseSync(join(dir, SQLITE_FILE));
    t.teardown(() => holder.close());
    holder.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    const attempt = async (call: string) => {
      const code = `import { openSqliteStore } from ${JSON.stringify(SQLITE_TS)};
process.on("SIGXFSZ", () => undefined);
const store = openSqliteStore(${JSON.stringify(dir)});
try { console.log(JSON.stringify(await ${call})); } catch (error) { console.log(JSON.stringify({ error: error.message })); }`;
      const { stdout } = await promisify(execFile)("prlimit", [
        "--fsize=1024",
        process.execPath,
        "--input-type=module",
        "-e",
        code,
      ]);
      return JSON.parse(stdout) as { ok?: boolean; error?: string };
    };
    const usedAt = (hash: string) =>
      holder.prepare("SELECT used_at FROM tokens WHERE hash = ?").get(hash)?.used_at;
    const at = T0.getTime() + 1000;

    const batch = await attempt(
      `Promise.allSettled([
  store.consumeToken("${"a".repeat(64)}", "info", new Date(${at})),
  store.spendToken("${"b".repeat(64)}", "info", new Date(${at}), { audit: [] }),
  store.appendAudit({ at: new Date(${at}), type: "token.refused", runtimeId: null, detail: {} }),
]).then((results) => ({ error: results.map((r) => r.reason?.message ?? "answered").join(" | ") }))`,
    );
    t.match(
      batch.error?.split(" | "),
      Array(3).fill(/disk I\/O error|database or disk is full/),
      "writes made together, committed together: every one of them fails with the COMMIT",
    );
    t.same([usedAt("a".repeat(64)), usedAt("b".repeat(64))], [null, null], "and none is on disk");
    t.equal(holder.prepare("SELECT count(*) AS n FROM audit").get()?.n, 0);
    holder.exec("PRAGMA wal_checkpoint(TRUNCATE)");

    const consumed = await attempt(`store.consumeToken("${"a".repeat(64)}", "info", new Date(${at}))`);
    t.equal(usedAt("a".repeat(64)), null, "the token was not used on disk");
    t.match(consumed, { error: /disk I\/O error|database or disk is full/ }, "consumeToken says so");

    const spent = await attempt(
      `store.spendToken("${"b".repeat(64)}", "info", new Date(${at}), { audit: [{ at: new Date(${at}), type: "token.used", runtimeId: "rt", detail: {} }] })`,
    );
    t.equal(usedAt("b".repeat(64)), null);
    t.match(spent, { error: /disk I\/O error|database or disk is full/ }, "spendToken says so");
    t.equal(
      (await store.consumeToken("a".repeat(64), "info", new Date(at))).ok,
      true,
      "the token is still usable",
    );
  },
);

t.test("openStore picks the adapter from the URL and closes a store it cannot migrate", async (t) => {
  t.equal(isPostgresUrl("postgres://u@h/db"), true);
  t.equal(isPostgresUrl("postgresql://u@h/db"), true);
  t.equal(isPostgresUrl(undefined), false);
  t.equal(isPostgresUrl("sqlite:///x"), false);
  await t.rejects(openStore({ url: "postgres://tether:wrong@127.0.0.1:1/none", dataDir: "/x" }));
});
