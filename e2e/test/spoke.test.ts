/**
 * The spoke against a real control plane and a real hub process, as an operator meets it: the agent
 * runs as its service account with exactly the RBAC of packages/spoke/test/fixtures/rbac.yaml.
 * Prints the apply→Ready time and the idle agent's resident memory.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import t from "tap";
import { certificateInfo } from "@tether/shared/pki";
import { systemClock } from "@tether/shared/time";
import { CertificateRequestController } from "../../packages/spoke/src/controllers/certificate-request.ts";
import { ConnectionController } from "../../packages/spoke/src/controllers/connection/controller.ts";
import { createSpokeMetrics } from "../../packages/spoke/src/health/metrics.ts";
import { createHttpHubClient } from "../../packages/spoke/src/hub-client/http.ts";
import type { KubePort } from "../../packages/spoke/src/kube/port.ts";
import type { CentralConnection } from "../../packages/spoke/src/kube/types.ts";
import { kubeEventRecorder } from "../../packages/spoke/src/runtime/events.ts";
import { createLogger } from "../../packages/spoke/src/serve.ts";
import {
  certificateRequest,
  cluster,
  decode,
  eventually,
  namespace,
  readyCondition,
  startHub,
  startSpoke,
} from "./spoke-helpers.ts";

const run = promisify(execFile);
const c = await cluster(t);
const hub = await startHub(t);
// Made now and applied last: a token that expired more than the hub's 60 s leeway ago.
const expiringTokenUrl = await hub.tokenUrl({ ttl: "1s" });
const expiringSince = Date.now();
const spoke = await startSpoke(t, {
  kubeconfig: c.agentKubeconfig,
  hub,
  identity: "spoke-e2e",
  args: ["--sync-period", "3s"],
  uninstrumented: true,
});

const secretName = "c1-hub-credentials";
const connection = async () => (await c.kube.centralConnections.get("c1")) as CentralConnection;
const leafInSecret = async () => {
  const secret = await c.kube.secrets.get(namespace, secretName);
  return secret?.data?.["tls.crt"] ? certificateInfo(decode(secret.data["tls.crt"])) : undefined;
};
const waitFor = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000) =>
  eventually(what, probe, timeoutMs, spoke.process);
const patchSpec = (spec: object) =>
  c.plane.kubectl(["patch", "centralconnection", "c1", "--type", "merge", "-p", JSON.stringify({ spec })]);
let tokenUrlOfC1 = "";

t.test(
  "apply a CertificateRequest: Ready connection, matching Secret, curl reads management info",
  async (t) => {
    tokenUrlOfC1 = await hub.tokenUrl();
    const started = performance.now();
    await c.plane.apply(certificateRequest("c1", tokenUrlOfC1, hub.caPem));
    const ready = await waitFor("c1 Ready", async () => {
      const found = await c.kube.centralConnections.get("c1");
      return readyCondition(found)?.status === "True" ? found : undefined;
    });
    const elapsed = performance.now() - started;
    console.log(`# apply → Ready: ${Math.round(elapsed)} ms`);
    t.ok(elapsed < 30_000, "Ready within 30 s");
    t.equal(await c.kube.certificateRequests.get("c1"), undefined, "request deleted");

    const secret = await c.kube.secrets.get(namespace, secretName);
    t.equal(secret?.type, "kubernetes.io/tls");
    t.same(Object.keys(secret?.data ?? {}).sort(), ["ca.crt", "kubeconfig", "tls.crt", "tls.key"]);
    const leaf = certificateInfo(decode(secret?.data?.["tls.crt"]));
    t.match(ready.status?.certificateStatus, {
      serialNumber: leaf.serial,
      sha256: leaf.sha256,
      notBefore: leaf.notBefore.toISOString(),
      notAfter: leaf.notAfter.toISOString(),
    });
    t.ok(ready.status?.certificateStatus?.renewalTime, "renewal time reported");

    const dir = await mkdtemp(join(tmpdir(), "tether-spoke-e2e-creds-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    for (const key of ["tls.crt", "tls.key", "ca.crt"])
      await writeFile(join(dir, key), decode(secret?.data?.[key]));
    const { stdout } = await run("curl", [
      ...["-sS", "--fail-with-body", "--max-time", "10"],
      ...["--cert", join(dir, "tls.crt"), "--key", join(dir, "tls.key"), "--cacert", join(dir, "ca.crt")],
      `${hub.publicUrl}/v1/runtimes/management/info`,
    ]);
    const info = JSON.parse(stdout) as { clientIdentity: { runtimeId: string; tenant: string } };
    t.equal(info.clientIdentity.runtimeId, leaf.subject.CN, "the hub knows the Secret's certificate");
    t.equal(info.clientIdentity.tenant, "e2e");

    const events = await c.plane.kubectl(["get", "events", "-n", "default", "-o", "json"]);
    const reasons = (
      JSON.parse(events.stdout) as {
        items: { reason: string; involvedObject: { kind: string; name: string } }[];
      }
    ).items
      .filter((e) => e.involvedObject.name === "c1")
      .map((e) => `${e.involvedObject.kind}/${e.reason}`);
    t.ok(
      reasons.includes("CertificateRequest/Issued") && reasons.includes("CentralConnection/Issued"),
      "Issued Events",
    );

    await new Promise((resolve) => setTimeout(resolve, 10_000));
    const metrics = await (await fetch(spoke.metricsUrl)).text();
    const heapMiB = Number(/^nodejs_heap_size_used_bytes (\d+)/m.exec(metrics)?.[1]) / 1048576;
    console.log(
      `# idle agent with one connection (10 s after Ready): resident memory ${Math.round((await spoke.rssKiB()) / 1024)} MiB, V8 heap used ${Math.round(heapMiB)} MiB`,
    );
    t.match(metrics, 'tether_spoke_certificate_ready_status{connection="c1"} 1');
    t.match(metrics, /tether_spoke_sync_total\{connection="c1",result="success"\} \d+/);
  },
);

t.test("renewNow gives a new serial and resets the flag", async (t) => {
  const before = (await leafInSecret())!.serial;
  await patchSpec({ renewNow: true });
  const after = await waitFor("a renewed certificate", async () => {
    const cc = await connection();
    const leaf = await leafInSecret();
    return cc.spec.renewNow === false &&
      leaf &&
      leaf.serial !== before &&
      cc.status?.certificateStatus?.serialNumber === leaf.serial
      ? leaf
      : undefined;
  });
  t.not(after.serial, before);
});

t.test("hub down during renewal: old credentials and an error, then renewal when it is back", async (t) => {
  const before = await c.kube.secrets.get(namespace, secretName);
  const serial = (await leafInSecret())!.serial;
  await hub.stop();
  await patchSpec({ renewNow: true });
  const failing = await waitFor("the error in status", async () => {
    const cc = await connection();
    return (cc.status?.failedAttempts ?? 0) >= 1 && cc.status?.error ? cc : undefined;
  });
  t.match(failing.status?.error?.message, /could not reach the hub/);
  t.match(readyCondition(failing), { status: "False", reason: "HubUnreachable" });
  t.equal(failing.status?.certificateStatus?.serialNumber, serial, "certificateStatus kept");
  t.equal(
    (await c.kube.secrets.get(namespace, secretName))?.metadata?.resourceVersion,
    before?.metadata?.resourceVersion,
    "Secret untouched",
  );
  await hub.start();
  const renewed = await waitFor(
    "renewal after the hub is back",
    async () => {
      const cc = await connection();
      return cc.spec.renewNow === false &&
        cc.status?.error === undefined &&
        readyCondition(cc)?.status === "True"
        ? cc
        : undefined;
    },
    90_000,
  );
  t.not(renewed.status?.certificateStatus?.serialNumber, serial);
  t.equal(renewed.status?.failedAttempts, 0);
});

t.test("a deleted Secret comes back", async (t) => {
  const serial = (await leafInSecret())!.serial;
  t.ok(await c.kube.secrets.delete(namespace, secretName));
  const back = await waitFor("the Secret again", leafInSecret);
  t.not(back.serial, serial, "recreated by a renewal");
  await waitFor("Ready with the new certificate", async () => {
    const cc = await connection();
    return readyCondition(cc)?.status === "True" && cc.status?.certificateStatus?.serialNumber === back.serial
      ? true
      : undefined;
  });
});

t.test("a used, a garbage and an expired token URL each leave a clear status.error", async (t) => {
  const error = (name: string, pattern: RegExp) =>
    waitFor(`status.error of ${name}`, async () => {
      const message = (await c.kube.certificateRequests.get(name))?.status?.error;
      return message !== undefined && pattern.test(message) ? message : undefined;
    });
  await c.plane.apply(certificateRequest("used", tokenUrlOfC1, hub.caPem));
  t.match(await error("used", /refused the token/), /Invalid token\..*already used.*new CertificateRequest/);
  const garbage = `${hub.publicUrl}/v1/runtimes/signingRequests/info?token=not-a-token`;
  await c.plane.apply(certificateRequest("garbage", garbage, hub.caPem));
  t.match(await error("garbage", /refused the token/), /Invalid token\./);
  await c.plane.apply(
    certificateRequest("nohub", "https://hub.invalid/v1/runtimes/signingRequests/info?token=x"),
  );
  t.match(await error("nohub", /could not reach the hub/), /retrying/, "a network failure is retried");
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiringSince + 63_000 - Date.now())));
  await c.plane.apply(certificateRequest("expired", expiringTokenUrl, hub.caPem));
  t.match(await error("expired", /refused the token/), /expired/);
  for (const name of ["used", "garbage", "expired"])
    t.ok(await c.kube.certificateRequests.get(name), `${name} kept`);
});

t.test("a certificate revoked on the hub shows as an error with the hub's message", async (t) => {
  const leaf = (await leafInSecret())!;
  await hub.admin("POST", "/v1/runtimes/certificates/revocations", { hash: leaf.sha256 });
  const revoked = await waitFor("Ready=False Revoked", async () => {
    const cc = await connection();
    return readyCondition(cc)?.reason === "Revoked" ? cc : undefined;
  });
  t.match(revoked.status?.error?.message, "Certificate has been revoked.");
  const events = await c.plane.kubectl(["get", "events", "-n", "default", "-o", "json"]);
  const reasons = (JSON.parse(events.stdout) as { items: { reason: string }[] }).items.map((e) => e.reason);
  t.ok(reasons.includes("Renewed") && reasons.includes("Revoked"), "Renewed and Revoked Events");
  t.match(readyCondition(revoked), { status: "False" });
  const metrics = await (await fetch(spoke.metricsUrl)).text();
  t.match(metrics, 'tether_spoke_certificate_ready_status{connection="c1"} 0');
});

t.test("SIGTERM stops the agent cleanly", async (t) => {
  const status = await spoke.process.stop({ timeoutMs: 15_000 });
  t.same(status, { code: 0, signal: null });
  t.match(spoke.process.logs(), /released the lease/);
});

t.test("against the API server, a reconcile that changes nothing writes no status", async (t) => {
  // The controllers in this process: the agent above has stopped, and a reconcile can be called.
  let statusWrites = 0;
  const connections = c.kube.centralConnections;
  const kube: KubePort = {
    certificateRequests: c.kube.certificateRequests,
    centralConnections: {
      get: (name) => connections.get(name),
      list: () => connections.list(),
      watch: (handler) => connections.watch(handler),
      create: (object) => connections.create(object),
      update: (object) => connections.update(object),
      updateStatus: (object) => {
        if (object.metadata.name === "c2") statusWrites++;
        return connections.updateStatus(object);
      },
      delete: (name) => connections.delete(name),
    },
    secrets: c.kube.secrets,
    events: c.kube.events,
    leases: c.kube.leases,
    workloads: c.kube.workloads,
  };
  const logger = createLogger("silent");
  const events = kubeEventRecorder({ kube, clock: systemClock, logger, instance: "e2e" });
  const shared = { kube, hub: createHttpHubClient(), clock: systemClock, logger, events, namespace };
  const requests = new CertificateRequestController(shared);
  // No periodic sync during the test: only the reconcile it asks for.
  const controller = new ConnectionController({
    ...shared,
    metrics: createSpokeMetrics(),
    syncPeriodMs: 3_600_000,
  });
  requests.start();
  controller.start();
  t.teardown(async () => {
    await requests.stop();
    await controller.stop();
  });
  await c.plane.apply(certificateRequest("c2", await hub.tokenUrl(), hub.caPem));
  await eventually("c2 Ready", async () =>
    readyCondition(await connections.get("c2"))?.status === "True" ? true : undefined,
  );
  await controller.idle();
  t.ok(statusWrites > 0, "the controller wrote c2's status");

  // A label changes metadata, not status; the API server answers status with its keys sorted.
  await c.plane.kubectl(["label", "centralconnection", "c2", "tether.dev/e2e=unchanged-status"]);
  const labelled = (await connections.get("c2"))!;
  const writes = statusWrites;
  await controller.reconcile("c2");
  await controller.idle();
  const after = (await connections.get("c2"))!;
  t.equal(after.metadata.labels?.["tether.dev/e2e"], "unchanged-status");
  t.equal(
    after.metadata.resourceVersion,
    labelled.metadata.resourceVersion,
    "resourceVersion as the label left it",
  );
  t.equal(statusWrites, writes, "no status write");
  t.same(after.status, labelled.status);
});
