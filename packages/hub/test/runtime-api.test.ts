/**
 * The external runtime API over real TLS sockets with undici, as a Kyma client or the spoke calls it:
 * the whole flow, every error row of docs/api.md#errors with its exact status and body, mTLS refusals on every
 * mTLS route, one-time tokens under concurrency, and tokens kept out of the logs.
 */
import t from "tap";
import { ErrorMessages, type CertificatesResponse, type ManagementInfo } from "@tether/shared/contract";
import {
  certificateInfo,
  createCsr,
  decodeBase64Pem,
  derToPem,
  encodeBase64Pem,
  exportPrivateKeyPem,
  generateKeyPair,
  parseSubject,
  pemToDer,
  splitPemBundle,
  verifyChain,
  type KeyPair,
  type Subject,
} from "@tether/shared/pki";
import {
  MANAGEMENT,
  RENEWALS,
  REVOCATIONS,
  errorBody as error,
  mtlsRoutes,
  call,
  createToken,
  csrBody,
  csrInfo,
  enrol,
  mtlsAgent,
  startHub,
} from "./helpers/hub.ts";

t.test("the whole runtime flow with undici over mTLS", async (t) => {
  const hub = await startHub(t);
  const { url, token } = await createToken(hub, { tenant: "acme", group: "prod" });
  t.match(url, new RegExp(`^${hub.publicUrl}/v1/runtimes/signingRequests/info\\?token=`));

  const info = await csrInfo(hub, url);
  t.same(Object.keys(info).sort(), ["api", "certificate", "csrUrl"]);
  t.same(Object.keys(info.api).sort(), ["certificatesUrl", "infoUrl"], "no metadataUrl/eventsUrl keys");
  t.equal(info.api.infoUrl, hub.publicUrl + MANAGEMENT);
  t.equal(info.api.certificatesUrl, `${hub.publicUrl}/v1/runtimes/certificates`);
  t.match(info.csrUrl, new RegExp(`^${hub.publicUrl}/v1/runtimes/certificates\\?token=`));
  t.notOk(info.csrUrl.includes(token), "the csr token is a new one");
  t.match(info.certificate.subject, /^O=acme,OU=prod,L=Berlin,ST=Berlin,C=DE,CN=[0-9a-f-]{36}$/);
  t.same({ ...info.certificate, subject: "" }, { subject: "", extensions: "", "key-algorithm": "rsa2048" });

  const subject = parseSubject(info.certificate.subject);
  const key = await generateKeyPair("rsa2048");
  const issued = await call<CertificatesResponse>(info.csrUrl, {
    dispatcher: hub.agent,
    json: await csrBody(key, subject),
  });
  t.equal(issued.status, 201);
  t.same(Object.keys(issued.body).sort(), ["caCrt", "clientCrt", "crt"]);
  const crt = splitPemBundle(decodeBase64Pem(issued.body.crt));
  t.equal(crt.length, 2, "crt holds the leaf and the issuing CA, nothing more");
  t.equal(crt[0], decodeBase64Pem(issued.body.clientCrt));
  t.equal(crt[1], decodeBase64Pem(issued.body.caCrt));
  t.equal(decodeBase64Pem(issued.body.caCrt), hub.keyring.active.certPem);
  const leaf = certificateInfo(crt[0]!);
  t.same(leaf.subject, subject);
  t.ok((await verifyChain(crt[0]!, hub.keyring, hub.clock.now())).ok);
  const record = await hub.store.getCertificate(leaf.sha256);
  t.equal(record?.kind, "initial");
  t.equal(record?.runtimeId, subject.CN);

  const agent = mtlsAgent(t, hub, decodeBase64Pem(issued.body.crt), await exportPrivateKeyPem(key));
  const management = await call<ManagementInfo>(info.api.infoUrl, { dispatcher: agent });
  t.equal(management.status, 200);
  t.same(management.body, {
    clientIdentity: { tenant: "acme", group: "prod", runtimeId: subject.CN },
    urls: { renewCertUrl: hub.publicUrl + RENEWALS, revokeCertUrl: hub.publicUrl + REVOCATIONS },
    certificate: info.certificate,
  });

  const renewKey = await generateKeyPair("ecdsa-p256");
  const renewed = await call<CertificatesResponse>(management.body.urls.renewCertUrl, {
    dispatcher: agent,
    json: await csrBody(renewKey, subject),
  });
  t.equal(renewed.status, 201);
  const renewedLeaf = certificateInfo(decodeBase64Pem(renewed.body.clientCrt));
  t.same(renewedLeaf.subject, subject, "renewal keeps the subject");
  t.not(renewedLeaf.serial, leaf.serial, "and gets a new serial");
  t.equal((await hub.store.getCertificate(renewedLeaf.sha256))?.kind, "renewal");
  t.equal(
    (await call(info.api.infoUrl, { dispatcher: agent })).status,
    200,
    "the old certificate stays valid",
  );

  const revoked = await call(management.body.urls.revokeCertUrl, { dispatcher: agent, method: "POST" });
  t.equal(revoked.status, 201);
  t.equal(revoked.text, "", "empty body");
  const after = await mtlsRoutes(hub, agent, await csrBody(renewKey, subject));
  for (const [route, answer] of Object.entries(after)) {
    t.same(
      [answer.status, answer.body],
      [403, error(403, ErrorMessages.certificateRevoked)],
      `revoked: ${route}`,
    );
  }
  const renewedAgent = mtlsAgent(
    t,
    hub,
    decodeBase64Pem(renewed.body.crt),
    await exportPrivateKeyPem(renewKey),
  );
  t.equal(
    (await call(info.api.infoUrl, { dispatcher: renewedAgent })).status,
    200,
    "the renewed one still works",
  );

  const audit = (await hub.store.listAudit({ runtimeId: subject.CN })).map((e) => e.type);
  for (const type of [
    "token.issued",
    "token.used",
    "certificate.issued",
    "certificate.renewed",
    "certificate.revoked",
  ]) {
    t.ok(audit.includes(type), `audited: ${type}`);
  }
});

t.test("token errors: exact status and body", async (t) => {
  const hub = await startHub(t);
  const infoPath = `${hub.publicUrl}/v1/runtimes/signingRequests/info`;
  const certPath = `${hub.publicUrl}/v1/runtimes/certificates`;
  const invalid = error(403, ErrorMessages.invalidToken);
  const get = (url: string, headers?: Record<string, string>) =>
    call(url, { dispatcher: hub.agent, headers });
  const post = (url: string, json: unknown = { csr: "" }) => call(url, { dispatcher: hub.agent, json });

  t.same((await get(infoPath)).body, error(403, ErrorMessages.tokenNotProvided), "info without token");
  t.same((await get(`${infoPath}?token=`)).body, error(403, ErrorMessages.tokenNotProvided), "empty token");
  t.same(
    (await post(certPath)).body,
    error(403, ErrorMessages.tokenNotProvided),
    "certificates without token",
  );
  t.same(
    (await post(certPath, undefined)).body,
    error(403, ErrorMessages.tokenNotProvided),
    "no body either",
  );
  t.same((await get(`${infoPath}?token=nope`)).body, invalid, "unknown");
  t.same((await post(`${certPath}?token=nope`)).body, invalid, "unknown csr token");

  const { url, token } = await createToken(hub);
  t.same((await post(`${certPath}?token=${token}`)).body, invalid, "info token at the certificates route");
  const info = await csrInfo(hub, url);
  t.same((await get(url)).body, invalid, "info token used twice");
  const csrToken = new URL(info.csrUrl).searchParams.get("token")!;
  t.same((await get(`${infoPath}?token=${csrToken}`)).body, invalid, "csr token at the info route");
  t.same((await get(infoPath, { authorization: `Bearer ${csrToken}` })).body, invalid, "csr token as bearer");

  const expiring = await createToken(hub, { ttl: "2m" });
  hub.clock.set(hub.clock.now().getTime() + 150_000);
  t.equal((await get(expiring.url)).status, 200, "within the 60 s leeway after expiry");
  const expired = await createToken(hub, { ttl: "2m" });
  hub.clock.set(hub.clock.now().getTime() + 181_000);
  t.same((await get(expired.url)).body, invalid, "expired beyond the leeway");
  const csrExpiry = await csrInfo(hub, (await createToken(hub)).url);
  hub.clock.set(hub.clock.now().getTime() + 11 * 60_000 + 1000);
  t.same((await post(csrExpiry.csrUrl, { csr: "x" })).body, invalid, "expired csr token");
});

t.test("bad CSRs: exact messages, and the token survives them", async (t) => {
  const hub = await startHub(t);
  const { url } = await createToken(hub);
  const info = await csrInfo(hub, url);
  const subject = parseSubject(info.certificate.subject);
  const key = await generateKeyPair("ecdsa-p256");
  const post = (body: unknown) => call(info.csrUrl, { dispatcher: hub.agent, json: body });
  const expect400 = async (body: unknown, message: string | RegExp, what: string) => {
    const answer = await post(body);
    t.equal(answer.status, 400, what);
    if (typeof message === "string") t.same(answer.body, error(400, message), what);
    else t.match(answer.body, { code: 400, error: message }, what);
  };
  const csrOf = async (s: Subject, k: KeyPair = key) => encodeBase64Pem(await createCsr(k, s));

  await expect400({ csr: "not base64!" }, ErrorMessages.invalidBase64, "not base64");
  await expect400({ csr: "" }, ErrorMessages.invalidBase64, "empty");
  await expect400({ csr: encodeBase64Pem("hello") }, ErrorMessages.csrNotPem, "not PEM");
  await expect400(
    {
      csr: encodeBase64Pem("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"),
    },
    ErrorMessages.csrUnparsable,
    "unparsable",
  );
  const der = pemToDer(await createCsr(key, subject));
  der[der.length - 1] = (der.at(-1) ?? 0) ^ 0xff;
  await expect400(
    { csr: encodeBase64Pem(derToPem(der, "CERTIFICATE REQUEST")) },
    ErrorMessages.csrBadSignature,
    "bad signature",
  );
  const fields: [keyof Subject, string][] = [
    ["CN", ErrorMessages.invalidCommonName],
    ["C", ErrorMessages.invalidCountry],
    ["O", ErrorMessages.invalidOrganization],
    ["OU", ErrorMessages.invalidOrganizationalUnit],
    ["L", ErrorMessages.invalidLocality],
    ["ST", ErrorMessages.invalidProvince],
  ];
  for (const [field, message] of fields) {
    await expect400({ csr: await csrOf({ ...subject, [field]: "other" }) }, message, `wrong ${field}`);
  }
  await expect400(
    { csr: await csrOf({ ...subject, CN: "other", C: "XX" }) },
    ErrorMessages.invalidCommonName,
    "CN first",
  );
  const weak = await rsaKey(1024);
  await expect400(
    { csr: await csrOf(subject, weak) },
    /^CSR: The key algorithm or key size is not allowed\. .*rsa1024/,
    "RSA 1024",
  );
  await expect400(
    { csr: await csrOf(subject, await p521Key()) },
    /^CSR: The key algorithm or key size is not allowed\./,
    "P-521",
  );
  await expect400({}, /csr/, "no csr field");

  const good = await post({ csr: await csrOf(subject) });
  t.equal(good.status, 201, "the token was not burnt by any refusal");
  t.same(
    (await post({ csr: await csrOf(subject) })).body,
    error(403, ErrorMessages.invalidToken),
    "replay refused",
  );
  const rejections = await hub.store.listAudit({ type: "certificate.refused" });
  t.ok(rejections.length >= 12, "refusals audited");
});

async function rsaKey(bits: number): Promise<KeyPair> {
  const pair = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: bits,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  return { algorithm: "rsa2048", privateKey: pair.privateKey, publicKey: pair.publicKey };
}

async function p521Key(): Promise<KeyPair> {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-521" }, true, [
    "sign",
    "verify",
  ]);
  return { algorithm: "ecdsa-p384", privateKey: pair.privateKey, publicKey: pair.publicKey };
}

t.test("keys at least as strong as the advertised one are accepted", async (t) => {
  const hub = await startHub(t, { flags: ["--key-algorithm", "rsa3072"] });
  for (const algorithm of ["rsa3072", "ecdsa-p256", "ecdsa-p384", "ed25519"] as const) {
    const enrolled = await enrol(t, hub, { algorithm });
    t.equal(enrolled.info.certificate["key-algorithm"], "rsa3072");
    t.equal((await call(hub.publicUrl + MANAGEMENT, { dispatcher: enrolled.agent })).status, 200, algorithm);
  }
  const { url } = await createToken(hub);
  const info = await csrInfo(hub, url);
  const answer = await call(info.csrUrl, {
    dispatcher: hub.agent,
    json: await csrBody(await generateKeyPair("rsa2048"), parseSubject(info.certificate.subject)),
  });
  t.match(answer.body, { code: 400, error: /not allowed.*requires rsa3072/ }, "weaker than advertised");
});
