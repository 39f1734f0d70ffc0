import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { runCaStoreConformance } from "../src/store/ca-conformance.ts";
import { openStore } from "../src/store/open.ts";
import { openSqliteStore } from "../src/store/sqlite.ts";
import { freshPostgresDatabase } from "./helpers/postgres.ts";

t.test("SQLite (in memory)", async (t) => {
  runCaStoreConformance(t, {
    open: async () => {
      const store = openSqliteStore(":memory:");
      await store.migrate();
      return store;
    },
  });
});

t.test("SQLite (file; a second process on it)", async (t) => {
  let dir = "";
  runCaStoreConformance(t, {
    open: async () => {
      dir = mkdtempSync(join(tmpdir(), "tether-ca-store-"));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      return openStore({ dataDir: dir });
    },
    reopen: () => openStore({ dataDir: dir }),
  });
});

t.test("PostgreSQL (a second pool: another replica)", async (t) => {
  let url = "";
  runCaStoreConformance(t, {
    open: async () => {
      url = await freshPostgresDatabase(t);
      return openStore({ url, dataDir: "/nonexistent" });
    },
    reopen: () => openStore({ url, dataDir: "/nonexistent" }),
  });
});
