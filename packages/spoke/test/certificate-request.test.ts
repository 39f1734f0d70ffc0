import t from "tap";
import { parseKubeconfig } from "@tether/shared/kubeconfig";
import { certificateInfo, importPrivateKeyPem, splitPemBundle } from "@tether/shared/pki";
import { ConflictError, KubeError } from "../src/kube/port.ts";
import { decode, namespace, startAgent } from "./support/agent.ts";
import { hubOrigin, refused, unreachable } from "./support/fake-hub.ts";

t.test("a token URL becomes a Secret, a Ready CentralConnection, and the request goes away", async (t) => {
  const agent = await startAgent();
  t.teardown(() => agent.stop());
  const url = agent.hub.tokenUrl("cluster-1");
  const caBundle = Buffer.from(agent.hub.ca.certPem).toString("base64");
  await agent.apply("c1", url, caBundle);

  t.equal(await agent.kube.certificateRequests.get("c1"), undefined, "request deleted");
  const secret = await agent.secret("c1");
  t.ok(secret, "Secret written");
  t.equal(secret?.type, "kubernetes.io/tls");
  t.same(secret?.metadata?.labels, {
    "app.kubernetes.io/managed-by": "tether-spoke",
    "tether.dev/connection": "c1",
  });
  t.same(Object.keys(secret?.data ?? {}).sort(), ["ca.crt", "kubeconfig", "tls.crt", "tls.key"]);
  const chain = splitPemBundle(decode(secret?.data?.["tls.crt"]));
  t.equal(chain.length, 2, "tls.crt: leaf + issuing CA");
  const leaf = certificateInfo(chain[0]!);
  t.equal(leaf.subject.CN, "cluster-1");
  t.equal(decode(secret?.data?.["ca.crt"]), agent.hub.ca.certPem, "ca.crt is the hub trust bundle");
  await importPrivateKeyPem(decode(secret?.data?.["tls.key"]));
  const kubeconfig = parseKubeconfig(decode(secret?.data?.kubeconfig));
  t.equal(kubeconfig.server, hubOrigin, "server from the token URL's origin");
  t.equal(kubeconfig.caPem, agent.hub.ca.certPem, "serving trust from spec.caBundle");
  t.equal(kubeconfig.clientCertificatePem, decode(secret?.data?.["tls.crt"]));
  t.equal(agent.kube.secretStore.objects.size, 1);

  const connection = await agent.connection("c1");
  t.equal(connection.spec.managementInfoUrl, `${hubOrigin}/v1/runtimes/management/info`);
  t.equal(connection.spec.establishedAt, agent.clock.now().toISOString());
  t.same(connection.spec.renewal, { enabled: true, renewAfterFraction: 0.66 });
  t.same(connection.spec.secretRef, { name: "c1-hub-credentials", namespace });
  const ready = connection.status?.conditions?.find((c) => c.type === "Ready");
  t.equal(ready?.status, "True");
  t.equal(ready?.reason, "Connected");
  t.equal(connection.status?.certificateStatus?.serialNumber, leaf.serial);
  t.equal(connection.status?.certificateStatus?.sha256, leaf.sha256);
  t.equal(connection.status?.certificateStatus?.notAfter, leaf.notAfter.toISOString());
  t.same(agent.eventReasons("c1"), ["CertificateRequest/Issued", "CentralConnection/Issued"]);
  t.same(agent.hub.calls, ["info", "issue", "management", "trust"]);
});

t.test("the key follows the advertised key-algorithm", async (t) => {
  const agent = await startAgent();
  t.teardown(() => agent.stop());
  agent.hub.keyAlgorithm = "rsa2048";
  await agent.apply("c1", agent.hub.tokenUrl());
  const key = await importPrivateKeyPem(decode((await agent.secret("c1"))?.data?.["tls.key"]));
  t.equal(key.algorithm, "rsa2048");
  const kubeconfig = parseKubeconfig(decode((await agent.secret("c1"))?.data?.kubeconfig));
  t.equal(kubeconfig.caPem, undefined, "no caBundle and no --hub-ca-file: system trust");
});

t.test("a used token is refused once, with words an operator can act on, and not retried", async (t) => {
  const agent = await startAgent();
  t.teardown(() => agent.stop());
  const url = agent.hub.tokenUrl();
  await agent.apply("first", url);
  await agent.apply("second", url);
  const request = await agent.kube.certificateRequests.get("second");
  t.match(
    request?.status?.error,
    /refused the token in spec\.csrInfoUrl \(hub: Invalid token\.\).*unknown, expired or already used.*new CertificateRequest/,
  );
  t.notMatch(request?.status?.error, /token=/, "the token never appears");
  await agent.advance(600_000);
  t.equal(agent.hub.calls.filter((c) => c === "info").length, 2, "no second try");
  t.same(agent.eventReasons("second"), ["CertificateRequest/IssueFailed"]);
  t.equal(await agent.kube.centralConnections.get("second"), undefined);
});

t.test("bad input is reported without calling the hub", async (t) => {
  const agent = await startAgent();
  t.teardown(() => agent.stop());
  await agent.apply("plain", "http://hub.test/v1/runtimes/signingRequests/info?token=x");
  await agent.apply("garbage", "not a url");
  await agent.apply("bundle", agent.hub.tokenUrl(), "bm90IGEgY2VydGlmaWNhdGU=");
  const error = async (name: string) => (await agent.kube.certificateRequests.get(name))?.status?.error;
  t.match(await error("plain"), /must be an https:\/\/ URL/);
  t.match(await error("garbage"), /is not a URL/);
  t.match(await error("bundle"), /spec\.caBundle is not base64 of PEM certificates/);
  t.same(agent.hub.calls, []);
});

t.test("what the hub refuses is explained: no token, wrong URL, refused CSR", async (t) => {
  const agent = await startAgent();
  t.teardown(() => agent.stop());
  await agent.apply("notoken", `${hubOrigin}/v1/runtimes/signingRequests/info`);
  t.match(
    (await agent.kube.certificateRequests.get("notoken"))?.status?.error,
    /carries no token \(hub: Token not provided\.\)/,
  );
  agent.hub.failNext("info", refused(404, "Route GET:/nope not found"));
  await agent.apply("wrongpath", `${hubOrigin}/nope?token=x`);
  t.match(
    (await agent.kube.certificateRequests.get("wrongpath"))?.status?.error,
    /is spec\.csrInfoUrl a tether token URL/,
  );
  agent.hub.failNext("issue", refused(400, "CSR: Invalid common name provided."));
  await agent.apply("badcsr", agent.hub.tokenUrl());
  t.match(
    (await agent.kube.certificateRequests.get("badcsr"))?.status?.error,
    "the hub refused the certificate signing request (hub: CSR: Invalid common name provided.)",
  );
});

t.test("transient failures are retried with backoff without spending the info token twice", async (t) => {
  const agent = await startAgent();
  t.teardown(() => agent.stop());
  agent.hub.failNext("issue", unreachable(), refused(503, "unavailable"));
  await agent.apply("c1", agent.hub.tokenUrl());
  let request = await agent.kube.certificateRequests.get("c1");
  t.match(request?.status?.error, /could not reach the hub.*ECONNREFUSED.*\(attempt 1; retrying in 1s\)/);
  await agent.advance(1_000);
  request = await agent.kube.certificateRequests.get("c1");
  t.match(request?.status?.error, /503.*\(attempt 2; retrying in 2s\)/);
  await agent.advance(2_000);
  t.equal(await agent.kube.certificateRequests.get("c1"), undefined, "done on the third try");
  t.same(
    agent.hub.calls.filter((c) => c !== "management" && c !== "trust"),
    ["info", "issue", "issue", "issue"],
  );
  t.same(
    agent.eventReasons("c1").filter((r) => r.startsWith("CertificateRequest")),
    ["CertificateRequest/IssueFailed", "CertificateRequest/IssueFailed", "CertificateRequest/Issued"],
  );
});

t.test("transient failures stop once no token can still be alive", async (t) => {
  const agent = await startAgent({ backoff: { baseMs: 1_000, capMs: 3_600_000 } });
  t.teardown(() => agent.stop());
  agent.hub.down = unreachable();
  await agent.apply("c1", agent.hub.tokenUrl());
  for (let i = 0; i < 40; i++) await agent.advance(3_600_000);
  const error = (await agent.kube.certificateRequests.get("c1"))?.status?.error;
  t.match(error, /could not reach the hub/);
  t.notMatch(error, /retrying/, "gave up after the longest token lifetime");
});

t.test("Kubernetes trouble after issuance keeps the certificate and retries the writes", async (t) => {
  const agent = await startAgent();
  t.teardown(() => agent.stop());
  let failures = 2;
  agent.kube.intercept = (op) =>
    op === "secrets.create" && failures-- > 0
      ? new KubeError("etcdserver: request timed out", 500)
      : undefined;
  await agent.apply("c1", agent.hub.tokenUrl());
  t.match(
    (await agent.kube.certificateRequests.get("c1"))?.status?.error,
    /issued a certificate but it could not be stored: etcdserver/,
  );
  await agent.advance(1_000);
  await agent.advance(2_000);
  t.equal(await agent.kube.certificateRequests.get("c1"), undefined);
  t.equal(agent.hub.issued.length, 1, "issued once");
  t.ok(await agent.secret("c1"));
});

t.test("an existing Secret: replaced when tether manages it (after a 409), refused when not", async (t) => {
  const agent = await startAgent();
  t.teardown(() => agent.stop());
  await agent.kube.secrets.create({
    metadata: {
      name: "c1-hub-credentials",
      namespace,
      labels: { "app.kubernetes.io/managed-by": "tether-spoke" },
    },
    data: { stale: "eA==" },
  });
  let conflicts = 1;
  agent.kube.intercept = (op) =>
    op === "secrets.replace" && conflicts-- > 0 ? new ConflictError("modified") : undefined;
  await agent.apply("c1", agent.hub.tokenUrl());
  t.equal(await agent.kube.certificateRequests.get("c1"), undefined);
  t.same(Object.keys((await agent.secret("c1"))?.data ?? {}).sort(), [
    "ca.crt",
    "kubeconfig",
    "tls.crt",
    "tls.key",
  ]);

  await agent.kube.secrets.create({
    metadata: { name: "c2-hub-credentials", namespace },
    data: { mine: "eA==" },
  });
  await agent.apply("c2", agent.hub.tokenUrl());
  t.match((await agent.kube.certificateRequests.get("c2"))?.status?.error, /is not managed by tether-spoke/);
  t.same(Object.keys((await agent.secret("c2"))?.data ?? {}), ["mine"], "someone else's Secret untouched");
});

t.test("enrolling again updates the existing connection and keeps its renewal settings", async (t) => {
  const agent = await startAgent();
  t.teardown(() => agent.stop());
  await agent.apply("c1", agent.hub.tokenUrl("cluster-1"));
  const first = await agent.connection("c1");
  first.spec.renewal = { enabled: true, renewAfterFraction: 0.5, renewIntervalDays: 7 };
  await agent.kube.centralConnections.update(first);
  await agent.advance(60_000);
  await agent.apply("c1", agent.hub.tokenUrl("cluster-1"));
  const second = await agent.connection("c1");
  t.same(second.spec.renewal, { enabled: true, renewAfterFraction: 0.5, renewIntervalDays: 7 });
  t.not(second.spec.establishedAt, first.spec.establishedAt);
  t.equal(
    second.status?.certificateStatus?.serialNumber,
    agent.hub.issued[1]?.serial,
    "status follows the new certificate",
  );
});
