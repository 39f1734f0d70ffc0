/**
 * Scoped admin tokens on the real internal listener: a `tokens:create` token creates tokens and
 * nothing else; an expired or revoked one is refused; the full admin token keeps working; the CLI
 * mints one.
 */
import t from "tap";
import { ErrorMessages, type AdminTokenResponse } from "@tether/shared/contract";
import { adminHeaders, call, enrol, errorBody, startHub, type TestHub } from "./helpers/hub.ts";
import { cli } from "./helpers/process.ts";

const mint = async (hub: TestHub, body: unknown) =>
  call<AdminTokenResponse>(`${hub.internalUrl}/v1/admin-tokens`, { headers: adminHeaders(hub), json: body });

t.test("a tokens:create token creates tokens, and is refused everything else", async (t) => {
  const hub = await startHub(t);
  await enrol(t, hub, { runtime: "edge-1" });
  const minted = await mint(hub, { scopes: ["tokens:create"], ttl: "1h" });
  t.equal(minted.status, 201);
  t.match(minted.body, {
    id: /^[0-9a-f-]{36}$/,
    scopes: ["tokens:create"],
    token: /^[\w-]+\.[\w-]+\.[\w-]+$/,
  });
  const ci = { authorization: `Bearer ${minted.body.token}` };

  const created = await call(`${hub.internalUrl}/v1/runtimes/tokens`, {
    headers: { ...ci, tenant: "acme", group: "prod" },
    json: { runtime: "edge-2" },
  });
  t.equal(created.status, 201, "creates tokens");
  const lacks = (scope: string) =>
    errorBody(403, `The admin token lacks the scope this route needs: ${scope}.`);
  const sha256 = (await hub.store.listCertificates("edge-1"))[0]!.sha256;
  const revoke = await call(`${hub.internalUrl}/v1/runtimes/certificates/revocations`, {
    headers: ci,
    json: { hash: sha256 },
  });
  t.same([revoke.status, revoke.body], [403, lacks("certificates:revoke")], "no revocation");
  const del = await call(`${hub.internalUrl}/v1/runtimes/edge-1`, { headers: ci, method: "DELETE" });
  t.same([del.status, del.body], [403, lacks("runtimes:delete")], "no runtime deletion");
  const list = await call(`${hub.internalUrl}/v1/runtimes`, { headers: ci });
  t.same(list.body, lacks("runtimes:read"));
  const escalate = await call(`${hub.internalUrl}/v1/admin-tokens`, {
    headers: ci,
    json: { scopes: ["runtimes:delete"], ttl: "1h" },
  });
  t.same(escalate.body, errorBody(403, "This route needs the full admin token."), "cannot mint more");

  const full = await call(`${hub.internalUrl}/v1/runtimes/edge-1`, {
    headers: adminHeaders(hub),
    method: "DELETE",
  });
  t.equal(full.status, 204, "the full admin token still works");
});

t.test("an expired, revoked, forged or unknown scoped token is refused", async (t) => {
  const hub = await startHub(t);
  const invalid = errorBody(403, ErrorMessages.invalidToken);
  const use = (token: string) =>
    call(`${hub.internalUrl}/v1/runtimes/tokens`, {
      headers: { authorization: `Bearer ${token}`, tenant: "acme", group: "prod" },
      json: {},
    });
  const short = (await mint(hub, { scopes: ["tokens:create"], ttl: "10m" })).body;
  const long = (await mint(hub, { scopes: ["tokens:create", "runtimes:read"], ttl: "24h" })).body;
  t.equal((await use(short.token)).status, 201);
  await hub.clock.advance(11 * 60_000 + 60_000);
  t.same((await use(short.token)).body, invalid, "expired");
  t.equal((await use(long.token)).status, 201);

  const revoked = await call(`${hub.internalUrl}/v1/admin-tokens/${long.id}`, {
    headers: adminHeaders(hub),
    method: "DELETE",
  });
  t.equal(revoked.status, 204, "revoked by id");
  t.same((await use(long.token)).body, invalid, "revoked");
  const again = await call(`${hub.internalUrl}/v1/admin-tokens/${long.id}`, {
    headers: adminHeaders(hub),
    method: "DELETE",
  });
  t.equal(again.status, 404, "once");

  const [header, payload] = long.token.split(".");
  const forged = JSON.parse(Buffer.from(payload!, "base64url").toString()) as Record<string, unknown>;
  forged.scope = ["runtimes:delete"];
  t.same(
    (await use(`${header}.${Buffer.from(JSON.stringify(forged)).toString("base64url")}.x`)).body,
    invalid,
    "forged",
  );
  t.same((await use("a.b.c")).body, invalid, "not a JWT");
  t.same((await use(long.id)).body, invalid, "the id is not a full admin token");
  t.match(
    (await mint(hub, { scopes: ["everything"], ttl: "1h" })).body,
    { code: 400 },
    "unknown scopes are refused",
  );
  t.match(
    (await mint(hub, { scopes: ["tokens:create"], ttl: "400d" })).body,
    { code: 400 },
    "so is a long ttl",
  );
});

t.test("tether-hub admin-token create / revoke", async (t) => {
  const hub = await startHub(t);
  const env = { TETHER_HUB_INTERNAL_URL: hub.internalUrl, TETHER_HUB_ADMIN_TOKEN: hub.adminToken };
  const out = await cli(
    ["admin-token", "create", "--scope", "tokens:create,runtimes:read", "--ttl", "24h"],
    env,
  );
  const [token, id] = [/token:\s+(\S+)/.exec(out)?.[1], /id:\s+(\S+)/.exec(out)?.[1]];
  t.ok(token && id, out);
  const list = await call(`${hub.internalUrl}/v1/runtimes`, {
    headers: { authorization: `Bearer ${token}` },
  });
  t.equal(list.status, 200, "runtimes:read granted");
  await cli(["admin-token", "revoke", "--id", id!], env);
  const after = await call(`${hub.internalUrl}/v1/runtimes`, {
    headers: { authorization: `Bearer ${token}` },
  });
  t.equal(after.status, 403, "revoked from the CLI");
});
