/**
 * The hub as a user runs it: `tether-hub serve` in its own process with nothing but two ports, the
 * CLI, and the runtime flow with curl and an `openssl req` CSR; then a restart that loses nothing,
 * a SIGTERM that lets an in-flight request finish, and two hub processes sharing one PostgreSQL.
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { promisify } from "node:util";
import t from "tap";
import { Agent, request } from "undici";
import { parse as parseYaml } from "yaml";
import { ErrorMessages, type CsrInfo } from "@tether/shared/contract";
import { createCsr, encodeBase64Pem, generateKeyPair, parseSubject } from "@tether/shared/pki";
import { call, tempDir } from "./helpers/hub.ts";
import { freshPostgresDatabase } from "./helpers/postgres.ts";
import { cli, curl, freePort, openssl, spawnHub } from "./helpers/process.ts";

const json = <T>(text: string) => JSON.parse(text) as T;

t.test("serve with defaults, the CLI, curl and openssl, restart, SIGTERM", async (t) => {
  const cwd = tempDir(t);
  const dataDir = join(cwd, ".tether", "hub");
  const ports = {
    TETHER_HUB_LISTEN: `127.0.0.1:${await freePort()}`,
    TETHER_HUB_INTERNAL_LISTEN: `127.0.0.1:${await freePort()}`,
  };
  let hub = await spawnHub(t, [], { cwd, env: ports });
  t.match(hub.output(), new RegExp(`hub CA certificate:\\s+${dataDir}/ca.crt`), "prints where the CA is");
  t.match(hub.output(), new RegExp(`admin token:\\s+${dataDir}/admin-token`), "and the admin token");
  const caFile = join(dataDir, "ca.crt");
  const client = { TETHER_HUB_INTERNAL_URL: hub.internalUrl, TETHER_HUB_DATA_DIR: dataDir };

  t.equal(
    (await cli(["admin-token"], client)).trim(),
    readFileSync(join(dataDir, "admin-token"), "utf8").trim(),
  );
  const certificateRequest = parseYaml(
    await cli(
      ["token", "create", "--tenant", "acme", "--group", "prod", "--runtime", "edge-1", "-o", "yaml"],
      client,
    ),
  ) as {
    apiVersion: string;
    kind: string;
    metadata: { name: string };
    spec: { csrInfoUrl: string; caBundle: string };
  };
  t.match(certificateRequest, {
    apiVersion: "tether.dev/v1alpha1",
    kind: "CertificateRequest",
    metadata: { name: "edge-1" },
  });
  t.equal(
    Buffer.from(certificateRequest.spec.caBundle, "base64").toString(),
    readFileSync(caFile, "utf8"),
    "caBundle: the private hub CA",
  );

  // The runtime flow as a user types it.
  const info = await curl(["--cacert", caFile, certificateRequest.spec.csrInfoUrl]);
  t.equal(info.status, 200);
  const { csrUrl, certificate } = json<CsrInfo>(info.body);
  const subject = `/${certificate.subject.replaceAll(",", "/")}`;
  const key = join(cwd, "edge.key");
  const csr = join(cwd, "edge.csr");
  await openssl([
    "req",
    "-new",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-subj",
    subject,
    "-out",
    csr,
  ]);
  const body = join(cwd, "body.json");
  writeFileSync(body, JSON.stringify({ csr: readFileSync(csr).toString("base64") }));
  const issued = await curl([
    "--cacert",
    caFile,
    "-H",
    "Content-Type: application/json",
    "--data",
    `@${body}`,
    csrUrl,
  ]);
  t.equal(issued.status, 201);
  const crt = join(cwd, "edge.crt");
  writeFileSync(crt, Buffer.from(json<{ crt: string }>(issued.body).crt, "base64"));
  t.match(
    await openssl(["verify", "-CAfile", caFile, crt]),
    /OK/,
    "openssl verify -CAfile ca.crt accepts it",
  );
  const text = await openssl(["x509", "-in", crt, "-noout", "-text"]);
  t.match(text, /TLS Web Client Authentication/);
  t.match(text, /CA:FALSE/);
  const mtls = ["--cacert", caFile, "--cert", crt, "--key", key];
  const management = await curl([...mtls, `${hub.publicUrl}/v1/runtimes/management/info`]);
  t.equal(management.status, 200);
  t.match(json(management.body), { clientIdentity: { tenant: "acme", group: "prod", runtimeId: "edge-1" } });
  await openssl(["req", "-new", "-key", key, "-subj", subject, "-out", csr]);
  writeFileSync(body, JSON.stringify({ csr: readFileSync(csr).toString("base64") }));
  const renewed = await curl([
    ...mtls,
    "-H",
    "Content-Type: application/json",
    "--data",
    `@${body}`,
    `${hub.publicUrl}/v1/runtimes/certificates/renewals`,
  ]);
  t.equal(renewed.status, 201, "renewal with curl");
  const renewedCrt = join(cwd, "renewed.crt");
  writeFileSync(renewedCrt, Buffer.from(json<{ crt: string }>(renewed.body).crt, "base64"));

  t.match(await cli(["runtimes", "list"], client), /edge-1\s+acme\s+prod/);
  t.match(
    await cli(["bootstrap-kubeconfig", "--runtime", "edge-2", "--tenant", "acme", "--group", "prod"], client),
    /token: /,
  );

  // Revoke the first certificate, mint a token, then restart: nothing may be lost.
  const revoked = await curl([
    ...mtls,
    "-X",
    "POST",
    `${hub.publicUrl}/v1/runtimes/certificates/revocations`,
  ]);
  t.same(revoked, { status: 201, body: "" });
  const pending = (await cli(["token", "create", "--tenant", "acme", "--group", "prod"], client)).trim();
  t.equal(await hub.stop(), 0, "SIGTERM: clean exit");
  hub = await spawnHub(t, [], { cwd, env: ports });

  t.equal((await curl(["--cacert", caFile, pending])).status, 200, "a token from before the restart works");
  t.same(
    json((await curl(["--cacert", caFile, pending])).body),
    { code: 403, error: ErrorMessages.invalidToken },
    "once",
  );
  t.same(json((await curl([...mtls, `${hub.publicUrl}/v1/runtimes/management/info`])).body), {
    code: 403,
    error: ErrorMessages.certificateRevoked,
  });
  const renewedMtls = ["--cacert", caFile, "--cert", renewedCrt, "--key", key];
  t.equal(
    (await curl([...renewedMtls, `${hub.publicUrl}/v1/runtimes/management/info`])).status,
    200,
    "certificates survive",
  );
  const list = json<{ runtimes: { id: string; certificates: unknown[]; revokedCertificates: unknown[] }[] }>(
    await cli(["runtimes", "list", "-o", "json"], client),
  );
  t.match(
    list.runtimes.find((r) => r.id === "edge-1"),
    { certificates: [{}, {}], revokedCertificates: [{}] },
  );
  t.match(await cli(["revoke", "--runtime", "edge-1"], client), /revoked 1 certificate/);
  t.equal((await curl([...renewedMtls, `${hub.publicUrl}/v1/runtimes/management/info`])).status, 403);

  // SIGTERM while a request is on the wire: it is answered, then the process exits.
  const agent = new Agent({ connect: { ca: readFileSync(caFile, "utf8") } });
  t.teardown(() => agent.close());
  const slow = await csrInfoOf(
    await cli(["token", "create", "--tenant", "acme", "--group", "prod"], client),
    agent,
  );
  const csrBody = JSON.stringify({
    csr: encodeBase64Pem(
      await createCsr(await generateKeyPair("ecdsa-p256"), parseSubject(slow.certificate.subject)),
    ),
  });
  const inFlight = request(slow.csrUrl, {
    method: "POST",
    dispatcher: agent,
    headers: { "content-type": "application/json", "content-length": String(csrBody.length) },
    body: Readable.from(
      (async function* () {
        yield csrBody.slice(0, 10);
        await new Promise((resolve) => setTimeout(resolve, 700));
        yield csrBody.slice(10);
      })(),
    ),
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const stoppedAt = Date.now();
  const exit = hub.stop();
  const answer = await inFlight;
  t.equal(answer.statusCode, 201, "the in-flight request finished");
  await answer.body.text();
  t.equal(await exit, 0);
  t.ok(Date.now() - stoppedAt < 10_000, "and the process exits at once, not after the keep-alive timeout");
});

async function csrInfoOf(url: string, agent: Agent): Promise<CsrInfo> {
  return (await call<CsrInfo>(url.trim(), { dispatcher: agent })).body;
}

t.test(
  "two hub processes sharing one PostgreSQL: one token, 50 concurrent requests, one success",
  async (t) => {
    const store = await freshPostgresDatabase(t);
    const dirA = tempDir(t);
    const dirB = tempDir(t);
    const listen = ["--listen", "127.0.0.1:0", "--internal-listen", "127.0.0.1:0", "--store", store];
    const a = await spawnHub(t, [...listen, "--data-dir", dirA]);
    const ca = ["--ca-cert", join(dirA, "ca.crt"), "--ca-key", join(dirA, "ca.key")];
    const b = await spawnHub(t, [...listen, "--data-dir", dirB, ...ca]);
    t.teardown(async () => {
      await Promise.all([a.stop(), b.stop()]);
    });
    const agent = new Agent({ connect: { ca: readFileSync(join(dirA, "ca.crt"), "utf8") } });
    t.teardown(() => agent.close());
    const onB = (url: string) => url.replace(a.publicUrl, b.publicUrl);
    const adminA = { TETHER_HUB_INTERNAL_URL: a.internalUrl, TETHER_HUB_DATA_DIR: dirA };

    const outcome = async (urls: string[], body?: string) => {
      const answers = await Promise.all(
        urls.map((url) =>
          call(url, {
            dispatcher: agent,
            json: body === undefined ? undefined : (JSON.parse(body) as unknown),
          }),
        ),
      );
      return {
        ok: answers.filter((x) => x.status < 300).length,
        refused: answers.filter((x) => x.status === 403).length,
      };
    };
    const infoUrl = (await cli(["token", "create", "--tenant", "t", "--group", "g"], adminA)).trim();
    const fifty = (url: string) => Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? url : onB(url)));
    t.same(await outcome(fifty(infoUrl)), { ok: 1, refused: 49 }, "info token across both hubs");

    const info = await csrInfoOf(
      await cli(["token", "create", "--tenant", "t", "--group", "g"], adminA),
      agent,
    );
    const body = JSON.stringify({
      csr: encodeBase64Pem(
        await createCsr(await generateKeyPair("ecdsa-p256"), parseSubject(info.certificate.subject)),
      ),
    });
    t.same(await outcome(fifty(info.csrUrl), body), { ok: 1, refused: 49 }, "csr token across both hubs");
    const runtimes = json<{ runtimes: { id: string; certificates: unknown[] }[] }>(
      await cli(["runtimes", "list", "-o", "json", "--internal-url", b.internalUrl, "--data-dir", dirB]),
    );
    const id = parseSubject(info.certificate.subject).CN;
    t.equal(
      runtimes.runtimes.find((r) => r.id === id)?.certificates.length,
      1,
      "hub B sees the one certificate",
    );
  },
);

t.test("the curl walkthroughs of README.md and docs/hub.md run as written", async (t) => {
  const root = new URL("../../../", import.meta.url);
  const cwd = tempDir(t);
  const external = await freePort();
  const internal = await freePort();
  const hub = await spawnHub(t, [], {
    cwd,
    env: { TETHER_HUB_LISTEN: `127.0.0.1:${external}`, TETHER_HUB_INTERNAL_LISTEN: `127.0.0.1:${internal}` },
  });
  t.teardown(() => hub.stop());
  const walkthrough = (file: string, after: string) => {
    const text = readFileSync(new URL(file, root), "utf8");
    const block = /```sh\n([\s\S]*?)```/.exec(text.slice(text.indexOf(after)))?.[1] ?? "";
    // Only the ports differ from a hub started with the defaults.
    return block
      .replaceAll("localhost:8443", `localhost:${external}`)
      .replaceAll("127.0.0.1:8080", `127.0.0.1:${internal}`);
  };
  const bash = async (script: string) =>
    (await promisify(execFile)("bash", ["-euo", "pipefail", "-c", script], { cwd })).stdout;

  const readme = await bash(walkthrough("README.md", "exactly as a spoke does"));
  t.match(json(readme), { clientIdentity: { tenant: "acme", group: "prod" } }, "README: management info");
  const docs = await bash(walkthrough("docs/hub.md", "## The runtime API with curl"));
  t.match(docs, /runtime\.crt: OK/, "docs/hub.md: openssl verify accepts the certificate");
  t.match(docs, /"runtimeId"/, "docs/hub.md: management info");
  t.match(docs, /^201$/m, "docs/hub.md: revoked");
  t.match(docs, /\{"code":403,"error":"Certificate has been revoked\."\}$/, "docs/hub.md: refused after");
  t.equal(readFileSync(join(cwd, "renewed.crt"), "utf8").match(/BEGIN CERTIFICATE/g)?.length, 2, "renewed");

  // The CRL lines of docs/hub.md, in the same shell as the walkthrough that revoked runtime.crt
  // (openssl verify exits 2 for a revoked certificate).
  const crl = await promisify(execFile)(
    "bash",
    ["-uo", "pipefail", "-c", `HUB_DIR=.tether/hub\n${walkthrough("docs/hub.md", "### Revocation lists")}`],
    { cwd },
  ).catch((failure: { stdout: string; stderr: string }) => failure);
  t.match(crl.stderr, /verify OK/, "docs/hub.md: openssl crl -verify accepts the CRL");
  t.match(
    `${crl.stdout}${crl.stderr}`,
    /certificate revoked/,
    "docs/hub.md: openssl verify -crl_check: revoked",
  );
});
