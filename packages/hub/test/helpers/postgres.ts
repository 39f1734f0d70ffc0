/**
 * A real PostgreSQL for tests: e2e/scripts/ensure-postgres.sh starts the machine's server (and
 * installs it if needed); each caller gets a fresh database, dropped when its test ends, so that
 * test files running in parallel never see each other's rows.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";
import type { Test } from "tap";

const SCRIPT = fileURLToPath(new URL("../../../../e2e/scripts/ensure-postgres.sh", import.meta.url));
let sharedUrl: string | undefined;

/** Runs the script once per process; returns its database URL (`tether_test`, a role that may create databases). */
export function postgresTestUrl(): string {
  sharedUrl ??= execFileSync("bash", [SCRIPT], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim();
  return sharedUrl;
}

/** Creates `tether_test_<random>` and returns its URL; the database is dropped in `t.teardown`. */
export async function freshPostgresDatabase(t: Test): Promise<string> {
  const admin = postgresTestUrl();
  const name = `tether_test_${randomBytes(6).toString("hex")}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  t.teardown(async () => {
    const dropper = new pg.Client({ connectionString: admin });
    await dropper.connect();
    await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await dropper.end();
  });
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return url.toString();
}
