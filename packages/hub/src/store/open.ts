import { openPostgresStore } from "./postgres.ts";
import { openSqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

/**
 * `--store postgres://...` selects PostgreSQL (shared by replicas); anything else is the embedded
 * SQLite file in the data directory. The schema is migrated before the store is returned.
 */
export async function openStore(options: { url?: string; dataDir: string }): Promise<Store> {
  const store = isPostgresUrl(options.url)
    ? openPostgresStore(options.url!)
    : openSqliteStore(options.dataDir);
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

export function isPostgresUrl(url: string | undefined): boolean {
  return url !== undefined && /^postgres(ql)?:\/\//.test(url);
}
