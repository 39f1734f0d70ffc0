/**
 * Input a client would not send, on real sockets to both listeners: whatever the HTTP parser or the
 * router refuses still answers `{code, error}`; a token written so that it escapes a text match
 * stays out of the log; header values that cannot be a subject are refused.
 */
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { setTimeout as sleep } from "node:timers/promises";
import type { Server } from "node:net";
import t from "tap";
import { redactUrl } from "../src/logger.ts";
import { adminHeaders, call, createToken, startHub, type TestHub } from "./helpers/hub.ts";

interface RawAnswer {
  status: number;
  body: unknown;
}

/** Writes `request` as it is and reads the answer until the server closes or answers in full. */
async function raw(
  hub: TestHub,
  listener: "external" | "internal",
  request: string | Buffer,
): Promise<RawAnswer> {
  const port = Number(new URL(listener === "external" ? hub.publicUrl : hub.internalUrl).port);
  const socket: Socket =
    listener === "external"
      ? tlsConnect({ host: "127.0.0.1", port, servername: "localhost", ca: hub.caPem })
      : tcpConnect({ host: "127.0.0.1", port });
  const text = await new Promise<string>((resolve, reject) => {
    let received = "";
    socket.once(listener === "external" ? "secureConnect" : "connect", () => socket.write(request));
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString("utf8");
      const length = /content-length: (\d+)/i.exec(received)?.[1];
      const start = received.indexOf("\r\n\r\n");
      if (length !== undefined && start !== -1 && received.length >= start + 4 + Number(length)) {
        socket.destroy();
        resolve(received);
      }
    });
    socket.on("end", () => resolve(received));
    socket.on("error", reject);
  });
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  const bodyText = text.slice(text.indexOf("\r\n\r\n") + 4);
  let body: unknown = bodyText;
  try {
    body = JSON.parse(bodyText);
  } catch {
    // not JSON: compared as text
  }
  return { status, body };
}

t.test("parser, router and framework errors answer {code, error} on both listeners", async (t) => {
  const hub = await startHub(t);
  for (const listener of ["external", "internal"] as const) {
    const big = await raw(
      hub,
      listener,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`,
    );
    t.same(
      big,
      { status: 431, body: { code: 431, error: "Request header fields are too large." } },
      `${listener}: 431`,
    );
    const garbage = await raw(hub, listener, "NOT HTTP AT ALL\r\n\r\n");
    t.same(
      garbage,
      { status: 400, body: { code: 400, error: "Malformed HTTP request." } },
      `${listener}: not HTTP`,
    );
    const smuggled = await raw(
      hub,
      listener,
      "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    );
    t.same(
      smuggled,
      { status: 400, body: { code: 400, error: "Malformed HTTP request." } },
      `${listener}: CL+TE`,
    );
    const noHost = await raw(hub, listener, "GET /healthz HTTP/1.1\r\n\r\n");
    t.same(
      noHost,
      { status: 400, body: { code: 400, error: "Host header required." } },
      `${listener}: no Host`,
    );
    const badUrl = await raw(hub, listener, "GET /v1/runtimes/% HTTP/1.1\r\nHost: x\r\n\r\n");
    t.match(badUrl, { status: /^4/, body: { code: Number, error: String } }, `${listener}: bad URL`);
  }
  const trace = await call(`${hub.publicUrl}/healthz`, { dispatcher: hub.agent, method: "TRACE" });
  t.same(
    [trace.status, trace.headers.allow, trace.body],
    [405, "GET, HEAD", { code: 405, error: "Method TRACE not allowed; use GET or HEAD." }],
    "405 for a method the path does not serve",
  );
  const del = await call(`${hub.internalUrl}/v1/runtimes/x`, { method: "PATCH", headers: adminHeaders(hub) });
  t.match([del.status, del.headers.allow], [405, /DELETE/], "also for a path with a parameter");
  const auth = `Authorization: Bearer ${hub.adminToken}\r\n`;
  const badId = await raw(hub, "internal", `GET /v1/runtimes/% HTTP/1.1\r\nHost: x\r\n${auth}\r\n`);
  t.same(badId, {
    status: 400,
    body: { code: 400, error: "The URL is not valid: broken percent-encoding." },
  });
  // An over-long path parameter is refused by its schema, like any other invalid one (no 414), on
  // both listeners, up to the length the header limit lets through.
  for (const length of [200, 15_000]) {
    const longId = await raw(
      hub,
      "internal",
      `GET /v1/runtimes/${"a".repeat(length)} HTTP/1.1\r\nHost: x\r\n${auth}\r\n`,
    );
    t.same(
      longId,
      { status: 400, body: { code: 400, error: "params/id must NOT have more than 63 characters" } },
      `internal: a ${length}-character id`,
    );
    const longIssuer = await raw(
      hub,
      "external",
      `GET /v1/crl/${"a".repeat(length)}.crl HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    t.same(
      longIssuer,
      { status: 400, body: { code: 400, error: 'params/issuer must match pattern "^[0-9a-f]{64}$"' } },
      `external: a ${length}-character CRL issuer`,
    );
  }
});

t.test("a token escapes no log line, however its parameter is spelled", async (t) => {
  // At debug every request is logged with its URL.
  const hub = await startHub(t, { flags: ["--log-level", "debug"] });
  const { token } = await createToken(hub);
  const info = `${hub.publicUrl}/v1/runtimes/signingRequests/info`;
  const spelled = await call(`${info}?tok%65n=${token}`, { dispatcher: hub.agent });
  t.equal(spelled.status, 200, "the parser reads tok%65n as token");
  const { token: other } = await createToken(hub);
  await call(`${info}%3Ftoken=${other}`, { dispatcher: hub.agent });
  await call(`${hub.publicUrl}/v1/${other}/x?a=${other}`, { dispatcher: hub.agent });
  const logs = hub.logs.join("");
  for (const secret of [token, other]) t.notOk(logs.includes(secret), "the token is not in the logs");

  t.equal(redactUrl("/a?tok%65n=abc&x=1"), "/a?tok%65n=[redacted]&x=1");
  t.equal(redactUrl("/a?%74oken=abc"), "/a?%74oken=[redacted]");
  t.equal(redactUrl("/a?TOKEN=abc&token"), "/a?TOKEN=[redacted]&token=[redacted]");
  t.equal(redactUrl("/a?to%ken=abc"), "/a?to%ken=abc", "a name the parser cannot decode is kept");
  t.equal(redactUrl(`/x/${"A".repeat(43)}/y`), "/x/[redacted]/y", "a token's shape in the path");
  t.equal(redactUrl("/v1/runtimes/edge-1"), "/v1/runtimes/edge-1");
});

t.test("Tenant and Group must be printable ASCII: no mojibake in a subject", async (t) => {
  const hub = await startHub(t);
  const refusals: unknown[] = [];
  for (const value of [Buffer.from("café", "utf8"), Buffer.from([0x61, 0x85, 0x62]), Buffer.from("a\tb")]) {
    const head = (path: string) =>
      Buffer.concat([
        Buffer.from(
          `POST ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${hub.adminToken}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nGroup: prod\r\nTenant: `,
        ),
        value,
        Buffer.from("\r\n\r\n{}"),
      ]);
    refusals.push(await raw(hub, "internal", head("/v1/runtimes/tokens")));
    refusals.push(await raw(hub, "internal", head("/v1/runtimes/edge-9/bootstrap-kubeconfig")));
  }
  for (const refusal of refusals)
    t.match(refusal, { status: 400, body: { code: 400, error: /tenant|Tenant/ } });
  t.same(await hub.store.listRuntimes(), [], "no runtime was created");
  const plain = await call(`${hub.internalUrl}/v1/runtimes/tokens`, {
    headers: adminHeaders(hub, { tenant: "ACME Corp. (EU) #1", group: "prod" }),
    json: {},
  });
  t.equal(plain.status, 201, "printable ASCII with spaces and punctuation is fine");
});

t.test("slow and silent connections are bounded in number (--max-connections)", async (t) => {
  const max = 20;
  const hub = await startHub(t, { flags: ["--max-connections", String(max)] });
  for (const server of [hub.app.external.server, hub.app.internal.server]) {
    t.match(
      server,
      {
        maxConnections: max,
        headersTimeout: 10_000,
        requestTimeout: 30_000,
        keepAliveTimeout: 5_000,
        timeout: 30_000,
      },
      "the defaults of --header-timeout, --request-timeout, --keep-alive-timeout and --idle-timeout",
    );
  }
  const servers: [string, Server][] = [
    [hub.publicUrl, hub.app.external.server],
    [hub.internalUrl, hub.app.internal.server],
  ];
  for (const [url, server] of servers) {
    // Plain TCP to both: to the TLS listener it is a handshake that never starts; to the HTTP one,
    // a request whose headers never end (slowloris).
    const sockets: Socket[] = [];
    let closed = 0;
    for (let i = 0; i < 3 * max; i++) {
      const socket = tcpConnect({ host: "127.0.0.1", port: Number(new URL(url).port) });
      if (server === hub.app.internal.server) {
        socket.on("connect", () => socket.write("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "));
      }
      socket.on("error", () => undefined);
      socket.on("close", () => closed++);
      sockets.push(socket);
    }
    while (closed < 2 * max) await sleep(10);
    const open = await new Promise<number>((resolve, reject) =>
      server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
    );
    t.ok(open <= max, `${url}: ${open} connections held, at most ${max}`);
    t.equal(closed, 2 * max, "every connection over the limit was closed at once");
    for (const socket of sockets) socket.destroy();
    while (
      (await new Promise<number>((resolve) => server.getConnections((_e, count) => resolve(count)))) > 0
    ) {
      await sleep(10);
    }
    t.equal((await call(`${url}/healthz`, { dispatcher: hub.agent })).status, 200, "then clients are served");
  }
});
