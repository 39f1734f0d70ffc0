import t from "tap";
import { certificateInfo, exportPrivateKeyPem, generateKeyPair } from "@tether/shared/pki";
import type { CentralConnection, Condition } from "../src/kube/types.ts";
import { ConflictError, KubeError } from "../src/kube/port.ts";
import { backoff, decode, startAgent } from "./support/agent.ts";
import { unreachable } from "./support/fake-hub.ts";

const condition = (c: CentralConnection, type: "Ready" | "Issuing"): Condition | undefined =>
  c.status?.conditions?.find((x) => x.type === type);

async function enrolled(options: Parameters<typeof startAgent>[0] = {}) {
  const agent = await startAgent(options);
  await agent.apply("c1", agent.hub.tokenUrl("cluster-1"));
  const serial = async () => certificateInfo(decode((await agent.secret("c1"))?.data?.["tls.crt"])).serial;
  const setSpec = async (change: (c: CentralConnection) => void) => {
    const current = await agent.connection("c1");
    change(current);
    await agent.kube.centralConnections.update(current);
    await agent.settle();
  };
  return { agent, serial, setSpec };
}

t.test("status matches the Secret's certificate; syncs every period; metrics follow", async (t) => {
  const { agent } = await enrolled();
  t.teardown(() => agent.stop());
  const secret = await agent.secret("c1");
  const leaf = certificateInfo(decode(secret?.data?.["tls.crt"]));
  let connection = await agent.connection("c1");
  const status = connection.status!;
  t.equal(status.certificateStatus?.serialNumber, leaf.serial);
  t.equal(status.certificateStatus?.sha256, leaf.sha256);
  t.equal(status.certificateStatus?.notBefore, leaf.notBefore.toISOString());
  t.equal(status.certificateStatus?.notAfter, leaf.notAfter.toISOString());
  const renewalTime = new Date(status.certificateStatus!.renewalTime!).getTime();
  const lifetime = leaf.notAfter.getTime() - leaf.notBefore.getTime();
  t.ok(renewalTime <= leaf.notBefore.getTime() + lifetime * 0.66, "not after 66%");
  t.ok(renewalTime >= leaf.notBefore.getTime() + lifetime * 0.66 * 0.9, "not before 66% minus jitter");
  const now = agent.clock.now().toISOString();
  t.same(status.synchronizationStatus, { lastSync: now, lastSuccess: now });
  t.equal(status.failedAttempts, 0);
  t.equal(status.error, undefined);
  t.match(condition(connection, "Issuing"), { status: "False", reason: "UpToDate" });

  await agent.advance(60_000);
  connection = await agent.connection("c1");
  t.equal(
    connection.status?.synchronizationStatus?.lastSuccess,
    agent.clock.now().toISOString(),
    "synced again",
  );
  t.equal(agent.hub.calls.filter((c) => c === "management").length, 2);
  t.equal(condition(connection, "Ready")?.lastTransitionTime, now, "Ready kept its transition time");

  const text = await agent.metrics.registry.metrics();
  t.match(
    text,
    `tether_spoke_certificate_expiration_timestamp_seconds{connection="c1"} ${Math.floor(leaf.notAfter.getTime() / 1000)}`,
  );
  t.match(
    text,
    `tether_spoke_certificate_renewal_timestamp_seconds{connection="c1"} ${Math.floor(renewalTime / 1000)}`,
  );
  t.match(text, 'tether_spoke_certificate_ready_status{connection="c1"} 1');
  t.match(text, 'tether_spoke_sync_total{connection="c1",result="success"} 2');

  await agent.kube.centralConnections.delete("c1");
  await agent.settle();
  t.notMatch(
    await agent.metrics.registry.metrics(),
    'connection="c1"',
    "a deleted connection leaves no series",
  );
});

t.test("renewNow renews at once, writes one Secret, and is reset only after success", async (t) => {
  const { agent, serial, setSpec } = await enrolled();
  t.teardown(() => agent.stop());
  const before = await serial();
  await setSpec((c) => (c.spec.renewNow = true));
  const after = await serial();
  t.not(after, before, "new serial");
  const connection = await agent.connection("c1");
  t.equal(connection.spec.renewNow, false, "flag reset");
  t.equal(connection.status?.certificateStatus?.serialNumber, after);
  t.same(
    agent.hub.issued.map((i) => i.kind),
    ["initial", "renewal"],
  );
  t.ok(agent.eventReasons("c1").includes("CentralConnection/Renewed"));
  const renewed = agent.kube.recordedEvents.find((e) => e.reason === "Renewed");
  t.match(renewed?.message, /RenewNowRequested/);
});

t.test("renewal at the planned time; the interval in days; disabled renewal", async (t) => {
  const { agent, serial, setSpec } = await enrolled({ syncPeriodMs: 6 * 3_600_000 });
  t.teardown(() => agent.stop());
  const first = await serial();
  const planned = new Date((await agent.connection("c1")).status!.certificateStatus!.renewalTime!).getTime();
  await agent.advance(planned - agent.clock.now().getTime() - 1_000);
  t.equal(await serial(), first, "not a second early");
  await agent.advance(1_000);
  const second = await serial();
  t.not(second, first, "renewed at the renewal time");
  t.match(agent.kube.recordedEvents.at(-1)?.message, /RenewalTimeReached/);

  await setSpec((c) => (c.spec.renewal = { enabled: true, renewAfterFraction: 0.9, renewIntervalDays: 2 }));
  t.equal(await serial(), second);
  await agent.advance(2 * 86_400_000);
  const third = await serial();
  t.not(third, second, "renewed after 2 days");
  t.match(agent.kube.recordedEvents.at(-1)?.message, /IntervalReached/);

  await setSpec((c) => (c.spec.renewal = { enabled: false }));
  t.equal((await agent.connection("c1")).status?.certificateStatus?.renewalTime, undefined);
  t.match(condition(await agent.connection("c1"), "Issuing")?.message, /automatic renewal is off/);
  await agent.advance(25 * 86_400_000);
  t.equal(await serial(), third, "no automatic renewal");
  await setSpec((c) => (c.spec.renewNow = true));
  t.not(await serial(), third, "renewNow still renews");
});

t.test("a certificate valid for only 20 s is renewed about every 13 s, not in a loop", async (t) => {
  // The hub back-dates notBefore by 5 minutes; counting those made such a certificate due at once.
  const agent = await startAgent();
  agent.hub.validityMs = 20_000;
  await agent.apply("c1", agent.hub.tokenUrl());
  for (let second = 0; second < 60; second++) await agent.advance(1_000);
  const renewals = agent.hub.issued.filter((issued) => issued.kind === "renewal").length;
  t.ok(renewals >= 4 && renewals <= 6, `4-6 renewals in 60 s (${renewals})`);
  t.equal((await agent.connection("c1")).status?.conditions?.find((c) => c.type === "Ready")?.status, "True");
});

t.test("hub down during renewal: old credentials stay, the error shows, backoff, then success", async (t) => {
  const { agent, serial, setSpec } = await enrolled();
  t.teardown(() => agent.stop());
  const before = await serial();
  const secretBefore = await agent.secret("c1");
  agent.hub.down = unreachable();
  await setSpec((c) => (c.spec.renewNow = true));
  let connection = await agent.connection("c1");
  t.equal(await serial(), before, "old credentials kept");
  t.equal(
    (await agent.secret("c1"))?.metadata?.resourceVersion,
    secretBefore?.metadata?.resourceVersion,
    "Secret untouched",
  );
  t.match(connection.status?.error?.message, /ECONNREFUSED/);
  t.equal(connection.status?.failedAttempts, 1);
  t.match(condition(connection, "Ready"), { status: "False", reason: "HubUnreachable" });
  t.match(condition(connection, "Issuing"), { status: "False", reason: "Failed" });
  t.match(condition(connection, "Issuing")?.message, /RenewNowRequested: attempt 1 failed.*next attempt at/);
  t.equal(connection.status?.certificateStatus?.serialNumber, before, "certificateStatus kept");
  t.equal(connection.spec.renewNow, true, "renewNow not reset");
  t.ok(agent.eventReasons("c1").includes("CentralConnection/SyncFailed"));

  const attempts = () => agent.hub.calls.filter((c) => c === "management").length;
  const start = attempts();
  await agent.advance(backoff.baseMs - 1);
  t.equal(attempts(), start, "waits for the backoff");
  await agent.advance(1);
  t.equal(attempts(), start + 1, "retried after 1s");
  await agent.advance(2 * backoff.baseMs);
  await agent.advance(4 * backoff.baseMs);
  await agent.advance(8 * backoff.baseMs);
  connection = await agent.connection("c1");
  t.equal(connection.status?.failedAttempts, 5);
  const n = attempts();
  await agent.advance(backoff.capMs);
  t.equal(attempts(), n + 1, "delay capped");

  agent.hub.down = undefined;
  await agent.advance(backoff.capMs);
  connection = await agent.connection("c1");
  t.not(await serial(), before, "renewed once the hub is back");
  t.equal(connection.status?.error, undefined, "error cleared");
  t.equal(connection.status?.failedAttempts, 0);
  t.equal(connection.spec.renewNow, false);
  t.match(condition(connection, "Ready"), { status: "True", reason: "Connected" });
});

t.test("a renewal the hub refuses backs off even though the sync succeeds", async (t) => {
  const { agent, setSpec } = await enrolled();
  t.teardown(() => agent.stop());
  agent.hub.failNext("renew", unreachable(), unreachable(), unreachable());
  await setSpec((c) => (c.spec.renewNow = true));
  await agent.advance(1_000);
  await agent.advance(2_000);
  const connection = await agent.connection("c1");
  t.equal(connection.status?.failedAttempts, 3);
  t.match(connection.status?.error?.message, /renewal \(RenewNowRequested\) failed/);
  t.match(condition(connection, "Ready"), { status: "True" }, "still Ready: the certificate works");
  t.equal(agent.kube.recordedEvents.filter((e) => e.reason === "RenewalFailed").length, 3);
  await agent.advance(4_000);
  t.equal((await agent.connection("c1")).spec.renewNow, false);
});

t.test("a deleted Secret comes back by renewal; without a held certificate the CR says so", async (t) => {
  const { agent, serial } = await enrolled();
  t.teardown(() => agent.stop());
  const before = await serial();
  await agent.kube.secrets.delete("tether-system", "c1-hub-credentials");
  await agent.settle();
  t.ok(await agent.secret("c1"), "recreated");
  t.not(await serial(), before, "by a renewal (fresh key)");
  t.match(agent.kube.recordedEvents.at(-1)?.message, /SecretMissing/);

  // The agent restarts while the Secret is gone: it holds nothing it could renew with.
  await agent.connections.stop();
  await agent.kube.secrets.delete("tether-system", "c1-hub-credentials");
  const calls = agent.hub.calls.length;
  await agent.restartConnections();
  const connection = await agent.connection("c1");
  t.equal(await agent.secret("c1"), undefined);
  t.match(condition(connection, "Ready"), { status: "False", reason: "SecretMissing" });
  t.match(condition(connection, "Issuing"), { status: "False", reason: "CannotRenew" });
  t.match(connection.status?.error?.message, /does not exist.*no valid certificate.*new CertificateRequest/);
  t.equal(agent.hub.calls.length, calls, "nothing to present to the hub");
  t.ok(connection.status?.certificateStatus, "certificateStatus kept");
});

t.test("a revoked certificate shows the hub's message, once as an Event", async (t) => {
  const { agent } = await enrolled();
  t.teardown(() => agent.stop());
  agent.hub.revoked.add(certificateInfo(decode((await agent.secret("c1"))?.data?.["tls.crt"])).sha256);
  await agent.advance(60_000);
  let connection = await agent.connection("c1");
  t.match(condition(connection, "Ready"), { status: "False", reason: "Revoked" });
  t.match(connection.status?.error?.message, "Certificate has been revoked.");
  await agent.advance(backoff.capMs);
  await agent.advance(backoff.capMs);
  connection = await agent.connection("c1");
  t.match(condition(connection, "Ready"), { reason: "Revoked" }, "still revoked");
  t.equal(agent.kube.recordedEvents.filter((e) => e.reason === "Revoked").length, 1);
  t.match(await agent.metrics.registry.metrics(), 'tether_spoke_certificate_ready_status{connection="c1"} 0');
  t.match(
    await agent.metrics.registry.metrics(),
    /tether_spoke_sync_total\{connection="c1",result="failure"\} [3-9]/,
  );
});

t.test("a damaged Secret is repaired: key mismatch, missing data, foreign identity", async (t) => {
  const { agent, serial } = await enrolled();
  t.teardown(() => agent.stop());
  const replaceData = async (change: (data: Record<string, string>) => Promise<void>) => {
    const secret = (await agent.secret("c1"))!;
    await change(secret.data!);
    await agent.kube.secrets.replace(secret);
    await agent.settle();
  };
  let last = await serial();
  const otherKey = await exportPrivateKeyPem(await generateKeyPair("ecdsa-p256"));
  await replaceData(async (data) => void (data["tls.key"] = Buffer.from(otherKey).toString("base64")));
  t.not(await serial(), last, "KeyMismatch renewed");
  t.match(agent.kube.recordedEvents.at(-1)?.message, /KeyMismatch/);
  last = await serial();
  await replaceData(async (data) => void delete data.kubeconfig);
  t.not(await serial(), last, "SecretMissingData renewed");
  t.match(
    agent.kube.recordedEvents.at(-1)?.message,
    /SecretMissingData: Secret tether-system\/c1-hub-credentials lacks kubeconfig/,
  );

  // Another runtime's valid certificate pasted into the Secret.
  await agent.apply("other", agent.hub.tokenUrl("cluster-2"));
  const foreign = (await agent.kube.secrets.get("tether-system", "other-hub-credentials"))!;
  await replaceData(async (data) => void Object.assign(data, foreign.data));
  const now = certificateInfo(decode((await agent.secret("c1"))?.data?.["tls.crt"]));
  t.equal(now.subject.CN, "cluster-1", "identity restored");
  t.match(
    agent.kube.recordedEvents.filter((e) => e.involvedObject.name === "c1").at(-1)?.message,
    /WrongIdentity/,
  );
});

t.test("a lost Secret write after a renewal is repaired from memory without a second issuance", async (t) => {
  const { agent, serial, setSpec } = await enrolled();
  t.teardown(() => agent.stop());
  let fail = 1;
  agent.kube.intercept = (op) =>
    op === "secrets.replace" && fail-- > 0 ? new KubeError("etcd timeout", 500) : undefined;
  const before = await serial();
  await setSpec((c) => (c.spec.renewNow = true));
  t.equal(await serial(), before, "write failed");
  t.equal(agent.hub.issued.length, 2);
  await agent.advance(1_000);
  t.not(await serial(), before, "the held certificate was written");
  t.equal(agent.hub.issued.length, 2, "no second renewal");
  t.equal(await serial(), agent.hub.issued[1]?.serial);
});

t.test("409 on status and spec writes is handled by re-reading", async (t) => {
  const { agent } = await enrolled();
  t.teardown(() => agent.stop());
  const conflicts = new Set(["centralConnections.updateStatus", "centralConnections.update"]);
  agent.kube.intercept = (op) =>
    conflicts.delete(op) ? new ConflictError("the object has been modified") : undefined;
  const current = await agent.connection("c1");
  current.spec.renewNow = true;
  await agent.kube.centralConnections
    .update(current)
    .catch(() => agent.kube.centralConnections.update(current));
  await agent.settle();
  t.equal(conflicts.size, 0, "both writes met a conflict");
  const connection = await agent.connection("c1");
  t.equal(connection.spec.renewNow, false);
  t.equal(connection.status?.certificateStatus?.serialNumber, agent.hub.issued[1]?.serial);
});

t.test("an expired certificate with nothing better held cannot be renewed, and says so", async (t) => {
  const sixHours = 6 * 3_600_000;
  const { agent } = await enrolled({ syncPeriodMs: sixHours, backoff: { baseMs: 1_000, capMs: sixHours } });
  t.teardown(() => agent.stop());
  agent.hub.down = unreachable();
  await agent.advance(31 * 86_400_000);
  agent.hub.down = undefined;
  const calls = agent.hub.calls.length;
  await agent.advance(sixHours);
  const connection = await agent.connection("c1");
  t.equal(agent.hub.calls.length, calls, "an expired certificate is not presented");
  t.match(condition(connection, "Ready"), { status: "False", reason: "Expired" });
  t.match(condition(connection, "Issuing"), { status: "False", reason: "CannotRenew" });
  t.match(connection.status?.error?.message, /expired at .*new CertificateRequest/);
});

t.test("a new leader keeps the failure count and the back-off of a failing renewal", async (t) => {
  const { agent, setSpec } = await enrolled();
  t.teardown(() => agent.stop());
  agent.hub.failNext("renew", unreachable(), unreachable(), unreachable(), unreachable());
  await setSpec((c) => (c.spec.renewNow = true));
  await agent.advance(backoff.baseMs);
  await agent.advance(2 * backoff.baseMs);
  let connection = await agent.connection("c1");
  t.equal(connection.status?.failedAttempts, 3, "leader A failed three times");
  const nextAttempt = Date.parse(connection.status?.nextAttemptTime ?? "");
  t.equal(nextAttempt, agent.clock.now().getTime() + 4 * backoff.baseMs, "the back-off is in status");
  t.equal(connection.status?.lastFailureTime, agent.clock.now().toISOString());

  // Leader B starts with empty memory on the same Kubernetes.
  const calls = agent.hub.calls.length;
  await agent.restartConnections();
  t.equal(agent.hub.calls.length, calls, "B does not call the hub at start");
  await agent.advance(nextAttempt - agent.clock.now().getTime() - 1);
  t.equal(agent.hub.calls.length, calls, "nor before the back-off A recorded has passed");
  await agent.advance(1);
  t.same(agent.hub.calls.slice(calls), ["management", "trust", "renew"], "then it tries again");
  connection = await agent.connection("c1");
  t.equal(connection.status?.failedAttempts, 4, "and counts on from A's failures");
  t.match(condition(connection, "Issuing")?.message, /RenewNowRequested: attempt 4 failed/);
  t.equal(
    Date.parse(connection.status?.nextAttemptTime ?? ""),
    agent.clock.now().getTime() + backoff.capMs,
    "the next delay doubles A's last one",
  );

  await agent.advance(backoff.capMs);
  connection = await agent.connection("c1");
  t.equal(connection.status?.failedAttempts, 0, "a success resets the count");
  t.equal(connection.status?.nextAttemptTime, undefined);
  t.equal(connection.spec.renewNow, false);
});

t.test("a reconcile that changes nothing writes no status, whatever the key order", async (t) => {
  const { agent } = await enrolled();
  t.teardown(() => agent.stop());
  // The API server answers with its keys sorted; status holds the same values in another order.
  const sorted = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(sorted)
      : typeof value === "object" && value !== null
        ? Object.fromEntries(
            Object.entries(value)
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([k, v]) => [k, sorted(v)]),
          )
        : value;
  const current = await agent.connection("c1");
  current.status = sorted(current.status) as typeof current.status;
  t.not(JSON.stringify(current.status), JSON.stringify((await agent.connection("c1")).status), "reordered");
  const written = await agent.kube.centralConnections.updateStatus(current);
  await agent.connections.reconcile("c1");
  t.equal((await agent.connection("c1")).metadata.resourceVersion, written.metadata.resourceVersion);
});
