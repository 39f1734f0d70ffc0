/**
 * What keeps callers out of the runtime API: client certificates refused on every mTLS route, one
 * token carried by 50 concurrent requests, bootstrap tokens, deleted runtimes, body and rate limits,
 * and tokens kept out of the logs. Real TLS sockets, undici.
 */
import { once } from "node:events";
import tls from "node:tls";
import t from "tap";
import { ErrorMessages, type CsrInfo } from "@tether/shared/contract";
import { createCsr, generateKeyPair, issueCertificate, parseCsr, parseSubject } from "@tether/shared/pki";
import type { Dispatcher } from "undici";
import { parse as parseYaml } from "yaml";
import {
  MANAGEMENT,
  RENEWALS,
  REVOCATIONS,
  errorBody as error,
  mtlsRoutes,
  adminHeaders,
  call,
  createToken,
  csrBody,
  csrInfo,
  enrol,
  mtlsAgent,
  newKeyring,
  startHub,
} from "./helpers/hub.ts";

t.test("client certificates refused on every mTLS route", async (t) => {
  const hub = await startHub(t);
  const enrolled = await enrol(t, hub);
  const body = await csrBody(enrolled.key, enrolled.subject);
  const expectAll = async (dispatcher: Dispatcher, message: string, what: string) => {
    for (const [route, answer] of Object.entries(await mtlsRoutes(hub, dispatcher, body))) {
      t.same([answer.status, answer.body], [403, error(403, message)], `${what}: ${route}`);
    }
  };
  await expectAll(hub.agent, ErrorMessages.clientCertificateRequired, "no certificate");

  const other = await newKeyring("another CA");
  const foreign = await issueCertificate({
    csr: await parseCsr(await createCsr(enrolled.key, enrolled.subject)),
    ca: other.active,
    validityMs: 86_400_000,
    clock: hub.clock,
  });
  await expectAll(
    mtlsAgent(t, hub, foreign.pem, enrolled.keyPem),
    ErrorMessages.untrustedCertificate,
    "another CA",
  );

  const unknown = await issueCertificate({
    csr: await parseCsr(await createCsr(enrolled.key, enrolled.subject)),
    ca: hub.keyring.active,
    validityMs: 86_400_000,
    clock: hub.clock,
  });
  await expectAll(
    mtlsAgent(t, hub, unknown.pem, enrolled.keyPem),
    ErrorMessages.unknownCertificate,
    "never recorded",
  );

  hub.clock.set(hub.clock.now().getTime() + 31 * 86_400_000);
  await expectAll(enrolled.agent, ErrorMessages.expiredCertificate, "expired (fake clock)");
});

t.test("50 concurrent requests carrying one token: exactly one succeeds", async (t) => {
  const hub = await startHub(t);
  const statuses = async (requests: Promise<{ status: number; body: unknown }>[]) => {
    const answers = await Promise.all(requests);
    const ok = answers.filter((a) => a.status < 300).length;
    const refused = answers.filter(
      (a) => a.status === 403 && (a.body as { error: string }).error === ErrorMessages.invalidToken,
    );
    return { ok, refused: refused.length };
  };
  const { url } = await createToken(hub);
  t.same(
    await statuses(Array.from({ length: 50 }, () => call(url, { dispatcher: hub.agent }))),
    { ok: 1, refused: 49 },
    "info",
  );

  const info = await csrInfo(hub, (await createToken(hub)).url);
  const body = await csrBody(await generateKeyPair("ecdsa-p256"), parseSubject(info.certificate.subject));
  const result = await statuses(
    Array.from({ length: 50 }, () => call(info.csrUrl, { dispatcher: hub.agent, json: body })),
  );
  t.same(result, { ok: 1, refused: 49 }, "certificates");
  const runtimeId = parseSubject(info.certificate.subject).CN;
  t.equal((await hub.store.listCertificates(runtimeId)).length, 1, "one certificate recorded");
});

t.test("bootstrap tokens: reusable until expiry, audited each use, refused elsewhere", async (t) => {
  const hub = await startHub(t);
  const created = await call(`${hub.internalUrl}/v1/runtimes/cluster-7/bootstrap-kubeconfig`, {
    headers: adminHeaders(hub, { tenant: "acme", group: "edge" }),
    json: { ttl: "1h" },
  });
  t.equal(created.status, 200);
  t.match(created.headers["content-type"], /yaml/);
  const kubeconfig = parseYaml(created.text) as {
    clusters: { cluster: { server: string; "certificate-authority-data": string } }[];
    users: { user: { token: string } }[];
  };
  t.equal(kubeconfig.clusters[0]?.cluster.server, hub.publicUrl);
  t.equal(
    Buffer.from(kubeconfig.clusters[0]!.cluster["certificate-authority-data"], "base64").toString(),
    hub.caPem,
  );
  const bootstrap = kubeconfig.users[0]!.user.token;
  const infoPath = `${hub.publicUrl}/v1/runtimes/signingRequests/info`;
  for (let i = 0; i < 2; i++) {
    const answer = await call<CsrInfo>(infoPath, {
      dispatcher: hub.agent,
      headers: { authorization: `Bearer ${bootstrap}` },
    });
    t.equal(answer.status, 200, `bootstrap use ${i + 1}`);
    t.match(answer.body.certificate.subject, /^O=acme,OU=edge,.*CN=cluster-7$/);
  }
  const uses = await hub.store.listAudit({ runtimeId: "cluster-7", type: "token.used" });
  t.equal(uses.filter((e) => e.detail.purpose === "bootstrap").length, 2, "each use audited");
  t.same(
    (await call(`${infoPath}?token=${bootstrap}`, { dispatcher: hub.agent })).body,
    error(403, ErrorMessages.invalidToken),
  );
  hub.clock.set(hub.clock.now().getTime() + 3_600_000 + 61_000);
  const late = await call(infoPath, {
    dispatcher: hub.agent,
    headers: { authorization: `Bearer ${bootstrap}` },
  });
  t.same(late.body, error(403, ErrorMessages.invalidToken), "expired");
});

t.test("a deleted runtime can no longer enrol", async (t) => {
  const hub = await startHub(t);
  const { url } = await createToken(hub, { runtime: "doomed" });
  t.equal(
    (await call(`${hub.internalUrl}/v1/runtimes/doomed`, { method: "DELETE", headers: adminHeaders(hub) }))
      .status,
    204,
  );
  t.same((await call(url, { dispatcher: hub.agent })).body, error(403, ErrorMessages.invalidToken));
});

t.test("body limit, rate limit, 404 and the OpenAPI document", async (t) => {
  const hub = await startHub(t, { flags: ["--rate-limit", "3", "--body-limit", "1KiB"] });
  const big = await call(`${hub.publicUrl}/v1/runtimes/certificates?token=x`, {
    dispatcher: hub.agent,
    json: { csr: "A".repeat(2048) },
  });
  t.same([big.status, big.body], [413, error(413, ErrorMessages.bodyTooLarge)]);
  const infoPath = `${hub.publicUrl}/v1/runtimes/signingRequests/info?token=x`;
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push(await call(infoPath, { dispatcher: hub.agent }));
  t.same(
    answers.map((a) => a.status),
    [403, 403, 403, 429],
  );
  t.same(answers[3]?.body, error(429, ErrorMessages.rateLimited));
  t.same(
    (await call(`${hub.publicUrl}/v1/nothing?token=secret`, { dispatcher: hub.agent })).body,
    error(404, "Route GET /v1/nothing not found."),
  );

  const root = await call(`${hub.publicUrl}/v1`, { dispatcher: hub.agent });
  t.equal(root.status, 301);
  t.equal(root.headers.location, "/v1/api.yaml");
  const document = await call(`${hub.publicUrl}/v1/api.yaml`, { dispatcher: hub.agent });
  t.equal(document.status, 200);
  const openapi = parseYaml(document.text) as {
    openapi: string;
    paths: Record<string, Record<string, unknown>>;
  };
  t.equal(openapi.openapi, "3.0.3");
  for (const path of [
    "/v1/runtimes/signingRequests/info",
    "/v1/runtimes/certificates",
    MANAGEMENT,
    RENEWALS,
    REVOCATIONS,
  ]) {
    t.ok(openapi.paths[path], `documented: ${path}`);
  }
  t.ok(openapi.paths["/v1/runtimes/certificates"]?.post, "with methods");
});

t.test("tokens never reach a log line", async (t) => {
  // At debug every request is logged with its URL (docs/hub.md#logs).
  const hub = await startHub(t, { flags: ["--log-level", "debug"] });
  const seen: string[] = [];
  const { url, token } = await createToken(hub);
  seen.push(token);
  const info = await csrInfo(hub, url);
  seen.push(new URL(info.csrUrl).searchParams.get("token")!);
  await call(url, { dispatcher: hub.agent });
  await call(info.csrUrl, { dispatcher: hub.agent, json: { csr: "!" } });
  await call(`${hub.publicUrl}/v1/runtimes/signingRequests/info`, {
    dispatcher: hub.agent,
    headers: { authorization: `Bearer ${token}` },
  });
  const logs = hub.logs.join("");
  t.ok(logs.includes("token=[redacted]"), "URLs are logged with the token replaced");
  for (const secret of [...seen, hub.adminToken]) t.notOk(logs.includes(secret), "no token in the logs");
});

t.test("at info the hub logs no line per request, and still every audit event", async (t) => {
  const hub = await startHub(t);
  const { url } = await createToken(hub);
  await csrInfo(hub, url);
  for (let i = 0; i < 5; i++)
    await call(`${hub.publicUrl}/v1/runtimes/signingRequests/info`, { dispatcher: hub.agent });
  const lines = hub.logs
    .join("")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  t.notOk(
    lines.some((line) => line.msg === "request completed" || line.msg === "incoming request"),
    "no request lines",
  );
  t.ok(
    ["token.issued", "token.used"].every((event) =>
      lines.some((line) => line.audit === true && line.event === event),
    ),
    "the audit events are logged",
  );
});

t.test("a connection's client certificate is fixed: TLS 1.2 renegotiation is refused", async (t) => {
  const hub = await startHub(t);
  const enrolled = await enrol(t, hub);
  const { port, hostname } = new URL(hub.publicUrl);
  const socket = tls.connect({
    host: hostname,
    port: Number(port),
    ca: hub.caPem,
    cert: enrolled.certPem,
    key: enrolled.keyPem,
    maxVersion: "TLSv1.2",
    servername: "localhost",
    checkServerIdentity: () => undefined,
  });
  t.teardown(() => socket.destroy());
  await once(socket, "secureConnect");
  t.equal(socket.getProtocol(), "TLSv1.2");
  const get = async () => {
    socket.write(`GET ${MANAGEMENT} HTTP/1.1\r\nHost: hub\r\n\r\n`);
    const [chunk] = (await once(socket, "data")) as [Buffer];
    return chunk.toString("latin1").split("\r\n", 1)[0];
  };
  t.equal(await get(), "HTTP/1.1 200 OK", "the enrolled certificate is accepted");
  // The server would have to ask for a certificate again; with renegotiation off it ends the connection.
  const renegotiated = await new Promise<string>((resolve) => {
    socket.once("error", (error) => resolve(`error: ${error.message}`));
    socket.once("close", () => resolve("closed"));
    socket.renegotiate({ rejectUnauthorized: false }, (error) =>
      resolve(error ? `error: ${error.message}` : "renegotiated"),
    );
  });
  t.not(renegotiated, "renegotiated", `renegotiation fails (${renegotiated})`);
});
