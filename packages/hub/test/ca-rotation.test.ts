/**
 * CA rotation as an operator and a fleet meet it (docs/pki.md#ca-rotation): the hub in its own process,
 * `tether-hub ca ...` from the CLI, spokes' certificates with curl; then two replicas on PostgreSQL.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect } from "node:tls";
import t, { type Test } from "tap";
import { Agent } from "undici";
import {
  ErrorMessages,
  type CaStatus,
  type CertificatesResponse,
  type CsrInfo,
  type TrustBundle,
} from "@tether/shared/contract";
import {
  createCsr,
  createSelfSignedCa,
  decodeBase64Pem,
  encodeBase64Pem,
  exportPrivateKeyPem,
  generateKeyPair,
  parseSubject,
  splitPemBundle,
} from "@tether/shared/pki";
import { openStore } from "../src/store/open.ts";
import { adminHeaders, call, enrol, startHub, tempDir } from "./helpers/hub.ts";
import { freshPostgresDatabase } from "./helpers/postgres.ts";
import { cli, curl, openssl, spawnHub } from "./helpers/process.ts";

const TRUST = "/v1/runtimes/management/trust";
const INFO = "/v1/runtimes/management/info";
const RENEWALS = "/v1/runtimes/certificates/renewals";
const sha256Of = (pem: string) => new X509Certificate(pem).fingerprint256.replaceAll(":", "").toLowerCase();

interface Spoke {
  id: string;
  certFile: string;
  keyFile: string;
  keyPem: string;
  certPem: string;
}

/** token → info → CSR → certificate with the CLI and undici, the credential kept in files for curl. */
async function enrolSpoke(
  t: Test,
  dir: string,
  name: string,
  hub: { publicUrl: string },
  client: Record<string, string>,
  caPem: string,
): Promise<Spoke> {
  const agent = new Agent({ connect: { ca: caPem } });
  t.teardown(() => agent.close());
  const url = (
    await cli(["token", "create", "--tenant", "acme", "--group", "edge", "--runtime", name], client)
  ).trim();
  const info = (await call<CsrInfo>(url, { dispatcher: agent })).body;
  const key = await generateKeyPair("ecdsa-p256");
  const issued = await call<CertificatesResponse>(info.csrUrl, {
    dispatcher: agent,
    json: { csr: encodeBase64Pem(await createCsr(key, parseSubject(info.certificate.subject))) },
  });
  return saveSpoke(dir, name, await exportPrivateKeyPem(key), decodeBase64Pem(issued.body.crt));
}

function saveSpoke(dir: string, name: string, keyPem: string, certPem: string): Spoke {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(certFile, certPem);
  writeFileSync(keyFile, keyPem, { mode: 0o600 });
  return { id: name, certFile, keyFile, keyPem, certPem };
}

/** The issuer of the certificate the hub serves to a new handshake. */
function servingIssuer(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
      const chain = socket.getPeerCertificate(true);
      socket.end();
      resolve(chain.issuerCertificate.fingerprint256.replaceAll(":", "").toLowerCase());
    });
    socket.once("error", reject);
  });
}

t.test("ca rotate → activate → retire, with the CLI and curl against a hub process", async (t) => {
  const dir = tempDir(t);
  const dataDir = join(dir, "hub");
  const hub = await spawnHub(t, [
    "--listen",
    "127.0.0.1:0",
    "--internal-listen",
    "127.0.0.1:0",
    "--data-dir",
    dataDir,
    "--ca-refresh",
    "200ms",
    "--ca-renewal-window",
    "30m",
  ]);
  t.teardown(() => hub.stop());
  const client = { TETHER_HUB_INTERNAL_URL: hub.internalUrl, TETHER_HUB_DATA_DIR: dataDir };
  const oldCaPem = readFileSync(join(dataDir, "ca.crt"), "utf8");
  const oldCa = sha256Of(oldCaPem);
  const oldCaFile = join(dataDir, "ca.crt");
  const renewed = await enrolSpoke(t, dir, "edge-1", hub, client, oldCaPem);
  const idle = await enrolSpoke(t, dir, "edge-2", hub, client, oldCaPem);
  const status = async () => JSON.parse(await cli(["ca", "status", "-o", "json"], client)) as CaStatus;
  const trust = async (spoke: Spoke, caFile: string) => {
    const answer = await curl([
      "--cacert",
      caFile,
      "--cert",
      spoke.certFile,
      "--key",
      spoke.keyFile,
      hub.publicUrl + TRUST,
    ]);
    t.equal(answer.status, 200, `trust bundle for ${spoke.id}`);
    return JSON.parse(answer.body) as TrustBundle;
  };
  const pems = (base64: string) => splitPemBundle(decodeBase64Pem(base64)).map(sha256Of);

  const stable = await trust(renewed, oldCaFile);
  t.same(
    { ...stable, clientCas: pems(stable.clientCas), serverCas: pems(stable.serverCas) },
    {
      clientCas: [oldCa],
      serverCas: [oldCa],
      activeSha256: oldCa,
      phase: "stable",
      cas: [
        { sha256: oldCa, phase: "active", notAfter: new X509Certificate(oldCaPem).validToDate.toISOString() },
      ],
      renewalWindowSeconds: 1800,
    },
    "stable: one CA",
  );
  t.match(await cli(["ca", "status"], client), new RegExp(`${oldCa}\\s+active`), "the status table");

  t.match(await cli(["ca", "rotate"], client), /prepared CA [0-9a-f]{64} \(next\)/);
  const newCa = (await status()).cas.find((c) => c.phase === "next")!.sha256;
  t.rejects(cli(["ca", "rotate"], client), /409 A next CA is prepared already/, "one next CA at a time");
  const prepared = await trust(renewed, oldCaFile);
  t.same(
    {
      phase: prepared.phase,
      active: prepared.activeSha256,
      clientCas: pems(prepared.clientCas),
      serverCas: pems(prepared.serverCas),
    },
    { phase: "prepared", active: oldCa, clientCas: [oldCa, newCa], serverCas: [oldCa, newCa] },
    "prepared: the next CA is published, the old one signs",
  );
  t.equal(await servingIssuer(hub.publicUrl), oldCa, "the serving certificate still comes from the old CA");
  const afterPrepare = await status();
  t.match(
    afterPrepare.cas.find((c) => c.sha256 === newCa),
    { trustedBy: 1 },
    "one spoke read the bundle with the next CA",
  );
  t.match(
    afterPrepare.cas.find((c) => c.sha256 === oldCa),
    { liveCertificates: 2, runtimes: 2 },
  );
  const bundleFile = join(dir, "bundle.crt");
  writeFileSync(bundleFile, decodeBase64Pem(prepared.serverCas));

  t.match(await cli(["ca", "activate"], client), new RegExp(`CA ${newCa} is active`));
  let issuer = "";
  for (let i = 0; i < 100 && issuer !== newCa; i++) {
    issuer = await servingIssuer(hub.publicUrl);
    if (issuer !== newCa) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  t.equal(issuer, newCa, "the serving certificate is re-issued by the new CA, without a restart");
  const activated = await trust(renewed, bundleFile);
  t.same(
    {
      phase: activated.phase,
      active: activated.activeSha256,
      phases: activated.cas.map((c) => [c.sha256, c.phase]),
    },
    {
      phase: "activated",
      active: newCa,
      phases: [
        [newCa, "active"],
        [oldCa, "retiring"],
      ],
    },
    "activated: the new CA signs, the old one is still trusted",
  );
  const old = await curl([
    "--cacert",
    bundleFile,
    "--cert",
    idle.certFile,
    "--key",
    idle.keyFile,
    hub.publicUrl + INFO,
  ]);
  t.equal(old.status, 200, "a certificate of the retiring CA still works");

  const key = await generateKeyPair("ecdsa-p256");
  const csrFile = join(dir, "renew.json");
  writeFileSync(
    csrFile,
    JSON.stringify({
      csr: encodeBase64Pem(
        await createCsr(
          key,
          parseSubject(new X509Certificate(renewed.certPem).subject.replaceAll("\n", ",")),
        ),
      ),
    }),
  );
  const renewal = await curl([
    "--cacert",
    bundleFile,
    "--cert",
    renewed.certFile,
    "--key",
    renewed.keyFile,
    "-H",
    "content-type: application/json",
    "--data-binary",
    `@${csrFile}`,
    hub.publicUrl + RENEWALS,
  ]);
  t.equal(renewal.status, 201, "renewal with the old CA's certificate");
  const response = JSON.parse(renewal.body) as CertificatesResponse;
  t.equal(sha256Of(decodeBase64Pem(response.caCrt)), newCa, "caCrt: the new CA");
  const fresh = saveSpoke(dir, "edge-1-new", await exportPrivateKeyPem(key), decodeBase64Pem(response.crt));
  const newCaFile = join(dir, "new-ca.crt");
  writeFileSync(newCaFile, decodeBase64Pem(response.caCrt));
  t.match(
    await openssl(["verify", "-CAfile", newCaFile, fresh.certFile]),
    /OK/,
    "the new certificate chains to the new CA",
  );

  await t.rejects(
    cli(["ca", "retire", oldCa], client),
    /409 CA [0-9a-f]{64} still has 2 live certificate\(s\)/,
    "retire refused while certificates of the old CA live (edge-2's, and edge-1's within its grace)",
  );
  t.match(await cli(["ca", "retire", oldCa, "--force"], client), /retired/);
  const refused = await curl([
    "--cacert",
    bundleFile,
    "--cert",
    idle.certFile,
    "--key",
    idle.keyFile,
    hub.publicUrl + INFO,
  ]);
  t.same(
    { status: refused.status, body: JSON.parse(refused.body) as unknown },
    { status: 403, body: { code: 403, error: ErrorMessages.issuerRetired } },
    "a certificate of the retired CA: 403 issuerRetired",
  );
  const stranger = await createSelfSignedCa({ commonName: "stranger" });
  const strangerFile = join(dir, "stranger.crt");
  writeFileSync(strangerFile, stranger.certPem);
  writeFileSync(join(dir, "stranger.key"), stranger.keyPem);
  const untrusted = await curl([
    "--cacert",
    bundleFile,
    "--cert",
    strangerFile,
    "--key",
    join(dir, "stranger.key"),
    hub.publicUrl + INFO,
  ]);
  t.equal(untrusted.status, 403);
  t.not(
    JSON.parse(untrusted.body),
    { code: 403, error: ErrorMessages.issuerRetired },
    "an unknown issuer is told apart",
  );
  const again = await trust(fresh, newCaFile);
  t.same(
    { phase: again.phase, cas: again.cas.map((c) => c.phase), clientCas: pems(again.clientCas) },
    { phase: "stable", cas: ["active"], clientCas: [newCa] },
    "stable again, on the new CA",
  );
  const final = await status();
  t.same(
    final.cas.map((c) => [c.sha256, c.phase]),
    [
      [newCa, "active"],
      [oldCa, "retired"],
    ],
  );
  t.match(
    final.cas[0],
    { liveCertificates: 1, runtimes: 1 },
    "one spoke holds a certificate of the active CA",
  );
});

t.test(
  "two replicas on PostgreSQL: rotate through A, B signs with the new CA without a restart",
  async (t) => {
    const url = await freshPostgresDatabase(t);
    const kek = ["--ca-kek", Buffer.alloc(32, 7).toString("base64"), "--ca-refresh", "5s"];
    const storeA = await openStore({ url, dataDir: "/nonexistent" });
    const storeB = await openStore({ url, dataDir: "/nonexistent" });
    t.teardown(() => Promise.all([storeA.close(), storeB.close()]));
    const a = await startHub(t, { store: storeA, flags: kek });
    const b = await startHub(t, { store: storeB, flags: kek });
    const oldCa = a.keyring.active.sha256;
    t.equal(b.keyring.active.sha256, oldCa, "B reads A's CA from the store");

    const admin = (path: string, json: unknown) =>
      call<CaStatus>(a.internalUrl + path, { headers: adminHeaders(a), json });
    t.equal((await admin("/v1/cas", { algorithm: "ecdsa-p384" })).status, 201, "rotate through A");
    const activation = await admin("/v1/cas/activation", {});
    t.equal(activation.status, 200, "activate through A");
    const newCa = activation.body.cas.find((c) => c.phase === "active")!.sha256;
    t.not(newCa, oldCa);
    t.equal(a.keyring.active.sha256, newCa, "A signs with the new CA at once");
    t.equal(b.keyring.active.sha256, oldCa, "B has not looked yet");

    await b.clock.advance(5000);
    await b.rotation.settled();
    t.equal(b.keyring.active.sha256, newCa, "B noticed within --ca-refresh");
    t.equal(b.keyring.trusted.length, 2, "and trusts the retiring CA too");
    // B's agent trusted the old CA only; its serving certificate is now from the new one.
    b.caPem = b.keyring.trusted.map((ca) => ca.certPem).join("");
    await b.agent.close();
    b.agent = new Agent({ connect: { ca: b.caPem } });
    const spoke = await enrol(t, b);
    t.equal(sha256Of(decodeBase64Pem(spoke.response.caCrt)), newCa, "B signs with the new CA");
    const bundle = await call<TrustBundle>(b.publicUrl + TRUST, { dispatcher: spoke.agent });
    t.match(bundle.body, { phase: "activated", activeSha256: newCa }, "B's trust bundle");
    const audit = await storeA.listAudit({ type: "ca.activated" });
    t.equal(audit.length, 1, "the activation is audited once");
  },
);
