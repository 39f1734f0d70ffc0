/**
 * `GET /v1/runtimes` page by page (docs/api.md#list-runtimes) over a real socket: 10k runtimes written
 * straight into the store, walked with `continue` while runtimes come and go, hostile queries refused,
 * and the CLI's client following the pages.
 */
import t from "tap";
import {
  RUNTIME_PAGE_DEFAULT,
  RUNTIME_PAGE_MAX,
  type ErrorBody,
  type RuntimeList,
} from "@tether/shared/contract";
import { AdminClient } from "../src/cli/admin-client.ts";
import type { Runtime } from "../src/store/store.ts";
import { adminHeaders, call, startHub } from "./helpers/hub.ts";

const id = (n: number) => `fleet-${String(n).padStart(6, "0")}`;
const runtime = (name: string): Runtime => ({
  id: name,
  tenant: "acme",
  group: "edge",
  labels: {},
  createdAt: new Date("2026-03-01T12:00:00Z"),
  lastSeenAt: null,
  deletedAt: null,
});

t.test("10k runtimes, page by page, with runtimes created and deleted between pages", async (t) => {
  // startHub's store is SQLite in memory: 10k rows written in a moment; the file and PostgreSQL
  // adapters page the same way (store.test.ts runs the conformance suite on each).
  const hub = await startHub(t);
  const count = 10_001;
  for (let n = 0; n < count; n++) await hub.store.createRuntime(runtime(id(n * 2)));
  const list = (query: string) =>
    call<RuntimeList | ErrorBody>(`${hub.internalUrl}/v1/runtimes${query}`, { headers: adminHeaders(hub) });

  const first = await list("");
  t.equal(first.status, 200);
  const firstPage = first.body as RuntimeList;
  t.equal(firstPage.runtimes.length, RUNTIME_PAGE_DEFAULT, "the default page size");
  t.type(firstPage.continue, "string", "more follows");
  t.match(firstPage.runtimes[0], { id: id(0), tenant: "acme", certificates: [], currentCertificate: null });

  const seen = new Map<string, number>();
  let query = `?limit=${RUNTIME_PAGE_MAX}`;
  for (let page = 0; ; page++) {
    const answer = await list(query);
    t.equal(answer.status, 200, `page ${page}`);
    const body = answer.body as RuntimeList;
    for (const r of body.runtimes) seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
    if (body.continue === undefined) break;
    t.equal(body.runtimes.length, RUNTIME_PAGE_MAX, "every page but the last is full");
    query = `?limit=${RUNTIME_PAGE_MAX}&continue=${body.continue}`;
    // Behind the cursor (never listed), ahead of it (listed), and a deletion ahead (listed, marked).
    await hub.store.createRuntime(runtime(id(page * 2000 + 1)));
    await hub.store.createRuntime(runtime(id(count * 2 + page)));
    await hub.store.deleteRuntime(id(count * 2 - 2 - page * 2), new Date());
  }
  t.same(
    [...seen].filter(([, n]) => n !== 1),
    [],
    "no runtime twice",
  );
  t.equal(
    Array.from({ length: count }, (_, n) => id(n * 2)).filter((name) => !seen.has(name)).length,
    0,
    "every runtime that was there from the start",
  );
  t.ok(seen.has(id(count * 2)), "a runtime created ahead of the cursor");
  t.notOk(seen.has(id(2001)), "not one created behind it");

  const last = (await list(`?limit=1&continue=${id(count * 2 + 100)}`)).body as RuntimeList;
  t.same(last, { runtimes: [] }, "past the end: an empty page without continue");

  const client = new AdminClient(hub.internalUrl, hub.adminToken);
  const all = await client.listRuntimes();
  t.equal(all.length, (await hub.store.listRuntimes()).length, "the CLI's client follows every page");
  t.equal(new Set(all.map((r) => r.id)).size, all.length, "each runtime once");
});

t.test("a malformed or hostile limit or continue is a 400 with {code, error}", async (t) => {
  const hub = await startHub(t);
  for (const query of [
    "limit=0",
    "limit=1001",
    "limit=-1",
    "limit=01",
    "limit=1.5",
    "limit=1e3",
    "limit=abc",
    `limit=${"9".repeat(400)}`,
    "limit=",
    "continue=",
    "continue=%00",
    "continue=not+base64",
    `continue=${"a".repeat(64)}`,
    "continue=Edge-1",
    "continue=..%2Fetc",
    "continue=edge-",
    `continue=${Buffer.from('{"v":1,"after":"x"}').toString("base64url")}`,
  ]) {
    const answer = await call<ErrorBody>(`${hub.internalUrl}/v1/runtimes?${query}`, {
      headers: adminHeaders(hub),
    });
    t.equal(answer.status, 400, query.slice(0, 40));
    t.match(answer.body, { code: 400, error: /limit|continue/ }, "the error names the parameter");
  }
  t.equal(
    (await call(`${hub.internalUrl}/v1/runtimes?limit=1000`, { headers: adminHeaders(hub) })).status,
    200,
    "the maximum is allowed",
  );
});
