/**
 * CA rotation through the connection controller on the fakes (docs/renewal.md#ca-rotation): the trust
 * update as one Secret write, the IssuerRotated renewal inside the window, the
 * CertificateAuthorityRotating transitions and their Events, the issuer metric, a hub without the
 * trust route, and a certificate of a retired CA (token-joined and bootstrap-joined).
 */
import t from "tap";
import type { V1Secret } from "@kubernetes/client-node";
import { parseKubeconfig } from "@tether/shared/kubeconfig";
import { certificateInfo, splitPemBundle } from "@tether/shared/pki";
import { parseConfig } from "../src/config.ts";
import { buildAgent } from "../src/agent.ts";
import { pemFingerprints } from "../src/credential/secret.ts";
import type { CentralConnection, Condition } from "../src/kube/types.ts";
import { FakeClock } from "@tether/shared/time";
import { FakeKube } from "../src/kube/fake.ts";
import { pino } from "pino";
import { buildBootstrapKubeconfig } from "@tether/shared/kubeconfig";
import { decode, namespace, startAgent } from "./support/agent.ts";
import { FakeHub, hubOrigin, unreachable } from "./support/fake-hub.ts";

const MINUTE = 60_000;
const condition = (c: CentralConnection, type: Condition["type"]) =>
  c.status?.conditions?.find((x) => x.type === type);

/** An enrolled connection whose kubeconfig trusts the hub's own CA (a hub-issued serving certificate). */
async function enrolled(options: { window?: number } = {}) {
  const agent = await startAgent();
  agent.hub.publicServing = false;
  agent.hub.renewalWindowSeconds = options.window ?? 3600;
  const caBundle = Buffer.from(agent.hub.ca.certPem).toString("base64");
  await agent.apply("c1", agent.hub.tokenUrl("cluster-1"), caBundle);
  const writes: V1Secret[] = [];
  const watcher = agent.kube.secrets.watch(
    namespace,
    "app.kubernetes.io/managed-by=tether-spoke",
    (event) => {
      if (event.type !== "DELETED") writes.push(event.object);
    },
  );
  await agent.settle();
  writes.length = 0;
  const readyHistory: string[] = [];
  const look = async () => {
    const connection = await agent.connection("c1");
    readyHistory.push(`${condition(connection, "Ready")?.status}/${condition(connection, "Ready")?.reason}`);
    return connection;
  };
  const secretView = async () => {
    const secret = await agent.secret("c1");
    const chain = splitPemBundle(decode(secret?.data?.["tls.crt"]));
    return {
      leaf: certificateInfo(chain[0]!),
      issuer: pemFingerprints(chain[1])[0],
      trust: pemFingerprints(decode(secret?.data?.["ca.crt"])),
      serverCa: pemFingerprints(parseKubeconfig(decode(secret?.data?.kubeconfig)).caPem),
    };
  };
  const stop = async () => {
    watcher.stop();
    await agent.stop();
  };
  return { agent, writes, look, readyHistory, secretView, stop };
}

t.test(
  "rotate → activate → retire: one trust write each, a renewal inside the window, never unready",
  async (t) => {
    const w = await enrolled();
    t.teardown(w.stop);
    const { agent } = w;
    const oldCa = agent.hub.ca.sha256;
    let connection = await w.look();
    t.match(condition(connection, "CertificateAuthorityRotating"), { status: "False", reason: "NoRotation" });
    t.match(connection.status?.trustBundle, { phase: "stable", activeSha256: oldCa });
    t.equal(connection.status?.certificateStatus?.issuerSha256, oldCa, "status names the issuer");
    t.match(
      await agent.metrics.registry.metrics(),
      `tether_spoke_certificate_issuer{connection="c1",issuer_sha256="${oldCa}"} 1`,
    );
    t.equal(w.writes.length, 0, "a stable hub: no trust write");

    const newCa = await agent.hub.rotate();
    await agent.advance(MINUTE);
    t.equal(w.writes.length, 1, "one Secret write for the trust");
    let view = await w.secretView();
    t.same(view.trust.sort(), [oldCa, newCa].sort(), "ca.crt holds the next CA");
    t.same(view.serverCa.sort(), [oldCa, newCa].sort(), "and the kubeconfig's CA, in the same write");
    t.equal(view.issuer, oldCa, "the certificate is not renewed before activation");
    connection = await w.look();
    t.match(condition(connection, "CertificateAuthorityRotating"), {
      status: "False",
      reason: "NextCaTrusted",
    });
    t.match(agent.kube.recordedEvents.at(-1), {
      reason: "TrustUpdated",
      message: /phase prepared, 2 CAs.*ca\.crt and certificate-authority-data/,
    });
    await agent.advance(MINUTE);
    t.equal(w.writes.length, 1, "the next sync finds nothing to write");

    agent.hub.activate();
    const issuedBefore = agent.hub.issued.length;
    await agent.advance(MINUTE);
    const seenAt = agent.clock.now();
    connection = await w.look();
    t.match(connection.status?.trustBundle, {
      phase: "activated",
      activeSha256: newCa,
      activeSince: seenAt.toISOString(),
    });
    const rotating = condition(connection, "CertificateAuthorityRotating");
    t.match(rotating, { status: "True", reason: "RenewalScheduled" });
    const renewalTime = new Date(connection.status!.certificateStatus!.renewalTime!);
    t.ok(
      renewalTime >= seenAt && renewalTime < new Date(seenAt.getTime() + 3600_000),
      `the renewal lies inside the hour's window (${renewalTime.toISOString()})`,
    );
    t.match(rotating?.message, renewalTime.toISOString());
    t.ok(agent.eventReasons("c1").includes("CentralConnection/RotationRenewalScheduled"));
    t.equal(agent.hub.issued.length, issuedBefore, "not renewed at once");

    await agent.clock.advance(renewalTime.getTime() - agent.clock.now().getTime() - 1);
    await agent.settle();
    t.equal(agent.hub.issued.length, issuedBefore, "not a millisecond early");
    const writesBefore = w.writes.length;
    await agent.advance(1);
    t.equal(agent.hub.issued.length, issuedBefore + 1, "renewed at its moment");
    t.equal(w.writes.length, writesBefore + 1, "one Secret write for the renewal");
    view = await w.secretView();
    t.equal(view.issuer, newCa, "tls.crt chains to the new CA");
    t.same(view.trust.sort(), [oldCa, newCa].sort(), "the renewal keeps the trust of both CAs");
    t.match(
      agent.kube.recordedEvents.find((e) => e.reason === "Renewed" && /IssuerRotated/.test(e.message ?? "")),
      {
        message: /IssuerRotated: the certificate was issued by CA/,
      },
    );
    connection = await w.look();
    t.match(condition(connection, "CertificateAuthorityRotating"), {
      status: "False",
      reason: "RotationComplete",
    });
    t.ok(agent.eventReasons("c1").includes("CentralConnection/RotationComplete"));
    const metrics = await agent.metrics.registry.metrics();
    t.match(metrics, `tether_spoke_certificate_issuer{connection="c1",issuer_sha256="${newCa}"} 1`);
    t.notMatch(metrics, `issuer_sha256="${oldCa}"`, "the old issuer's series is gone");

    agent.hub.retire();
    await agent.advance(MINUTE);
    view = await w.secretView();
    t.same(view.trust, [newCa], "the retired CA leaves ca.crt");
    t.same(view.serverCa, [newCa], "and the kubeconfig");
    connection = await w.look();
    t.match(condition(connection, "CertificateAuthorityRotating"), { status: "False", reason: "NoRotation" });
    t.same([...new Set(w.readyHistory)], ["True/Connected"], "Ready never left True");
    t.equal(connection.status?.failedAttempts, 0);
    t.notMatch(metrics, 'result="failure"', "no failed sync");
    t.same(
      agent.kube.recordedEvents
        .filter((e) => e.involvedObject.name === "c1" && e.involvedObject.kind === "CentralConnection")
        .map((e) => e.reason),
      ["Issued", "TrustUpdated", "RotationRenewalScheduled", "Renewed", "RotationComplete", "TrustUpdated"],
      "an Event at each step",
    );
  },
);

t.test("a window of 0 renews at the first sync after activation", async (t) => {
  const w = await enrolled({ window: 0 });
  t.teardown(w.stop);
  await w.agent.hub.rotate();
  await w.agent.advance(MINUTE);
  w.agent.hub.activate();
  await w.agent.advance(MINUTE);
  t.equal((await w.secretView()).issuer, w.agent.hub.ca.sha256);
});

t.test("a hub without the trust route: nothing changes, no rotation", async (t) => {
  const agent = await startAgent();
  t.teardown(() => agent.stop());
  agent.hub.trustSupported = false;
  await agent.apply("c1", agent.hub.tokenUrl("cluster-1"));
  await agent.advance(MINUTE);
  const connection = await agent.connection("c1");
  t.match(condition(connection, "Ready"), { status: "True", reason: "Connected" });
  t.match(condition(connection, "CertificateAuthorityRotating"), {
    status: "False",
    reason: "NoRotation",
    message: /publishes no trust bundle/,
  });
  t.equal(connection.status?.trustBundle, undefined);
  t.equal(connection.status?.failedAttempts, 0);
});

t.test("offline past retirement, token-joined: Ready=False IssuerRetired, re-enrol, backs off", async (t) => {
  const w = await enrolled();
  t.teardown(w.stop);
  const { agent } = w;
  await agent.hub.rotate();
  await agent.advance(MINUTE);
  agent.hub.down = unreachable();
  agent.hub.activate();
  agent.hub.retire();
  await agent.advance(MINUTE);
  agent.hub.down = undefined;
  // The back-off of the outage ends; the next call meets the retired CA.
  await agent.advance(10 * MINUTE);
  const connection = await agent.connection("c1");
  t.match(condition(connection, "Ready"), {
    status: "False",
    reason: "IssuerRetired",
    message: /retired the CA.*apply a new CertificateRequest with a fresh token URL/,
  });
  t.match(connection.status?.synchronizationStatus?.failure, { reason: "IssuerRetired" });
  t.ok(agent.eventReasons("c1").includes("CentralConnection/IssuerRetired"), "an IssuerRetired Event");
  const calls = agent.hub.calls.length;
  const failed = connection.status!.failedAttempts!;
  const next = Date.parse(connection.status!.nextAttemptTime!);
  t.ok(next > agent.clock.now().getTime(), "the next attempt waits");
  await agent.advance(next - agent.clock.now().getTime() - 1);
  t.equal(agent.hub.calls.length, calls, "no call before the back-off ends");
  await agent.advance(1);
  t.equal((await agent.connection("c1")).status?.failedAttempts, failed + 1, "then one more, counted");
  t.equal(
    agent.kube.recordedEvents.filter((e) => e.reason === "IssuerRetired").length,
    1,
    "one Event, not one per attempt",
  );
});

t.test("offline past retirement, bootstrap-joined: the agent restarts and joins again", async (t) => {
  const clock = new FakeClock("2026-03-01T00:00:00Z");
  const kube = new FakeKube();
  const hub = await new FakeHub(clock).init();
  const logger = pino({ level: "silent" });
  const token = hub.bootstrapToken("edge-1");
  const file = buildBootstrapKubeconfig({ server: hubOrigin, caPem: hub.ca.certPem, token });
  // The hub serves with a certificate of its own CA: the bootstrap kubeconfig trusts only the old one.
  hub.publicServing = false;
  const config = parseConfig(
    [
      "--no-leader-elect",
      "--bootstrap-kubeconfig",
      "/b",
      "--cluster-name",
      "edge-1",
      "--cert-health-period",
      "10s",
    ],
    {},
  );
  const build = () =>
    buildAgent(config, {
      kube,
      hub,
      logger,
      namespace,
      identity: "test",
      clock,
      readBootstrapFile: async () => file,
    });
  const flush = async () => {
    for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  };
  const first = build();
  const running = first.run(new AbortController().signal);
  while (!hub.calls.includes("trust")) await flush();
  const oldCa = hub.ca.sha256;
  const secret = async () => kube.secrets.get(namespace, "hub-kubeconfig-secret");
  const issuerOf = async () =>
    pemFingerprints(splitPemBundle(decode((await secret())?.data?.["tls.crt"]))[1])[0];
  t.equal(await issuerOf(), oldCa);
  const newCa = await hub.rotate();
  while (
    !pemFingerprints(parseKubeconfig(decode((await secret())?.data?.kubeconfig)).caPem).includes(newCa)
  ) {
    await clock.advance(10_000);
    await flush();
  }

  hub.down = unreachable();
  hub.activate();
  hub.retire();
  await clock.advance(MINUTE);
  await flush();
  hub.down = undefined;
  let outcome: Awaited<typeof running> | undefined;
  void running.then((o) => (outcome = o));
  for (let i = 0; i < 60 && outcome === undefined; i++) {
    await clock.advance(10_000);
    await flush();
  }
  t.match(
    outcome,
    { restart: { reason: "IssuerRetired" } },
    "the health checker ends run() to bootstrap again",
  );
  const refused = await kube.centralConnections.get("edge-1");
  t.match(condition(refused!, "Ready"), {
    reason: "IssuerRetired",
    message: /joins again with its bootstrap kubeconfig/,
  });

  const second = build();
  t.match(await second.bootstrap!.controller.decide(), {
    verdict: { valid: false, reason: "IssuerRetired" },
  });
  const stop = new AbortController();
  const again = second.run(stop.signal);
  for (let i = 0; i < 100 && (await issuerOf()) === oldCa; i++) await flush();
  t.equal(await issuerOf(), hub.ca.sha256, "joined again: a certificate of the new CA");
  t.ok(
    pemFingerprints(hub.infoCalls.at(-1)?.caPem).includes(newCa),
    "the join trusts the CA the hub kubeconfig learned, which the bootstrap kubeconfig predates",
  );
  for (let i = 0; i < 100; i++) {
    const connection = await kube.centralConnections.get("edge-1");
    if (condition(connection!, "Ready")?.status === "True") break;
    await clock.advance(1_000);
    await flush();
  }
  t.match(condition((await kube.centralConnections.get("edge-1"))!, "Ready"), { status: "True" });
  stop.abort();
  await again;
});
