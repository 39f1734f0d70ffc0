/**
 * Nothing is lost when the store fails: a one-time token is used in the transaction that stores
 * what it bought, so after a failed write (a full disk, a lost database) the same token works once
 * the store is back, and a hub killed in the middle of a burst leaves no used token without its
 * certificate. Failures are real database errors (triggers that refuse the write, as a full disk
 * does) on both adapters, and a real SIGKILL of a hub process.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import t, { type Test } from "tap";
import { Agent } from "undici";
import { ErrorMessages, type CsrInfo, type TokenResponse } from "@tether/shared/contract";
import { generateKeyPair, parseSubject } from "@tether/shared/pki";
import { openStore } from "../src/store/open.ts";
import { TOUCH_INTERVAL_MS } from "../src/mtls/client-identity.ts";
import { SQLITE_FILE } from "../src/store/sqlite.ts";
import type { Store } from "../src/store/store.ts";
import { hashToken } from "../src/tokens/tokens.ts";
import {
  MANAGEMENT,
  adminHeaders,
  call,
  createToken,
  csrBody,
  enrol,
  errorBody,
  startHub,
  tempDir,
  type TestHub,
} from "./helpers/hub.ts";
import { freshPostgresDatabase } from "./helpers/postgres.ts";
import { freePort, spawnHub } from "./helpers/process.ts";

/** A store and a way to make its writes to one table fail, as on a full disk, and to heal it. */
interface Breakable {
  store: Store;
  fail(table: "tokens" | "certificates"): Promise<void>;
  heal(table: "tokens" | "certificates"): Promise<void>;
  /** Every write fails from now on (reads still work), until `writable`. */
  readOnly(): Promise<void>;
  writable(): Promise<void>;
}

const TABLES = ["runtimes", "tokens", "certificates", "revocations", "audit", "heartbeat"];

async function sqliteBreakable(t: Test): Promise<Breakable> {
  const dir = tempDir(t);
  const store = await openStore({ dataDir: dir });
  const db = new DatabaseSync(join(dir, SQLITE_FILE), { timeout: 5000 });
  t.teardown(async () => {
    db.close();
    await store.close();
  });
  return {
    store,
    fail: async (table) =>
      db.exec(
        `CREATE TRIGGER fail_${table} BEFORE INSERT ON ${table} BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`,
      ),
    heal: async (table) => db.exec(`DROP TRIGGER fail_${table}`),
    readOnly: async () => {
      for (const table of TABLES) {
        for (const op of ["INSERT", "UPDATE"]) {
          db.exec(
            `CREATE TRIGGER ro_${op}_${table} BEFORE ${op} ON ${table} BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END`,
          );
        }
      }
    },
    writable: async () => {
      for (const table of TABLES)
        for (const op of ["INSERT", "UPDATE"]) db.exec(`DROP TRIGGER ro_${op}_${table}`);
    },
  };
}

async function postgresBreakable(t: Test): Promise<Breakable> {
  const url = await freshPostgresDatabase(t);
  const name = new URL(url).pathname.slice(1);
  const store = await openStore({ url, dataDir: "/nonexistent" });
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  const others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()";
  /** Ends the hub's connections and waits until they are gone, so that its next query opens a new one. */
  const cutConnections = async () => {
    await db.query(`SELECT pg_terminate_backend(pid) ${others}`);
    while (Number((await db.query<{ n: string }>(`SELECT count(*) AS n ${others}`)).rows[0]!.n) > 0) {
      await sleep(10);
    }
  };
  t.teardown(async () => {
    await db.end();
    await store.close();
  });
  await db.query(
    "CREATE FUNCTION disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'could not extend file: No space left on device'; END $$",
  );
  return {
    store,
    fail: async (table) => {
      await db.query(
        `CREATE TRIGGER fail_${table} BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION disk_full()`,
      );
    },
    heal: async (table) => {
      await db.query(`DROP TRIGGER fail_${table} ON ${table}`);
    },
    // As after a failover to a standby: the database answers, read-only. The hub's pooled
    // connections are cut, so that the ones it opens next get the new default.
    readOnly: async () => {
      await db.query(`ALTER DATABASE ${name} SET default_transaction_read_only = on`);
      await cutConnections();
    },
    writable: async () => {
      await db.query(`ALTER DATABASE ${name} RESET default_transaction_read_only`);
      await cutConnections();
    },
  };
}

async function retryAfterFailure(t: Test, breakable: Breakable): Promise<void> {
  const { store } = breakable;
  const hub: TestHub = await startHub(t, { store });
  const { url } = await createToken(hub, { runtime: "edge-1" });

  await breakable.fail("tokens");
  const failedInfo = await call(url, { dispatcher: hub.agent });
  t.equal(failedInfo.status, 503, "info: the CSR token cannot be stored");
  await breakable.heal("tokens");
  const info = await call<CsrInfo>(url, { dispatcher: hub.agent });
  t.equal(info.status, 200, "the same one-time token works once the store is back");

  const key = await generateKeyPair("ecdsa-p256");
  const body = await csrBody(key, parseSubject(info.body.certificate.subject));
  await breakable.fail("certificates");
  const failed = await call(info.body.csrUrl, { dispatcher: hub.agent, json: body });
  t.same(failed.body, errorBody(503, ErrorMessages.storeUnavailable), "certificate: it cannot be stored");
  t.same(await store.listCertificates("edge-1"), [], "nothing was stored");
  await breakable.heal("certificates");
  const issued = await call(info.body.csrUrl, { dispatcher: hub.agent, json: body });
  t.equal(issued.status, 201, "the same CSR token gets its certificate once the store is back");
  t.equal((await store.listCertificates("edge-1")).length, 1);
  const again = await call(info.body.csrUrl, { dispatcher: hub.agent, json: body });
  t.equal(again.status, 403, "and is used up then");
}

/** Not ready, 503 where a write is needed, 403 for a bad token, reads served; all back afterwards. */
async function cannotWrite(t: Test, breakable: Breakable): Promise<void> {
  const hub = await startHub(t, { store: breakable.store });
  const enrolled = await enrol(t, hub, { runtime: "edge-ro" });
  const { url } = await createToken(hub, { runtime: "edge-ro" });
  t.same((await call(`${hub.publicUrl}/readyz`, { dispatcher: hub.agent })).body, { status: "ready" });

  await breakable.readOnly();
  for (const base of [hub.publicUrl, hub.internalUrl]) {
    const ready = await call(`${base}/readyz`, { dispatcher: hub.agent });
    t.match(
      ready,
      { status: 503, body: { code: 503, error: /^Store not writable: / } },
      `${base}: not ready`,
    );
  }
  const unavailable = errorBody(503, ErrorMessages.storeUnavailable);
  const created = await call(`${hub.internalUrl}/v1/runtimes/tokens`, {
    headers: adminHeaders(hub, { tenant: "acme", group: "prod" }),
    json: {},
  });
  t.same([created.status, created.body], [503, unavailable], "a new token cannot be stored: 503");
  const info = await call(url, { dispatcher: hub.agent });
  t.same([info.status, info.body], [503, unavailable], "CSR info cannot store its CSR token: 503");
  const unknown = await call(`${hub.publicUrl}/v1/runtimes/signingRequests/info?token=unknown`, {
    dispatcher: hub.agent,
  });
  t.same(
    [unknown.status, unknown.body],
    [403, errorBody(403, ErrorMessages.invalidToken)],
    "an unknown token: 403",
  );
  await hub.clock.advance(TOUCH_INTERVAL_MS + 1000); // past the interval in which lastSeenAt is not written again
  const management = await call(hub.publicUrl + MANAGEMENT, { dispatcher: enrolled.agent });
  t.equal(management.status, 200, "management info needs no write");

  await breakable.writable();
  t.equal((await call(`${hub.publicUrl}/readyz`, { dispatcher: hub.agent })).status, 200, "ready again");
  t.equal((await call(url, { dispatcher: hub.agent })).status, 200, "the token refused with 503 works now");
}

for (const [name, breakable] of [
  ["SQLite", sqliteBreakable],
  ["PostgreSQL", postgresBreakable],
] as const) {
  t.test(`a failed write leaves the token usable (${name})`, async (t) => {
    await retryAfterFailure(t, await breakable(t));
  });
  t.test(`a store that cannot write: /readyz fails, 503 where a write is needed (${name})`, async (t) => {
    await cannotWrite(t, await breakable(t));
  });
}

t.test("SIGKILL in the middle of a burst: every used token has its certificate", async (t) => {
  const dataDir = tempDir(t);
  const env = {
    TETHER_HUB_LISTEN: `127.0.0.1:${await freePort()}`,
    TETHER_HUB_INTERNAL_LISTEN: `127.0.0.1:${await freePort()}`,
    TETHER_HUB_DATA_DIR: dataDir,
  };
  let hub = await spawnHub(t, [], { env });
  const agent = new Agent({ connect: { ca: readFileSync(join(dataDir, "ca.crt"), "utf8") } });
  t.teardown(() => agent.close());
  const admin = { authorization: `Bearer ${readFileSync(join(dataDir, "admin-token"), "utf8").trim()}` };

  const burst = 15;
  const requests: { runtime: string; csrUrl: string; body: { csr: string } }[] = [];
  for (let i = 0; i < burst; i++) {
    const runtime = `burst-${i}`;
    const created = await call<TokenResponse>(`${hub.internalUrl}/v1/runtimes/tokens`, {
      headers: { ...admin, tenant: "acme", group: "prod" },
      json: { runtime },
    });
    const info = await call<CsrInfo>(created.body.url, { dispatcher: agent });
    const key = await generateKeyPair("ecdsa-p256");
    requests.push({
      runtime,
      csrUrl: info.body.csrUrl,
      body: await csrBody(key, parseSubject(info.body.certificate.subject)),
    });
  }
  // Killed as soon as the first answer arrives: the others are somewhere between arriving and answering.
  let killed = false;
  const answers = await Promise.allSettled(
    requests.map(({ csrUrl, body }) =>
      call(csrUrl, { dispatcher: agent, json: body }).finally(() => {
        if (!killed) hub.child.kill("SIGKILL");
        killed = true;
      }),
    ),
  );
  await new Promise((resolve) =>
    (hub.child.exitCode ?? hub.child.signalCode) ? resolve(undefined) : hub.child.once("exit", resolve),
  );
  t.ok(
    answers.some((a) => a.status === "rejected"),
    "some requests were cut off",
  );

  const store = await openStore({ dataDir });
  const unused: typeof requests = [];
  for (const request of requests) {
    const token = new URL(request.csrUrl).searchParams.get("token")!;
    const state = await store.peekToken(hashToken(token), "csr", new Date());
    const certificates = await store.listCertificates(request.runtime);
    if (state.ok) {
      t.equal(certificates.length, 0, `${request.runtime}: unused token, no certificate`);
      unused.push(request);
    } else {
      t.same(
        [state.reason, certificates.length],
        ["used", 1],
        `${request.runtime}: used token, one certificate`,
      );
    }
  }
  await store.close();

  hub = await spawnHub(t, [], { env });
  t.teardown(() => hub.stop());
  for (const { runtime, csrUrl, body } of unused) {
    const retried = await call(csrUrl, { dispatcher: agent, json: body });
    t.equal(retried.status, 201, `${runtime}: the unused token works after the restart`);
  }
});
