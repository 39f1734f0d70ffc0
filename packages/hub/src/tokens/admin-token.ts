/**
 * The admin token of the internal API (docs/tokens.md#the-admin-token). Generated on first start, stored in the store as a
 * hash like every token, and written once in plain text to `<data-dir>/admin-token` (0600), where
 * `tether-hub admin-token` reads it. `--admin-token` (e.g. from a Kubernetes Secret) sets it instead.
 * Replicas sharing a PostgreSQL store each add theirs; every stored admin token is accepted.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Clock } from "@tether/shared/time";
import type { Store } from "../store/store.ts";
import { hashToken, mintToken } from "./tokens.ts";

export const ADMIN_TOKEN_FILE = "admin-token";
/** Admin tokens do not expire; the store needs a date all the same. */
const ADMIN_TOKEN_LIFETIME_MS = 100 * 365 * 86_400_000;

export function adminTokenPath(dataDir: string): string {
  return join(dataDir, ADMIN_TOKEN_FILE);
}

export async function readAdminToken(dataDir: string): Promise<string | undefined> {
  const file = adminTokenPath(dataDir);
  return existsSync(file) ? (await readFile(file, "utf8")).trim() : undefined;
}

/** Makes sure the admin token exists in the store; returns the file it lives in, unless given by flag. */
export async function ensureAdminToken(options: {
  store: Store;
  clock: Clock;
  dataDir: string;
  explicit: string | undefined;
}): Promise<{ file: string | undefined }> {
  const { store, clock, dataDir, explicit } = options;
  const file = adminTokenPath(dataDir);
  let token = explicit ?? (await readAdminToken(dataDir));
  const fresh = token === undefined;
  token ??= mintToken();
  const now = clock.now();
  const hash = hashToken(token);
  // A data dir carried over to a new (e.g. PostgreSQL) store: register its token there too.
  if (!(await store.peekToken(hash, "admin", now)).ok) {
    const expiresAt = new Date(now.getTime() + ADMIN_TOKEN_LIFETIME_MS);
    try {
      await store.putToken({
        hash,
        purpose: "admin",
        runtimeId: "",
        createdAt: now,
        expiresAt,
        usedAt: null,
        labels: null,
      });
    } catch (error) {
      // Replicas started with the same --admin-token race to insert it; one insert is enough.
      if (!(await store.peekToken(hash, "admin", now)).ok) throw error;
    }
  }
  if (fresh) {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await writeFile(file, `${token}\n`, { mode: 0o600, flag: "wx" });
  }
  return { file: explicit === undefined ? file : undefined };
}
