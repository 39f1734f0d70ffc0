/**
 * `--workers 2` (docs/hub.md#worker-processes): two hub processes behind one pair of listeners and
 * one SQLite file. A one-time token is still won once whichever process takes each connection, a
 * client's new connections resume its TLS session, /metrics adds up both
 * processes whichever of them answers, and SIGTERM stops them all.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connect, type ConnectionOptions, type TLSSocket } from "node:tls";
import t from "tap";
import { Agent } from "undici";
import type { CertificatesResponse, CsrInfo, TokenResponse } from "@tether/shared/contract";
import { decodeBase64Pem, exportPrivateKeyPem, generateKeyPair, parseSubject } from "@tether/shared/pki";
import { call, csrBody, tempDir } from "./helpers/hub.ts";
import { spawnHub } from "./helpers/process.ts";

/** One TLS connection: a GET of `path`, then the session it ends with and whether it resumed one. */
async function tlsGet(
  options: ConnectionOptions,
  path: string,
): Promise<{ reused: boolean; session: Buffer | undefined; head: string }> {
  const socket: TLSSocket = connect(options);
  let session: Buffer | undefined;
  socket.on("session", (ticket: Buffer) => (session = ticket));
  await new Promise<void>((resolve, reject) => {
    socket.once("secureConnect", resolve);
    socket.once("error", reject);
  });
  const reused = socket.isSessionReused();
  socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  let text = "";
  for await (const chunk of socket) text += (chunk as Buffer).toString();
  return { reused, session, head: text.split("\r\n")[0] ?? "" };
}

t.test(
  "two worker processes share the listeners, the store, the TLS ticket key and the metrics",
  async (t) => {
    const dir = tempDir(t);
    const hub = await spawnHub(
      t,
      [
        ...["--workers", "2", "--data-dir", dir],
        ...["--listen", "127.0.0.1:0", "--internal-listen", "127.0.0.1:0"],
      ],
      // Three processes load the hub: slow on a busy machine.
      { startTimeoutMs: 120_000 },
    );
    const workers = () =>
      execFileSync("pgrep", ["-P", String(hub.child.pid)], { encoding: "utf8" })
        .trim()
        .split("\n");
    t.equal(workers().length, 2, "the primary runs two hub processes");

    const caPem = readFileSync(join(dir, "ca.crt"), "utf8");
    const admin = { authorization: `Bearer ${readFileSync(join(dir, "admin-token"), "utf8").trim()}` };
    // A connection per request: the primary hands them to both processes in turn.
    const agent = new Agent({ connect: { ca: caPem } });
    t.teardown(() => agent.close());
    const fresh = { dispatcher: agent, headers: { connection: "close" } };

    const token = await call<TokenResponse>(`${hub.internalUrl}/v1/runtimes/tokens`, {
      headers: { ...admin, tenant: "acme", group: "prod" },
      json: { runtime: "rt-1" },
    });
    const answers = await Promise.all(Array.from({ length: 20 }, () => call<CsrInfo>(token.body.url, fresh)));
    t.same(
      answers.map((a) => a.status).sort(),
      [200, ...Array<number>(19).fill(403)],
      "20 requests with one info token on two processes: one succeeds",
    );
    const info = answers.find((a) => a.status === 200)!.body;
    const key = await generateKeyPair("ecdsa-p256");
    const issued = await call<CertificatesResponse>(info.csrUrl, {
      ...fresh,
      json: await csrBody(key, parseSubject(info.certificate.subject)),
    });
    t.equal(issued.status, 201, "a certificate");

    const port = Number(new URL(hub.publicUrl).port);
    const client: ConnectionOptions = {
      host: "127.0.0.1",
      port,
      servername: "localhost",
      ca: caPem,
      cert: decodeBase64Pem(issued.body.crt),
      key: await exportPrivateKeyPem(key),
    };
    const first = await tlsGet(client, "/v1/runtimes/management/info");
    t.match(first.head, /^HTTP\/1.1 200/, "mTLS with the certificate");
    t.ok(first.session, "the hub hands out a session ticket");
    const again = await Promise.all(
      Array.from({ length: 6 }, () =>
        tlsGet({ ...client, session: first.session }, "/v1/runtimes/management/info"),
      ),
    );
    t.same(
      again.map((a) => [a.reused, a.head.startsWith("HTTP/1.1 200")]),
      Array<[boolean, boolean]>(6).fill([true, true]),
      // Not proven here: that the shared ticket key is why. A trial with a key per worker resumed too,
      // which is not yet explained (the closing note of [speed] says so).
      "six new connections resume the session and are served",
    );

    // Whichever process answers, the counts are those of both.
    for (let scrape = 0; scrape < 4; scrape++) {
      const metrics = await call(`${hub.internalUrl}/metrics`, {
        headers: { ...admin, connection: "close" },
      });
      t.match(metrics.text, /tether_hub_tokens_total\{purpose="info",result="refused"\} 19\n/);
      t.match(metrics.text, /tether_hub_certificates_issued_total\{kind="initial"\} 1\n/);
    }

    const pids = workers();
    t.equal(await hub.stop(), 0, "SIGTERM: the primary exits cleanly");
    for (const pid of pids) t.throws(() => process.kill(Number(pid), 0), "and so does each worker");
  },
);
