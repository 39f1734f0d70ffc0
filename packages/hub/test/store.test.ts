import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import { runStoreConformance } from "../src/store/conformance.ts";
import { isPostgresUrl, openStore } from "../src/store/open.ts";
import { openPostgresStore } from "../src/store/postgres.ts";
import { SQLITE_FILE, openSqliteStore } from "../src/store/sqlite.ts";
import type { Store } from "../src/store/store.ts";
import { freshPostgresDatabase } from "./helpers/postgres.ts";

const T0 = new Date("2026-03-01T12:00:00Z");

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "tether-store-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
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

t.test("SQLite (file, shared by two store instances)", async (t) => {
  let dir = "";
  runStoreConformance(t, {
    open: async () => {
      dir = tempDir(t);
      return openStore({ dataDir: dir });
    },
    second: () => openStore({ dataDir: dir }),
  });
});

t.test("PostgreSQL (two pools stand in for two replicas)", async (t) => {
  let url = "";
  runStoreConformance(t, {
    open: async () => {
      url = await freshPostgresDatabase(t);
      return openStore({ url, dataDir: "/nonexistent" });
    },
    second: () => openStore({ url, dataDir: "/nonexistent" }),
  });
});

t.test("PostgreSQL: replicas starting at once migrate the schema exactly once", async (t) => {
  const url = await freshPostgresDatabase(t);
  const replicas = [1, 2, 3, 4].map(() => openPostgresStore(url, { max: 2 }));
  t.teardown(() => Promise.all(replicas.map((s) => s.close())));
  await t.resolves(Promise.all(replicas.map((s) => s.migrate())));
  await replicas[0]!.putToken({
    hash: "a".repeat(64),
    purpose: "info",
    runtimeId: "rt",
    createdAt: T0,
    expiresAt: new Date(T0.getTime() + 60_000),
    usedAt: null,
  });
  t.equal((await replicas[3]!.peekToken("a".repeat(64), "info", T0)).ok, true, "all replicas see one schema");
});

t.test("SQLite: nothing is lost across a restart, and the file is private", async (t) => {
  const dir = tempDir(t);
  const first: Store = await openStore({ dataDir: dir });
  await first.createRuntime({
    id: "rt-restart",
    tenant: "acme",
    group: "edge",
    labels: {},
    createdAt: T0,
    lastSeenAt: null,
    deletedAt: null,
  });
  await first.putToken({
    hash: "b".repeat(64),
    purpose: "info",
    runtimeId: "rt-restart",
    createdAt: T0,
    expiresAt: new Date(T0.getTime() + 600_000),
    usedAt: null,
  });
  await first.revoke({ sha256: "c".repeat(64), revokedAt: T0, reason: "admin" });
  await first.appendAudit({ at: T0, type: "token.issued", runtimeId: "rt-restart", detail: {} });
  await first.close();
  t.equal(statSync(join(dir, SQLITE_FILE)).mode & 0o777, 0o600);

  const second = await openStore({ dataDir: dir });
  t.teardown(() => second.close());
  t.equal((await second.getRuntime("rt-restart"))?.tenant, "acme");
  t.equal(
    (await second.consumeToken("b".repeat(64), "info", T0)).ok,
    true,
    "a token made before works once after",
  );
  t.equal((await second.consumeToken("b".repeat(64), "info", T0)).ok, false);
  t.equal((await second.getRevocation("c".repeat(64)))?.reason, "admin");
  t.equal((await second.listAudit()).length, 1);
});

t.test("openStore picks the adapter from the URL and closes a store it cannot migrate", async (t) => {
  t.equal(isPostgresUrl("postgres://u@h/db"), true);
  t.equal(isPostgresUrl("postgresql://u@h/db"), true);
  t.equal(isPostgresUrl(undefined), false);
  t.equal(isPostgresUrl("sqlite:///x"), false);
  await t.rejects(openStore({ url: "postgres://tether:wrong@127.0.0.1:1/none", dataDir: "/x" }));
});
