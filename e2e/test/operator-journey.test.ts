/**
 * The operator's journey (issue "[ship]"): a real control plane, a hub and a spoke process, and then
 * only what a person at a shell does and sees — kubectl, curl and openssl. Enrol a cluster with a
 * token URL, use the issued credential, renew it on demand, revoke it on the hub and watch the
 * cluster say so, then re-enrol the same runtime. Each step prints how long it took.
 */
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import type { ControlPlane } from "@tether/e2e/harness";
import type { CertificateFields, CredentialFiles } from "./journey/operator.ts";
import {
  adminHeaderFile,
  certificateFields,
  createTokenUrl,
  curl,
  extractCredentials,
  jsonpath,
  normaliseSerial,
  verifies,
} from "./journey/operator.ts";
import { cluster, eventually, startHub, startSpoke } from "./spoke-helpers.ts";

const seconds = (since: number) => `${((performance.now() - since) / 1000).toFixed(1)} s`;

const startUp = performance.now();
const c = await cluster(t);
// The programs the images ship (the bundles), as an operator would run them.
const hub = await startHub(t, "bundle");
// A short sync period: the revocation shows on the connection within seconds, not a minute.
const spoke = await startSpoke(t, {
  kubeconfig: c.agentKubeconfig,
  hub,
  identity: "spoke-journey",
  build: "bundle",
  // The Node options of Dockerfile.spoke and the chart: the interpreter only, no WebAssembly.
  nodeArgs: ["--max-semi-space-size=1", "--jitless"],
  args: ["--sync-period", "2s"],
});
t.comment(`start-up (control plane, CRDs, RBAC, hub, spoke): ${seconds(startUp)}`);
const kubectl: ControlPlane["kubectl"] = (args, options) => c.plane.kubectl(args, options);
const dir = await mkdtemp(join(tmpdir(), "tether-journey-"));
t.teardown(() => rm(dir, { recursive: true, force: true }));
const adminHeader = await adminHeaderFile(hub, dir);

const name = "journey";
const connection = ["centralconnection", name];
const managementInfo = `${hub.publicUrl}/v1/runtimes/management/info`;

/** A CertificateRequest as `tether-hub token create -o yaml` prints it: caBundle for the private CA. */
const certificateRequestYaml = (csrInfoUrl: string) => `apiVersion: tether.dev/v1alpha1
kind: CertificateRequest
metadata:
  name: ${name}
spec:
  csrInfoUrl: ${JSON.stringify(csrInfoUrl)}
  caBundle: ${Buffer.from(hub.caPem).toString("base64")}
`;

/** curl with the client certificate, trusting the hub's serving CA. */
const curlAs = (files: CredentialFiles, url = managementInfo) =>
  curl(["--cert", files.cert, "--key", files.key, "--cacert", hub.caFile, url]);

/** `kubectl wait --for=<what> <resource> --timeout=<limit>s`; its own output says what it saw. */
const kubectlWait = async (what: string, resource: string, limit: number) =>
  (
    await kubectl(["wait", `--for=${what}`, resource, `--timeout=${limit}s`], {
      timeoutMs: (limit + 10) * 1000,
    })
  ).stdout;

const waitFor = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 45_000) =>
  eventually(what, probe, timeoutMs, spoke.process);

/**
 * The messages of the connection's Events of one type and reason. Events about cluster-scoped objects
 * live in "default" (see packages/spoke/src/runtime/events.ts); they are written best effort, a
 * moment after the status, so this waits for one.
 */
const connectionEvent = (type: "Normal" | "Warning", reason: string) =>
  waitFor(`a ${type} Event ${reason} on the connection`, async () => {
    const events = await kubectl([
      ...["get", "events", "-n", "default", "--field-selector"],
      `involvedObject.kind=CentralConnection,involvedObject.name=${name},type=${type},reason=${reason}`,
      ...["-o", "jsonpath={.items[*].message}"],
    ]);
    return events.stdout === "" ? undefined : events.stdout;
  });

let credentialsTaken = 0;
/** The Secret's credential as of now, in a directory of its own so that older ones stay usable. */
async function takeCredentials(): Promise<{ files: CredentialFiles; leaf: CertificateFields }> {
  const into = join(dir, `credentials-${++credentialsTaken}`);
  await mkdir(into, { mode: 0o700 });
  const files = await extractCredentials(c.plane, name, into);
  return { files, leaf: await certificateFields(files.cert) };
}

const statusSerial = async () =>
  normaliseSerial(await jsonpath(c.plane, connection, ".status.certificateStatus.serialNumber"));

let broken = false;
/** One step of the journey; once a step fails the later ones only say so, as they build on it. */
function step(title: string, fn: (t: Test) => Promise<void>): void {
  t.test(title, async (t) => {
    if (broken) return t.plan(0, "an earlier step failed");
    const started = performance.now();
    try {
      await fn(t);
    } catch (error) {
      // A thrown error is recorded only after the callback returns, too late for t.passing().
      broken = true;
      throw error;
    } finally {
      if (!t.passing()) broken = true;
      t.comment(`${title}: ${seconds(started)}`);
    }
  });
}

let tokenUrl = "";
let first: { files: CredentialFiles; leaf: CertificateFields };
let renewed: { files: CredentialFiles; leaf: CertificateFields };

step("1. the admin gets a token URL from the hub's internal API with curl", async (t) => {
  const refused = await curl([
    "-X",
    "POST",
    "-H",
    "Tenant: journey",
    "-H",
    "Group: operators",
    `${hub.internalUrl}/v1/runtimes/tokens`,
  ]);
  t.equal(refused.status, 401, "no admin token, no token URL");
  tokenUrl = await createTokenUrl(hub, adminHeader);
  t.match(tokenUrl, `${hub.publicUrl}/v1/runtimes/signingRequests/info?token=`, "a token URL");
});

step("2. kubectl apply a CertificateRequest with the token URL", async (t) => {
  const applied = await kubectl(["apply", "-f", "-"], { input: certificateRequestYaml(tokenUrl) });
  t.match(applied.stdout, `certificaterequest.tether.dev/${name} created`, "kubectl says created");
});

step("3. kubectl wait: the CentralConnection is Ready and the request is gone", async (t) => {
  await kubectlWait("create", `centralconnection/${name}`, 60);
  const waited = await kubectlWait("condition=Ready", `centralconnection/${name}`, 60);
  t.match(waited, `centralconnection.tether.dev/${name} condition met`, "Ready within 60 s");
  const listed = await kubectl(["get", "centralconnections"]);
  t.match(listed.stdout, /^NAME\s+READY\s+NOTAFTER\s+LASTSUCCESS\s+AGE$/m, "the printer columns");
  t.match(listed.stdout, new RegExp(`^${name}\\s+True\\s+\\S+\\s+\\S+\\s+\\S+$`, "m"), "READY True");
  // The spoke deletes the request right after it has written the connection; wait for that.
  await kubectlWait("delete", `certificaterequests.tether.dev/${name}`, 30);
  const gone = await kubectl(["get", `certificaterequests.tether.dev/${name}`], { allowFailure: true });
  t.match(gone.stderr, "NotFound", "the CertificateRequest is gone");
});

step("4. the Secret's credential works with curl against the hub", async (t) => {
  first = await takeCredentials();
  t.equal((await stat(first.files.key)).mode & 0o777, 0o600, "tls.key written 0600");
  t.equal(first.leaf.serial, await statusSerial(), "status.certificateStatus names the Secret's certificate");
  t.equal(
    (await certificateFields(first.files.ca)).sha256,
    (await certificateFields(hub.caFile)).sha256,
    "ca.crt is the hub's CA",
  );
  t.ok(await verifies(first.files.ca, first.files.cert), "openssl verify -CAfile ca.crt tls.crt: OK");
  const answer = await curlAs(first.files);
  t.equal(answer.status, 200, "management info answers 200", { body: answer.body });
  const info = JSON.parse(answer.body) as {
    clientIdentity: { runtimeId: string; tenant: string; group: string };
  };
  t.equal(info.clientIdentity.runtimeId, first.leaf.commonName, "the hub knows the certificate's CN");
  t.match(info.clientIdentity, { tenant: "journey", group: "operators" }, "tenant and group of the token");
});

step("5. renewNow: a new serial, the flag reset, the new cert in the Secret and accepted", async (t) => {
  await kubectl(["patch", ...connection, "--type", "merge", "-p", '{"spec":{"renewNow":true}}']);
  const serial = await waitFor("a new serial in status", async () => {
    const now = await statusSerial();
    return now !== first.leaf.serial && now !== "" ? now : undefined;
  });
  await waitFor("spec.renewNow back to false", async () =>
    (await jsonpath(c.plane, connection, ".spec.renewNow")) === "false" ? true : undefined,
  );
  renewed = await takeCredentials();
  t.equal(renewed.leaf.serial, serial, "the Secret holds the certificate status names");
  t.equal(renewed.leaf.commonName, first.leaf.commonName, "same runtime");
  t.equal((await curlAs(renewed.files)).status, 200, "the new certificate is accepted");
  t.match(
    await connectionEvent("Normal", "Renewed"),
    renewed.leaf.serial,
    "a Renewed Event names the serial",
  );
  // docs/pki.md#the-issued-certificate: renewal does not revoke the old certificate; it stays valid until it expires.
  t.equal((await curlAs(first.files)).status, 200, "the old certificate too");
});

step("6. revoked on the hub: curl gets 403 and the connection reports Revoked", async (t) => {
  const statusSha = await jsonpath(c.plane, connection, ".status.certificateStatus.sha256");
  t.equal(statusSha, renewed.leaf.sha256, "status.certificateStatus.sha256 is the DER hash openssl prints");
  const revoked = await curl([
    ...["-X", "POST", "-H", `@${adminHeader}`, "-H", "Content-Type: application/json"],
    ...[
      "-d",
      JSON.stringify({ hash: renewed.leaf.sha256 }),
      `${hub.internalUrl}/v1/runtimes/certificates/revocations`,
    ],
  ]);
  t.equal(revoked.status, 201, "the internal API revokes by hash", { body: revoked.body });
  const refused = await curlAs(renewed.files);
  t.equal(refused.status, 403, "curl with the revoked certificate is refused");
  t.same(
    JSON.parse(refused.body),
    { code: 403, error: "Certificate has been revoked." },
    "with the Kyma message",
  );

  const waited = await kubectlWait("condition=Ready=false", `centralconnection/${name}`, 30);
  t.match(waited, "condition met", "Ready=False within 30 s");
  const reason = await jsonpath(c.plane, connection, '.status.conditions[?(@.type=="Ready")].reason');
  t.equal(reason, "Revoked", "Ready=False with reason Revoked");
  t.match(
    await jsonpath(c.plane, connection, ".status.error.message"),
    "Certificate has been revoked.",
    "status.error.message carries the hub's message",
  );
  t.equal(
    await jsonpath(c.plane, connection, ".status.certificateStatus.sha256"),
    renewed.leaf.sha256,
    "certificateStatus kept",
  );
  t.match(
    await connectionEvent("Warning", "Revoked"),
    "Certificate has been revoked.",
    "a Warning Event Revoked says so",
  );
});

step("7. a new token URL re-enrols the same runtime: Ready again with a new certificate", async (t) => {
  const again = await createTokenUrl(hub, adminHeader, first.leaf.commonName);
  await kubectl(["apply", "-f", "-"], { input: certificateRequestYaml(again) });
  await waitFor("a new serial in status", async () => {
    const now = await statusSerial();
    return now !== renewed.leaf.serial && now !== "" ? now : undefined;
  });
  t.match(await kubectlWait("condition=Ready", `centralconnection/${name}`, 60), "condition met", "Ready");
  await kubectlWait("delete", `certificaterequests.tether.dev/${name}`, 30);
  const enrolled = await takeCredentials();
  t.equal(enrolled.leaf.serial, await statusSerial(), "the Secret holds the new certificate");
  t.not(enrolled.leaf.serial, renewed.leaf.serial, "not the revoked one");
  t.equal(enrolled.leaf.commonName, first.leaf.commonName, "the same runtime id");
  const answer = await curlAs(enrolled.files);
  t.equal(answer.status, 200, "management info answers 200", { body: answer.body });
  t.match(
    JSON.parse(answer.body),
    { clientIdentity: { runtimeId: first.leaf.commonName } },
    "as the same runtime",
  );
  t.equal(await jsonpath(c.plane, connection, ".status.error.message"), "", "the error is cleared");
});
