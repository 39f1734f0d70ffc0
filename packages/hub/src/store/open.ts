import { join } from "node:path";
import { openPostgresStore } from "./postgres.ts";
import { openSqliteStore, SQLITE_FILE } from "./sqlite.ts";
import type { Store } from "./store.ts";

/**
 * `--store postgres://...` selects PostgreSQL (shared by replicas); anything else is the embedded
 * SQLite file in the data directory. The schema is migrated before the store is returned.
 * `exclusive` (the hub's own store): the SQLite file is held by this process alone, so that a data
 * directory that turns read-only or immutable fails writes instead of killing the process with
 * SIGBUS (docs/store.md#a-data-directory-that-cannot-be-written).
 */
export async function openStore(options: {
  url?: string;
  dataDir: string;
  exclusive?: boolean;
}): Promise<Store> {
  const sqlite = !isPostgresUrl(options.url);
  let store: Store | undefined;
  try {
    store = sqlite
      ? openSqliteStore(options.dataDir, { exclusive: options.exclusive })
      : openPostgresStore(options.url!);
    await store.migrate();
  } catch (error) {
    await store?.close();
    if (sqlite && options.exclusive === true && /database is locked/.test((error as Error).message)) {
      throw new Error(
        `${join(options.dataDir, SQLITE_FILE)} is in use by another process: one hub per data directory (PostgreSQL for replicas)`,
        { cause: error },
      );
    }
    throw error;
  }
  return store;
}

export function isPostgresUrl(url: string | undefined): boolean {
  return url !== undefined && /^postgres(ql)?:\/\//.test(url);
}
