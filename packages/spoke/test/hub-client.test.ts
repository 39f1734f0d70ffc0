/**
 * The hub client (Node https) against the real hub (in-process, real TLS sockets) for the wire contract, and
 * against a scripted HTTPS server for what a real hub rarely does: hang, answer garbage, fail with 503.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { type ServerResponse, createServer as createHttpServer } from "node:http";
import { createServer } from "node:https";
import { type AddressInfo, connect } from "node:net";
import type { TLSSocket } from "node:tls";
import { tmpdir } from "node:os";
import { once } from "node:events";
import { join } from "node:path";
import t, { type Test } from "tap";
import { ErrorMessages } from "@tether/shared/contract";
import { parseKubeconfig } from "@tether/shared/kubeconfig";
import {
  certificateInfo,
  createCsr,
  createSelfSignedCa,
  exportPrivateKeyPem,
  generateKeyPair,
  issueCertificate,
  loadCa,
  parseCsr,
  parseSubject,
} from "@tether/shared/pki";
import { systemClock } from "@tether/shared/time";
import { serve } from "@tether/hub/main";
import { parseConfig } from "@tether/hub/config";
import { createLogger } from "@tether/hub/logger";
import { HubError } from "../src/hub-client/errors.ts";
import { trustBundleUrl } from "../src/hub-client/client.ts";
import { createHttpHubClient } from "../src/hub-client/http.ts";

const client = createHttpHubClient({ timeoutMs: 5_000 });
const unexpected = (): never => {
  throw new Error("the call was expected to fail");
};

t.test("the whole runtime API against the real hub", async (t) => {
  const { hub, caPem, adminToken, tokenUrl } = await startHub(t);
  const url = await tokenUrl();
  const info = await client.getCsrInfo(url, { caPem });
  t.match(info.csrUrl, /\/v1\/runtimes\/certificates\?token=/);
  t.equal(info.certificate["key-algorithm"], "ecdsa-p256");
  const key = await generateKeyPair(info.certificate["key-algorithm"]);
  const issued = await client.issueCertificate(
    info.csrUrl,
    await createCsr(key, parseSubject(info.certificate.subject)),
    { caPem },
  );
  t.equal(issued.caPem.trim(), caPem.trim(), "caCrt decoded");
  t.ok(issued.chainPem.startsWith(issued.clientCertPem), "crt = client certificate + CA");
  const tls = { certPem: issued.chainPem, keyPem: await exportPrivateKeyPem(key), caPem };

  const management = await client.getManagementInfo(info.api.infoUrl, tls);
  t.equal(management.clientIdentity.tenant, "acme");
  t.equal(management.certificate.subject, info.certificate.subject);

  const next = await generateKeyPair("ecdsa-p256");
  const renewed = await client.renewCertificate(
    management.urls.renewCertUrl,
    await createCsr(next, parseSubject(management.certificate.subject)),
    tls,
  );
  t.not(certificateInfo(renewed.clientCertPem).serial, certificateInfo(issued.clientCertPem).serial);

  const used = await client.getCsrInfo(url, { caPem }).catch((error: unknown) => error);
  t.ok(used instanceof HubError);
  t.match(used, { kind: "http", status: 403, hubMessage: ErrorMessages.invalidToken, transient: false });
  t.notMatch((used as Error).message, /token=/, "the token stays out of the message");

  const untrusted = await client.getCsrInfo(await tokenUrl(), {}).catch((error: unknown) => error);
  t.match(untrusted, { kind: "tls", transient: false });
  t.match((untrusted as Error).message, /not trusted.*spec\.caBundle.*--hub-ca-file/);

  const proxy = await connectProxy();
  t.teardown(() => proxy.close());
  const proxied = await client.getManagementInfo(info.api.infoUrl, { ...tls, proxyUrl: proxy.url });
  t.equal(proxied.clientIdentity.runtimeId, management.clientIdentity.runtimeId, "mTLS through the proxy");
  const bootstrap = await fetch(
    `${hub.internalUrl}/v1/runtimes/${management.clientIdentity.runtimeId}/bootstrap-kubeconfig`,
    { method: "POST", headers: { authorization: `Bearer ${adminToken}` } },
  );
  const bearerToken = parseKubeconfig(await bootstrap.text()).token!;
  const viaBearer = await client.getCsrInfo(
    `${new URL(info.api.infoUrl).origin}/v1/runtimes/signingRequests/info`,
    {
      caPem,
      bearerToken,
      proxyUrl: proxy.url,
    },
  );
  t.equal(
    viaBearer.certificate.subject,
    info.certificate.subject,
    "the bootstrap token as Bearer, through the proxy",
  );
  t.equal(proxy.tunnels.length, 2, "both calls tunnelled");
  t.match(
    proxy.tunnels[0],
    new RegExp(`^localhost:${new URL(info.api.infoUrl).port}$`),
    "CONNECT to the hub",
  );

  await client.revokeCertificate(management.urls.revokeCertUrl, tls);
  const revoked = await client.getManagementInfo(info.api.infoUrl, tls).catch((error: unknown) => error);
  t.match(revoked, { kind: "http", status: 403, hubMessage: ErrorMessages.certificateRevoked });
  t.match(
    (revoked as Error).message,
    /the hub answered 403 to GET https:\/\/localhost:\d+\/v1\/runtimes\/management\/info: Certificate has been revoked\./,
  );

  const noCert = await client
    .getManagementInfo(info.api.infoUrl, { certPem: "", keyPem: "", caPem })
    .catch((e: unknown) => e);
  t.match(noCert, { status: 403, hubMessage: ErrorMessages.clientCertificateRequired });
});

t.test("a later call resumes the TLS session; new credentials never resume the old one", async (t) => {
  const { hub, caPem, tokenUrl } = await startHub(t);
  // What the hub saw of each new connection: resumed or not, and which certificate it stands for.
  const seen: { socket: TLSSocket; reused: boolean; sha256: string }[] = [];
  hub.app.external.server.on("secureConnection", (socket: TLSSocket) => {
    const peer = socket.getPeerCertificate();
    seen.push({
      socket,
      reused: socket.isSessionReused(),
      sha256: "fingerprint256" in peer ? peer.fingerprint256.replaceAll(":", "").toLowerCase() : "",
    });
  });
  /** The connection the spoke keeps after a call closes after `idleMs`: wait for the hub to see it go. */
  const closed = async () => {
    const last = seen.at(-1)!.socket;
    if (!last.destroyed) await once(last, "close");
  };
  const client = createHttpHubClient({ timeoutMs: 5_000, idleMs: 100 });

  const info = await client.getCsrInfo(await tokenUrl(), { caPem });
  const key = await generateKeyPair(info.certificate["key-algorithm"]);
  const issued = await client.issueCertificate(
    info.csrUrl,
    await createCsr(key, parseSubject(info.certificate.subject)),
    { caPem },
  );
  const first = { certPem: issued.chainPem, keyPem: await exportPrivateKeyPem(key), caPem };
  const firstSha = certificateInfo(issued.clientCertPem).sha256;
  await closed();
  const before = seen.length;

  const management = await client.getManagementInfo(info.api.infoUrl, first);
  await client.getTrustBundle(trustBundleUrl(info.api.infoUrl), first);
  t.equal(seen.length, before + 1, "the calls of one reconcile share one connection");
  t.match(seen.at(-1), { reused: false, sha256: firstSha }, "the first mTLS call: a full handshake");
  await closed();

  await client.getManagementInfo(info.api.infoUrl, first);
  t.equal(seen.length, before + 2, "the next sync opens a new connection");
  t.match(seen.at(-1), { reused: true, sha256: firstSha }, "…that resumes the session");

  const next = await generateKeyPair("ecdsa-p256");
  const renewed = await client.renewCertificate(
    management.urls.renewCertUrl,
    await createCsr(next, parseSubject(management.certificate.subject)),
    first,
  );
  const second = { certPem: renewed.chainPem, keyPem: await exportPrivateKeyPem(next), caPem };
  const secondSha = certificateInfo(renewed.clientCertPem).sha256;
  await client.getManagementInfo(info.api.infoUrl, second);
  t.match(
    seen.at(-1),
    { reused: false, sha256: secondSha },
    "the renewed certificate shakes hands anew: the old session (and its certificate) is not resumed",
  );
  await closed();
  await client.getManagementInfo(info.api.infoUrl, second);
  t.match(seen.at(-1), { reused: true, sha256: secondSha }, "and is resumed from then on");
});

t.test("timeouts, refused connections, 5xx and malformed answers", async (t) => {
  const { certPem: caCert, keyPem: caKey } = await createSelfSignedCa({ commonName: "test CA" });
  const ca = await loadCa(caCert, caKey);
  const serverKey = await generateKeyPair("ecdsa-p256");
  const csr = await parseCsr(
    await createCsr(serverKey, { CN: "localhost", O: "", OU: "", L: "", ST: "", C: "" }),
  );
  const serving = await issueCertificate({
    csr,
    ca,
    validityMs: 3_600_000,
    clock: systemClock,
    usage: "server",
    dnsNames: ["localhost"],
    ipAddresses: ["127.0.0.1"],
  });
  const routes: Record<string, (response: ServerResponse) => void> = {
    "/hang": () => undefined,
    "/down": (r) => r.writeHead(503, { "content-type": "text/plain" }).end("upstream unavailable"),
    "/busy": (r) => r.writeHead(429).end(),
    "/shape": (r) => r.writeHead(200, { "content-type": "application/json" }).end('{"csrUrl": 3}'),
  };
  const server = createServer(
    { cert: serving.pem, key: await exportPrivateKeyPem(serverKey) },
    (request, response) => routes[new URL(request.url ?? "/", "https://x").pathname]?.(response),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const quick = createHttpHubClient({ timeoutMs: 300 });
  const fail = (path: string) =>
    quick
      .getCsrInfo(`${base}${path}?token=secret-token`, { caPem: caCert })
      .then(unexpected, (e: unknown) => e as HubError);

  const hang = await fail("/hang");
  t.match(hang, { kind: "timeout", transient: true });
  t.match(hang.message, /did not answer GET https:\/\/127\.0\.0\.1:\d+\/hang within 300 ms/);
  const down = await fail("/down");
  t.match(down, { kind: "http", status: 503, transient: true });
  t.match(down.message, /503 .*upstream unavailable/);
  t.match(await fail("/busy"), { status: 429, transient: true });
  const shape = await fail("/shape");
  t.match(shape, { kind: "contract", transient: false });
  t.match(shape.message, /not what tether expects: CSR info: field "api" is missing/);
  for (const error of [hang, down, shape]) t.notMatch(error.message, /secret-token/);

  const port = (server.address() as AddressInfo).port;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  const refused = await quick
    .getCsrInfo(`https://127.0.0.1:${port}/x?token=y`, {})
    .then(unexpected, (e: unknown) => e as HubError);
  t.match(refused, { kind: "network", transient: true });
  t.match(refused.message, /could not reach the hub .*ECONNREFUSED/);
});

/** A real hub in this process (real TLS sockets) on a temporary data dir, and a one-time token URL maker. */
async function startHub(t: Test) {
  const dataDir = mkdtempSync(join(tmpdir(), "tether-spoke-hub-client-"));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const hub = await serve(
    parseConfig(
      [
        "--listen",
        "127.0.0.1:0",
        "--internal-listen",
        "127.0.0.1:0",
        "--data-dir",
        dataDir,
        "--key-algorithm",
        "ecdsa-p256",
      ],
      {},
    ),
    { logger: createLogger({ level: "silent" }) },
  );
  t.teardown(() => hub.stop());
  const caPem = readFileSync(hub.caCertPath, "utf8");
  const adminToken = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
  const tokenUrl = async () => {
    const response = await fetch(`${hub.internalUrl}/v1/runtimes/tokens`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${adminToken}`,
        tenant: "acme",
        group: "prod",
        "content-type": "application/json",
      },
      body: "{}",
    });
    return ((await response.json()) as { url: string }).url;
  };

  return { hub, caPem, adminToken, tokenUrl };
}

/** An HTTP CONNECT proxy, as a kubeconfig's proxy-url names one; records where each tunnel went. */
async function connectProxy(): Promise<{ url: string; tunnels: string[]; close(): Promise<void> }> {
  const tunnels: string[] = [];
  const server = createHttpServer();
  server.on("connect", (request, socket, head) => {
    const target = request.url ?? "";
    tunnels.push(target);
    const [host, port] = [
      target.slice(0, target.lastIndexOf(":")),
      Number(target.slice(target.lastIndexOf(":") + 1)),
    ];
    const upstream = connect(port, host, () => {
      socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(socket).pipe(upstream);
    });
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    tunnels,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
