/**
 * The internal/admin API (docs/api.md#admin-api) over a real socket, health on both listeners, metrics, and the
 * pieces `serve` starts from: configuration, the CA keyring and the admin token in the data dir.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import {
  ErrorMessages,
  type RuntimeList,
  type RuntimeView,
  type TokenResponse,
} from "@tether/shared/contract";
import { certificateInfo, sha256Fingerprint, splitPemBundle } from "@tether/shared/pki";
import { FakeClock } from "@tether/shared/time";
import { loadKeyring } from "../src/ca/keyring.ts";
import { parseConfig, parseByteSize } from "../src/config.ts";
import { openSqliteStore } from "../src/store/sqlite.ts";
import { ensureAdminToken, readAdminToken } from "../src/tokens/admin-token.ts";
import { hashToken } from "../src/tokens/tokens.ts";
import {
  adminHeaders,
  call,
  createToken,
  enrol,
  errorBody as error,
  startHub,
  tempDir,
} from "./helpers/hub.ts";

t.test("admin authentication", async (t) => {
  const hub = await startHub(t);
  const tokens = `${hub.internalUrl}/v1/runtimes/tokens`;
  const subject = { tenant: "acme", group: "prod" };
  t.same(
    (await call(tokens, { headers: subject, json: {} })).body,
    error(401, ErrorMessages.adminTokenRequired),
  );
  t.same(
    (await call(tokens, { headers: { ...subject, authorization: "Bearer wrong" }, json: {} })).body,
    error(403, ErrorMessages.invalidToken),
  );
  const { token } = await createToken(hub);
  t.same(
    (await call(tokens, { headers: { ...subject, authorization: `Bearer ${token}` }, json: {} })).body,
    error(403, ErrorMessages.invalidToken),
    "a runtime token is no admin token",
  );
  t.equal((await call(`${hub.internalUrl}/metrics`)).status, 401, "metrics need the token too");
  t.equal((await call(`${hub.internalUrl}/healthz`)).status, 200, "health does not");

  const open = await startHub(t, { flags: ["--internal-auth", "none"] });
  t.equal(
    (await call(`${open.internalUrl}/v1/runtimes/tokens`, { method: "POST", headers: subject })).status,
    201,
    "auth none",
  );
  t.ok(
    open.logs.some((line) => line.includes("--internal-auth=none")),
    "logged as a warning",
  );
});

t.test("token creation", async (t) => {
  const hub = await startHub(t);
  const tokens = `${hub.internalUrl}/v1/runtimes/tokens`;
  const post = (headers: Record<string, string>, json?: unknown) =>
    call<TokenResponse>(tokens, { method: "POST", headers: adminHeaders(hub, headers), json });

  t.match((await post({ group: "g" })).body, { code: 400, error: /tenant/ }, "Tenant missing");
  t.match((await post({ tenant: "t" })).body, { code: 400, error: /group/ }, "Group missing");
  t.match((await post({ tenant: "a,b", group: "g" })).body, { code: 400 }, "no ',' in a tenant");
  t.match(
    (await post({ tenant: "t", group: "g" }, { ttl: "25h" })).body,
    { code: 400, error: /ttl/ },
    "ttl > 24h",
  );
  t.match(
    (await post({ tenant: "t", group: "g" }, { runtime: "Not_A_Label" })).body,
    { code: 400 },
    "bad id",
  );
  t.match((await post({ tenant: "t", group: "g" }, { extra: 1 })).body, { code: 400 }, "unknown field");

  const plain = await post({ tenant: "t", group: "g" });
  t.equal(plain.status, 201, "no body at all");
  t.match(
    plain.body.url,
    /^https:\/\/localhost:\d+\/v1\/runtimes\/signingRequests\/info\?token=[A-Za-z0-9_-]{43}$/,
  );
  t.ok(plain.body.url.endsWith(plain.body.token));
  const record = await hub.store.peekToken(hashToken(plain.body.token), "info", hub.clock.now());
  t.ok(record.ok, "stored under its hash");
  if (record.ok)
    t.equal(record.token.expiresAt.getTime() - record.token.createdAt.getTime(), 600_000, "10m default");

  const named = await post(
    { tenant: "acme", group: "prod" },
    { runtime: "cluster-1", labels: { env: "dev" }, ttl: "1h" },
  );
  t.equal(named.status, 201);
  const runtime = await hub.store.getRuntime("cluster-1");
  t.match(runtime, { tenant: "acme", group: "prod", labels: { env: "dev" } });
  t.equal((await post({ tenant: "acme", group: "prod" }, { runtime: "cluster-1" })).status, 201, "re-enrol");
  t.match(
    (await post({ tenant: "other", group: "prod" }, { runtime: "cluster-1" })).body,
    { code: 400, error: /belongs to tenant "acme"/ },
    "a runtime's subject cannot change",
  );
  await hub.store.deleteRuntime("cluster-1", hub.clock.now());
  t.same(
    (await post({ tenant: "acme", group: "prod" }, { runtime: "cluster-1" })).body,
    error(404, ErrorMessages.runtimeNotFound),
  );
});

t.test("re-enrolment with labels replaces the runtime's labels when its token is used", async (t) => {
  const hub = await startHub(t);
  const tokens = `${hub.internalUrl}/v1/runtimes/tokens`;
  const token = async (json: unknown) => {
    const answer = await call<TokenResponse>(tokens, {
      headers: adminHeaders(hub, { tenant: "acme", group: "prod" }),
      json,
    });
    t.equal(answer.status, 201);
    return answer.body.url;
  };
  const use = (url: string) => call(url, { dispatcher: hub.agent });
  const labels = async () => (await hub.store.getRuntime("edge-7"))?.labels;
  const replaced = async () =>
    (await hub.store.listAudit({ runtimeId: "edge-7", type: "runtime.labels.replaced" })).map(
      (e) => e.detail,
    );

  await use(await token({ runtime: "edge-7", labels: { env: "dev", zone: "a" } }));
  t.same(await labels(), { env: "dev", zone: "a" }, "a new runtime gets its labels at once");
  t.same(await replaced(), [], "and nothing is replaced when its token is used");

  const relabel = await token({ runtime: "edge-7", labels: { env: "prod" } });
  t.same(await labels(), { env: "dev", zone: "a" }, "an unused token changes nothing");
  t.equal((await use(relabel)).status, 200);
  t.same(await labels(), { env: "prod" }, "replaced, not merged, when the token is used");
  t.same(await replaced(), [{ from: { env: "dev", zone: "a" }, to: { env: "prod" } }], "audited");
  t.equal((await use(relabel)).status, 403, "a replayed token changes nothing");

  await use(await token({ runtime: "edge-7" }));
  t.same(await labels(), { env: "prod" }, "a token without labels leaves them");
  await use(await token({ runtime: "edge-7", labels: { env: "prod" } }));
  t.equal((await replaced()).length, 1, "the same labels again: nothing replaced, nothing audited");
  await use(await token({ runtime: "edge-7", labels: {} }));
  t.same(await labels(), {}, "empty labels clear them");

  const refused = await token({ runtime: "edge-7", labels: { env: "staging" } });
  await hub.store.deleteRuntime("edge-7", hub.clock.now());
  t.equal((await use(refused)).status, 403, "a deleted runtime cannot enrol");
  t.same(await labels(), {}, "nor be relabelled");
});

t.test("runtime registry, revocation by hash, delete", async (t) => {
  const hub = await startHub(t);
  const a = await enrol(t, hub, { runtime: "alpha" });
  const b = await enrol(t, hub, { runtime: "beta", tenant: "other", group: "edge" });
  const management = `${hub.publicUrl}/v1/runtimes/management/info`;
  await call(management, { dispatcher: a.agent });

  const list = await call<RuntimeList>(`${hub.internalUrl}/v1/runtimes`, { headers: adminHeaders(hub) });
  t.equal(list.status, 200);
  t.same(
    list.body.runtimes.map((r) => r.id),
    ["alpha", "beta"],
  );
  const alpha = list.body.runtimes[0]!;
  const leaf = certificateInfo(a.certPem);
  t.match(alpha, {
    tenant: "acme",
    group: "prod",
    lastSeenAt: hub.clock.now().toISOString(),
    currentCertificate: { serial: leaf.serial, sha256: leaf.sha256, notAfter: leaf.notAfter.toISOString() },
    certificates: [{ kind: "initial", issuerSha256: hub.keyring.active.sha256 }],
    revokedCertificates: [],
  });
  t.equal(list.body.runtimes[1]?.lastSeenAt, null, "beta never called in");

  const revoke = (hash: string) =>
    call(`${hub.internalUrl}/v1/runtimes/certificates/revocations`, {
      headers: adminHeaders(hub),
      json: { hash },
    });
  const revoked = await revoke(leaf.sha256.toUpperCase());
  t.same([revoked.status, revoked.body], [201, { revoked: 1 }], "hash matched case-insensitively");
  t.same(
    (await call(management, { dispatcher: a.agent })).body,
    error(403, ErrorMessages.certificateRevoked),
  );
  t.equal((await revoke(leaf.sha256)).status, 201, "again: idempotent");
  t.equal((await revoke("ab".repeat(32))).status, 201, "a hash never issued (Kyma semantics)");
  t.match((await revoke("xyz")).body, { code: 400 }, "not a hash");
  const one = await call<RuntimeView>(`${hub.internalUrl}/v1/runtimes/alpha`, { headers: adminHeaders(hub) });
  t.match(one.body, {
    currentCertificate: null,
    revokedCertificates: [{ sha256: leaf.sha256, reason: "admin" }],
  });
  t.equal((await call(`${hub.internalUrl}/v1/runtimes/nope`, { headers: adminHeaders(hub) })).status, 404);

  const del = (id: string) =>
    call(`${hub.internalUrl}/v1/runtimes/${id}`, { method: "DELETE", headers: adminHeaders(hub) });
  const deleted = await del("beta");
  t.same([deleted.status, deleted.text], [204, ""]);
  t.same(
    (await call(management, { dispatcher: b.agent })).body,
    error(403, ErrorMessages.certificateRevoked),
  );
  t.same((await del("beta")).body, error(404, ErrorMessages.runtimeNotFound), "deleted twice");
  const beta = await call<RuntimeView>(`${hub.internalUrl}/v1/runtimes/beta`, { headers: adminHeaders(hub) });
  t.match(beta.body, {
    deletedAt: hub.clock.now().toISOString(),
    revokedCertificates: [{ reason: "runtime deleted" }],
  });
  t.equal(sha256Fingerprint(splitPemBundle(b.certPem)[0]!), beta.body.revokedCertificates[0]?.sha256);
});

t.test("bootstrap kubeconfig needs a runtime, or Tenant and Group to create one", async (t) => {
  const hub = await startHub(t);
  const url = (id: string) => `${hub.internalUrl}/v1/runtimes/${id}/bootstrap-kubeconfig`;
  t.same(
    (await call(url("ghost"), { headers: adminHeaders(hub), method: "POST" })).body,
    error(404, ErrorMessages.runtimeNotFound),
  );
  const made = await call(url("ghost"), {
    headers: adminHeaders(hub, { tenant: "t", group: "g" }),
    method: "POST",
  });
  t.equal(made.status, 200);
  t.match(made.text, /kind: Config/);
  t.equal(
    (await call(url("ghost"), { headers: adminHeaders(hub), json: { ttl: "48h" } })).status,
    200,
    "existing",
  );
  t.match(
    (await call(url("x"), { headers: adminHeaders(hub, { tenant: "a=b", group: "g" }), method: "POST" }))
      .body,
    {
      code: 400,
    },
  );
});

t.test("an out-of-range ttl is a 400 before anything is created", async (t) => {
  const hub = await startHub(t);
  const headers = adminHeaders(hub, { tenant: "t", group: "g" });
  const bounds = {
    bootstrap: "ttl: must be more than 0 and at most 365d",
    token: "ttl: must be more than 0 and at most 1d",
  };
  for (const ttl of ["99999999999999999999d", "1000000d", "366d", "0ms", "0s"]) {
    const kubeconfig = await call(`${hub.internalUrl}/v1/runtimes/new-${ttl}/bootstrap-kubeconfig`, {
      headers,
      json: { ttl },
    });
    t.same([kubeconfig.status, kubeconfig.body], [400, error(400, bounds.bootstrap)], `bootstrap ttl ${ttl}`);
    const token = await call(`${hub.internalUrl}/v1/runtimes/tokens`, {
      headers,
      json: { runtime: `tok-${ttl}`, ttl },
    });
    t.same([token.status, token.body], [400, error(400, bounds.token)], `token ttl ${ttl}`);
  }
  t.same(await hub.store.listRuntimes(), [], "no runtime was created");
  t.same(await hub.store.listAudit({ type: "token.issued" }), [], "no token either");
});

t.test("metrics and health", async (t) => {
  const hub = await startHub(t);
  await enrol(t, hub);
  await call(`${hub.publicUrl}/v1/runtimes/signingRequests/info?token=bad`, { dispatcher: hub.agent });
  const metrics = await call(`${hub.internalUrl}/metrics`, { headers: adminHeaders(hub) });
  t.equal(metrics.status, 200);
  t.match(metrics.headers["content-type"], /text\/plain/);
  t.match(metrics.text, /tether_hub_certificates_issued_total\{kind="initial"\} 1/);
  t.match(metrics.text, /tether_hub_tokens_total\{purpose="info",result="used"\} 1/);
  t.match(metrics.text, /tether_hub_tokens_total\{purpose="info",result="refused"\} 1/);
  t.match(metrics.text, /# TYPE tether_hub_csr_rejections_total counter/);
  t.match(
    metrics.text,
    /tether_hub_request_duration_seconds_bucket\{.*route="\/v1\/runtimes\/certificates".*\}/,
  );
  const notAfter = Math.floor(hub.keyring.active.cert.notAfter.getTime() / 1000);
  t.match(
    metrics.text,
    new RegExp(`tether_hub_ca_not_after_timestamp_seconds\\{.*active="true"\\} ${notAfter}`),
  );

  for (const base of [hub.publicUrl, hub.internalUrl]) {
    t.same((await call(`${base}/healthz`, { dispatcher: hub.agent })).body, { status: "ok" });
    t.same((await call(`${base}/readyz`, { dispatcher: hub.agent })).body, { status: "ready" });
  }
  const document = await call(`${hub.internalUrl}/v1/api.yaml`);
  t.match(document.text, /\/v1\/runtimes\/tokens:/, "the admin API has its own document");
  await hub.store.close();
  const down = await call(`${hub.internalUrl}/readyz`);
  t.match(down.body, { code: 503, error: /Store/ });
});

t.test("configuration: flags, TETHER_HUB_* env, defaults, errors", async (t) => {
  const defaults = parseConfig([], {});
  t.same(defaults.listen, { host: "0.0.0.0", port: 8443 });
  t.same(defaults.internalListen, { host: "127.0.0.1", port: 8080 });
  t.match(defaults, {
    publicUrl: undefined,
    store: "sqlite",
    keyAlgorithm: "rsa2048",
    certValidityMs: 30 * 86_400_000,
    tokenTtlMs: 600_000,
    bootstrapTokenTtlMs: 86_400_000,
    internalAuth: "bearer",
    bodyLimit: 65536,
  });
  t.ok(defaults.dataDir.endsWith(join(".tether", "hub")));
  const env = {
    TETHER_HUB_PUBLIC_URL: "https://hub.example.com/",
    TETHER_HUB_SAN: "a.example.com, 10.0.0.1",
    TETHER_HUB_TOKEN_TTL: "5m",
  };
  const fromEnv = parseConfig(["--token-ttl", "7m"], env);
  t.equal(fromEnv.publicUrl, "https://hub.example.com");
  t.same(fromEnv.sans, ["a.example.com", "10.0.0.1"]);
  t.equal(fromEnv.tokenTtlMs, 420_000, "a flag wins over the environment");
  t.same(parseConfig(["--san", "x", "--san", "y"], {}).sans, ["x", "y"]);
  t.same(parseConfig(["--listen", "[::1]:9443"], {}).listen, { host: "::1", port: 9443 });
  t.equal(parseByteSize("1MiB"), 1048576);
  for (const bad of [
    ["--token-ttl", "25h"],
    ["--bootstrap-token-ttl", "366d"],
    ["--max-connections", "0"],
    ["--idle-timeout", "10ms"],
    ["--header-timeout", "1m", "--request-timeout", "30s"],
    ["--bootstrap-token-ttl", "99999999999999999999d"],
    ["--key-algorithm", "rsa1024"],
    ["--internal-auth", "basic"],
    ["--public-url", "http://insecure"],
    ["--ca-cert", "x"],
    ["--listen", "nope"],
    ["--body-limit", "lots"],
    ["--rate-limit", "0"],
    ["--unknown"],
  ]) {
    t.throws(() => parseConfig(bad, {}), { name: "ConfigError" }, bad.join(" "));
  }
});

t.test("the data dir: CA and admin token generated once, private, reused", async (t) => {
  const dataDir = tempDir(t);
  const clock = new FakeClock(new Date());
  const first = await loadKeyring({ caCert: undefined, caKey: undefined, dataDir, clock });
  t.ok(first.generated);
  t.equal(statSync(join(dataDir, "ca.key")).mode & 0o777, 0o600);
  const again = await loadKeyring({ caCert: undefined, caKey: undefined, dataDir, clock });
  t.notOk(again.generated);
  t.equal(again.keyring.active.sha256, first.keyring.active.sha256);
  const fromFiles = await loadKeyring({
    caCert: join(dataDir, "ca.crt"),
    caKey: join(dataDir, "ca.key"),
    dataDir: "/nonexistent",
    clock,
  });
  t.equal(fromFiles.keyring.active.sha256, first.keyring.active.sha256);
  t.equal(first.keyring.active.cert.publicKey.algorithm.name, "ECDSA", "ECDSA P-256 by default");

  const store = openSqliteStore(":memory:");
  await store.migrate();
  t.teardown(() => store.close());
  const made = await ensureAdminToken({ store, clock, dataDir, explicit: undefined });
  t.equal(statSync(made.file!).mode & 0o777, 0o600);
  const token = await readAdminToken(dataDir);
  t.match(token, /^[A-Za-z0-9_-]{43}$/);
  t.equal(readFileSync(made.file!, "utf8"), `${token}\n`);
  await ensureAdminToken({ store, clock, dataDir, explicit: undefined });
  t.equal(await readAdminToken(dataDir), token, "kept across restarts");
  t.ok((await store.peekToken(hashToken(token!), "admin", clock.now())).ok, "stored hashed");
  const explicit = await ensureAdminToken({ store, clock, dataDir, explicit: "from-a-secret" });
  t.equal(explicit.file, undefined);
  t.ok((await store.peekToken(hashToken("from-a-secret"), "admin", clock.now())).ok);
});
