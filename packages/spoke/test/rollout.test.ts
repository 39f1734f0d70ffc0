/**
 * Workloads that opt in roll when their credential Secret's certificate, key or CA changes: the pure
 * decisions (annotation values, hash, adoption, status entries) and the controller on the in-memory
 * fake, next to the real connection controller renewing with a fake hub.
 */
import t from "tap";
import { certificateInfo } from "@tether/shared/pki";
import type { V1Secret } from "@kubernetes/client-node";
import { parseConfig } from "../src/config.ts";
import { RolloutController } from "../src/controllers/rollout/controller.ts";
import { KubeError } from "../src/kube/port.ts";
import type { RolloutRecord, Workload, WorkloadKind } from "../src/kube/types.ts";
import {
  credentialHashAnnotation,
  maxSecretNames,
  parseRestartOnChange,
  restartOnChangeAnnotation,
  restartedAtAnnotation,
} from "../src/rollout/annotations.ts";
import { type Credential, decideRollout } from "../src/rollout/decide.ts";
import { combinedHash, credentialDigest, describeChange } from "../src/rollout/hash.ts";
import { maxRecords, withRecords } from "../src/rollout/records.ts";
import { pino } from "pino";
import { decode, namespace, startAgent } from "./support/agent.ts";

const b64 = (text: string) => Buffer.from(text).toString("base64");
const secretWith = (data: Record<string, string>, labels: Record<string, string> = {}): V1Secret => ({
  metadata: { name: "s", namespace, labels },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
});

function workload(
  kind: WorkloadKind,
  ns: string,
  name: string,
  annotations: Record<string, string> = {},
  template: Record<string, string> = {},
  creationTimestamp = "2026-06-01T00:00:00Z",
): Workload {
  return {
    apiVersion: "apps/v1",
    kind,
    metadata: { name, namespace: ns, annotations, creationTimestamp },
    spec: { template: { metadata: { annotations: template } } },
  };
}

t.test("the opt-in annotation: hostile and malformed values", async (t) => {
  t.same(parseRestartOnChange("a"), { names: ["a"], problems: [] });
  t.same(parseRestartOnChange(" a , b.c ,a"), { names: ["a", "b.c"], problems: [] }, "spaces, duplicates");
  for (const empty of ["", " ", ",", " , "])
    t.same(parseRestartOnChange(empty), {
      names: [],
      problems: [`${restartOnChangeAnnotation} names no Secret`],
    });
  t.same(parseRestartOnChange("a,,b").names, ["a", "b"]);
  t.match(parseRestartOnChange("a,,b").problems, [/empty entry/]);
  for (const bad of ["a b", "A", "a/b", "../x", "-a", "a_b", "x".repeat(254), "é", "a\nb"]) {
    const parsed = parseRestartOnChange(`ok,${bad}`);
    t.same(parsed.names, ["ok"], `${JSON.stringify(bad)} is dropped`);
    t.match(parsed.problems, [/is not a Secret name/]);
    t.notMatch(parsed.problems[0], /[\n\u00e9]/, "the problem is printable on one line");
    t.ok((parsed.problems[0] ?? "").length < 120, "and short");
  }
  const many = Array.from({ length: maxSecretNames + 3 }, (_, i) => `s${i}`).join(",");
  const parsed = parseRestartOnChange(many);
  t.equal(parsed.names.length, maxSecretNames);
  t.equal(parsed.problems.length, 3);
  const hostile = parseRestartOnChange(`${"x y,".repeat(100_000)}c1`);
  t.same(hostile.names, [], "a huge value: nothing past the bounded part is read");
  t.equal(hostile.problems.length, 65, "and what is said stays bounded");
  t.match(hostile.problems[0], /entries past the first 64 are ignored/);
});

t.test("what matters in a Secret: tls.crt, tls.key, ca.crt; not labels, not the kubeconfig", async (t) => {
  const base = { "tls.crt": "C1", "tls.key": "K1", "ca.crt": "A1", kubeconfig: "k1" };
  const digest = credentialDigest(secretWith(base))!;
  t.match(digest.full, /^[0-9a-f]{64}$/);
  t.same(credentialDigest(secretWith(base, { other: "label" })), digest, "labels do not matter");
  t.same(credentialDigest(secretWith({ ...base, kubeconfig: "k2" })), digest, "kubeconfig does not");
  t.same(credentialDigest(secretWith({ ...base, extra: "x" })), digest, "other keys do not");
  for (const key of ["tls.crt", "tls.key", "ca.crt"]) {
    const changed = credentialDigest(secretWith({ ...base, [key]: "changed" }))!;
    t.not(changed.full, digest.full, `${key} matters`);
  }
  t.equal(credentialDigest(undefined), undefined, "no Secret");
  t.equal(credentialDigest(secretWith({ "tls.crt": "C1" })), undefined, "no key: nothing to roll to");
  t.equal(credentialDigest(secretWith({ "tls.crt": "", "tls.key": "K" })), undefined, "empty certificate");
  t.ok(credentialDigest(secretWith({ "tls.crt": "C", "tls.key": "K" })), "ca.crt may be missing");
  const swapped = credentialDigest(secretWith({ ...base, "tls.crt": "K1", "tls.key": "C1" }))!;
  t.not(swapped.full, digest.full, "keys are not interchangeable");

  const renewed = credentialDigest(secretWith({ ...base, "tls.crt": "C2", "tls.key": "K2" }))!;
  t.equal(describeChange(digest, renewed), "certificate renewed");
  t.equal(describeChange(digest, credentialDigest(secretWith({ ...base, "ca.crt": "A2" }))!), "CA changed");
  t.equal(describeChange(digest, credentialDigest(secretWith({ ...base, "tls.key": "K2" }))!), "key changed");
  t.equal(describeChange(undefined, digest), "credential changed");

  const ref = { namespace, name: "a" };
  const short = combinedHash([{ ref, digest }]);
  t.match(short, /^[0-9a-f]{16}$/);
  const other = { ref: { namespace, name: "b" }, digest: renewed };
  t.equal(combinedHash([{ ref, digest }, other]), combinedHash([other, { ref, digest }]), "order-free");
  t.not(combinedHash([{ ref, digest }, other]), short);
});

t.test("the decision per workload", async (t) => {
  const digest = credentialDigest(secretWith({ "tls.crt": "C", "tls.key": "K", "ca.crt": "A" }))!;
  const issuedAt = new Date("2026-05-01T00:00:00Z");
  const credential = (name: string, ns = namespace, overrides: Partial<Credential> = {}): Credential => ({
    connection: `conn-${name}-${ns}`,
    ref: { namespace: ns, name },
    digest,
    serial: "0A1B",
    issuedAt,
    change: "certificate renewed",
    ...overrides,
  });
  const credentials = [credential("creds"), credential("creds", "team-a"), credential("other")];
  const decide = (w: Workload, list = credentials) =>
    decideRollout({ workload: w, credentials: list, agentNamespace: namespace });
  const optIn = (value: string, extra: Record<string, string> = {}) => ({
    [restartOnChangeAnnotation]: value,
    ...extra,
  });
  const hashOf = (...list: Credential[]) =>
    combinedHash(list.map(({ ref, digest }) => ({ ref, digest: digest! })));

  t.match(decide(workload("Deployment", namespace, "w")), { action: "none", reason: "NotOptedIn" });
  const own = decide(workload("Deployment", namespace, "w", optIn("creds"), {}, "2026-06-01T00:00:00Z"));
  t.match(own, { action: "record", reason: "Adopted", connections: [`conn-creds-${namespace}`] });
  t.equal(own.hash, hashOf(credential("creds")));
  t.match(own.message, /created after the current certificate \(serial 0A1B\)/);
  t.match(
    decide(workload("Deployment", "team-a", "w", optIn("creds"))),
    { connections: ["conn-creds-team-a"] },
    "a Secret of that name in the workload's own namespace first",
  );
  t.match(
    decide(workload("Deployment", "team-b", "w", optIn("other"))),
    { action: "record", connections: [`conn-other-${namespace}`] },
    "else the agent's",
  );
  t.match(
    decide(workload("Deployment", "team-b", "w", optIn("x")), [credential("x", "team-c")]),
    { action: "none", reason: "NoCredential", problems: [/"x" is not a credential Secret of this agent/] },
    "never a third namespace's",
  );
  t.match(decide(workload("Deployment", namespace, "w", optIn("unknown, ,Bad"))), {
    action: "none",
    reason: "NoCredential",
    problems: [/empty entry/, /"Bad" is not a Secret name/, /"unknown" is not a credential Secret/],
  });
  t.match(
    decide(workload("Deployment", namespace, "w", optIn("creds,unknown"))),
    { action: "record", problems: [/"unknown"/] },
    "the credential named is still served",
  );
  t.match(
    decide(workload("Deployment", namespace, "w", optIn("creds")), [
      credential("creds", namespace, { digest: undefined }),
    ]),
    { action: "none", reason: "CredentialNotReady" },
  );

  const created = "2026-04-01T00:00:00Z";
  const older = decide(workload("StatefulSet", namespace, "w", optIn("creds"), {}, created));
  t.match(older, { action: "roll", reason: "AdoptedOlder" });
  t.match(older.message, /created before the current certificate \(serial 0A1B\) was issued, so rolled once/);
  t.match(
    decide(workload("DaemonSet", namespace, "w", optIn("creds"), {}, "")),
    { action: "roll" },
    "no time",
  );
  t.match(
    decide(workload("Deployment", namespace, "w", optIn("creds"), {}, created), [
      credential("creds", namespace, { issuedAt: undefined }),
    ]),
    { action: "roll" },
    "unknown issue time: rolled once",
  );

  const hash = hashOf(credential("creds"));
  const inPlace = decide(
    workload("Deployment", namespace, "w", optIn("creds", { [credentialHashAnnotation]: hash })),
  );
  t.match(inPlace, { action: "none", reason: "UpToDate", hash });
  t.match(
    decide(workload("Deployment", namespace, "w", optIn("creds"), { [credentialHashAnnotation]: hash })),
    { action: "none", reason: "UpToDate" },
    "the pod template's hash counts when the workload has none",
  );
  t.match(
    decide(
      workload("Deployment", namespace, "w", optIn("creds", { [credentialHashAnnotation]: hash }), {
        [credentialHashAnnotation]: "0000000000000000",
      }),
    ),
    { action: "none", reason: "UpToDate" },
    "after `kubectl rollout undo` the workload's record wins: the agent does not fight it",
  );
  for (const recorded of ["0000000000000000", "", "garbage; rm -rf /", hash.toUpperCase()]) {
    const changed = decide(
      workload("Deployment", namespace, "w", optIn("creds", { [credentialHashAnnotation]: recorded })),
    );
    t.match(
      changed,
      { action: "roll", reason: "CredentialChanged", hash },
      `recorded ${JSON.stringify(recorded)}`,
    );
    t.equal(changed.message, "certificate renewed, serial 0A1B");
  }
  const both = decide(
    workload("Deployment", namespace, "w", optIn("creds,other", { [credentialHashAnnotation]: hash })),
  );
  t.match(both, { action: "roll", connections: [`conn-creds-${namespace}`, `conn-other-${namespace}`] });
  t.equal(both.hash, hashOf(credential("creds"), credential("other")), "one hash over both Secrets");
});

t.test("status.rollouts: newest first, bounded, a lasting finding is one entry", async (t) => {
  const record = (name: string, message = "m", time = "2026-01-01T00:00:00Z"): RolloutRecord => ({
    kind: "Deployment",
    namespace,
    name,
    result: "Failed",
    reason: "Forbidden",
    message,
    time,
  });
  const first = withRecords(undefined, [record("a")])!;
  t.same(first, [record("a")]);
  t.equal(withRecords(first, [record("a", "m", "2026-01-02T00:00:00Z")]), undefined, "same finding later");
  t.same(
    withRecords(first, [record("a", "n")])?.map((r) => r.message),
    ["n", "m"],
  );
  const many = Array.from({ length: maxRecords + 5 }, (_, i) => record(`w${i}`));
  const list = withRecords(first, many)!;
  t.equal(list.length, maxRecords);
  t.equal(list[0]?.name, `w${maxRecords + 4}`, "newest first");
});

t.test("--rollout-namespaces", async (t) => {
  t.same(parseConfig([]).rolloutNamespaces, []);
  t.same(parseConfig(["--rollout-namespaces", "team-a, team-b,team-a"]).rolloutNamespaces, [
    "team-a",
    "team-b",
  ]);
  t.same(parseConfig([], { TETHER_SPOKE_ROLLOUT_NAMESPACES: "apps" }).rolloutNamespaces, ["apps"]);
  t.same(parseConfig(["--rollout-namespaces", " "]).rolloutNamespaces, []);
  for (const bad of ["a,,b", "Team", "a b", "a/b", "x".repeat(64), ","])
    t.throws(
      () => parseConfig(["--rollout-namespaces", bad]),
      /--rollout-namespaces: ".*" is not a namespace name/,
    );
});

async function rolloutAgent(rolloutNamespaces: string[] = ["team-a", "team-b"]) {
  const agent = await startAgent({ start: "2026-03-01T00:00:00Z" });
  await agent.apply("c1", agent.hub.tokenUrl("cluster-1"));
  const logger = pino({ level: "silent" });
  const rollouts = new RolloutController({
    ...{ kube: agent.kube, clock: agent.clock, logger, namespace, metrics: agent.metrics, instance: "test" },
    ...{ rolloutNamespaces, resyncPeriodMs: 60_000 },
  });
  rollouts.start();
  const settle = async () => {
    for (let round = 0; round < 4; round++) {
      await agent.settle();
      await rollouts.idle();
    }
  };
  await settle();
  const stores = agent.kube.workloadStores;
  const read = (kind: WorkloadKind, ns: string, name: string) => stores[kind].get(ns, name, "test")!;
  const add = async (w: Workload) => {
    stores[w.kind].create(w, "test");
    // The fake stamps its own creation time; a test sets the one it means.
    stores[w.kind].objects.get(`${w.metadata.namespace}/${w.metadata.name}`)!.metadata.creationTimestamp =
      w.metadata.creationTimestamp;
  };
  const serial = async () => certificateInfo(decode((await agent.secret("c1"))?.data?.["tls.crt"])).serial;
  const renew = async () => {
    const current = await agent.connection("c1");
    current.spec.renewNow = true;
    await agent.kube.centralConnections.update(current);
    await settle();
  };
  const events = (name: string) =>
    agent.kube.recordedEvents
      .filter((e) => e.involvedObject.name === name)
      .map((e) => `${e.involvedObject.kind}/${e.type}/${e.reason}: ${e.message}`);
  const rolloutsOf = async () => (await agent.connection("c1")).status?.rollouts ?? [];
  t.teardown(async () => {
    await rollouts.stop();
    await agent.stop();
  });
  return { agent, rollouts, settle, add, read, serial, renew, events, rolloutsOf };
}

const optIn = { [restartOnChangeAnnotation]: "c1-hub-credentials" };

t.test("a Deployment created with the opt-in records the hash, then rolls on renewal", async (t) => {
  const r = await rolloutAgent();
  await r.add(workload("Deployment", namespace, "web", optIn, {}, "2026-03-01T00:10:00Z"));
  await r.agent.advance(60_000);
  await r.settle();
  let web = r.read("Deployment", namespace, "web");
  const recorded = web.metadata.annotations?.[credentialHashAnnotation];
  t.match(recorded, /^[0-9a-f]{16}$/, "hash recorded on the Deployment");
  t.same(web.spec.template.metadata?.annotations, {}, "its pods are left alone (they use this certificate)");
  t.match(await r.rolloutsOf(), [{ kind: "Deployment", name: "web", result: "Recorded", reason: "Adopted" }]);
  t.match(r.events("web"), [/Deployment\/Normal\/CredentialRecorded: recorded credential hash/]);

  await r.renew();
  const serial = await r.serial();
  web = r.read("Deployment", namespace, "web");
  const hash = web.spec.template.metadata?.annotations?.[credentialHashAnnotation];
  t.match(hash, /^[0-9a-f]{16}$/);
  t.not(hash, recorded, "a new hash on the pod template");
  t.equal(web.metadata.annotations?.[credentialHashAnnotation], hash, "and on the Deployment");
  t.equal(
    web.spec.template.metadata?.annotations?.[restartedAtAnnotation],
    r.agent.clock
      .now()
      .toISOString()
      .replace(/\.\d{3}Z$/, "Z"),
    "restartedAt, RFC 3339",
  );
  t.equal(
    web.metadata.generation,
    3,
    "one patch for the roll (the record moved a Deployment's generation too)",
  );
  const message = `rolled Deployment ${namespace}/web: certificate renewed, serial ${serial}`;
  t.ok(r.events("web").includes(`Deployment/Normal/Rolled: ${message}`), "Event on the Deployment");
  t.ok(r.events("c1").includes(`CentralConnection/Normal/Rolled: ${message}`), "Event on the connection");
  t.match(await r.rolloutsOf(), [
    { result: "Rolled", reason: "CredentialChanged", message, hash },
    { result: "Recorded" },
  ]);
  t.match(
    await r.agent.metrics.registry.metrics(),
    'tether_spoke_workload_restarts_total{connection="c1",kind="Deployment"} 1',
  );

  await r.agent.advance(60_000);
  await r.agent.advance(60_000);
  await r.settle();
  t.equal(r.read("Deployment", namespace, "web").metadata.generation, 3, "hash in place: no further patch");
  const connection = await r.agent.connection("c1");
  t.equal(connection.status?.rollouts?.length, 2, "the connection controller's status writes keep rollouts");
  t.match(connection.status?.conditions, [{ type: "Ready", status: "True" }, { type: "Issuing" }]);
});

t.test("a workload opting in later is adopted at once, not at the next resync", async (t) => {
  const r = await rolloutAgent();
  await r.add(workload("Deployment", "team-a", "late", {}, {}, "2026-01-01T00:00:00Z"));
  await r.settle();
  t.equal(r.read("Deployment", "team-a", "late").metadata.annotations?.[credentialHashAnnotation], undefined);
  await r.agent.kube.workloads.patchAnnotations("Deployment", "team-a", "late", { metadata: optIn });
  await r.settle();
  const late = r.read("Deployment", "team-a", "late");
  t.match(
    late.spec.template.metadata?.annotations?.[credentialHashAnnotation],
    /^[0-9a-f]{16}$/,
    "rolled once",
  );
  t.match(await r.rolloutsOf(), [{ name: "late", result: "Rolled", reason: "AdoptedOlder" }]);
});

t.test("a Secret change that touches neither certificate, key nor CA rolls nothing", async (t) => {
  const r = await rolloutAgent();
  await r.add(workload("Deployment", namespace, "web", optIn, {}, "2026-01-01T00:00:00Z"));
  await r.agent.advance(60_000);
  await r.settle();
  const rolled = r.read("Deployment", namespace, "web");
  t.equal(rolled.metadata.generation, 2, "created before the certificate: adopted by one roll");
  t.match(await r.rolloutsOf(), [{ result: "Rolled", reason: "AdoptedOlder" }]);
  const secret = (await r.agent.secret("c1"))!;
  secret.metadata!.labels = { ...secret.metadata!.labels, team: "payments" };
  secret.metadata!.annotations = { note: "x" };
  await r.agent.kube.secrets.replace(secret);
  await r.settle();
  await r.agent.advance(60_000);
  await r.settle();
  t.equal(r.read("Deployment", namespace, "web").metadata.generation, 2, "no new generation");
  t.equal((await r.rolloutsOf()).length, 1, "nothing new in status");
});

t.test("StatefulSets and DaemonSets roll; other namespaces and kinds do not", async (t) => {
  const r = await rolloutAgent(["team-a"]);
  const old = "2026-01-01T00:00:00Z";
  await r.add(workload("StatefulSet", "team-a", "db", optIn, {}, old));
  await r.add(workload("DaemonSet", namespace, "agent", optIn, {}, old));
  await r.add(workload("Deployment", "team-z", "outside", optIn, {}, old));
  await r.add(workload("Deployment", namespace, "plain", {}, {}, old));
  await r.agent.advance(60_000);
  await r.settle();
  t.equal(r.read("StatefulSet", "team-a", "db").metadata.generation, 2);
  t.equal(r.read("DaemonSet", namespace, "agent").metadata.generation, 2);
  t.equal(
    r.read("Deployment", "team-z", "outside").metadata.generation,
    1,
    "team-z is not a rollout namespace",
  );
  t.same(r.read("Deployment", "team-z", "outside").metadata.annotations, optIn, "untouched");
  t.equal(r.read("Deployment", namespace, "plain").metadata.generation, 1, "not annotated");
  const metrics = await r.agent.metrics.registry.metrics();
  t.match(metrics, 'tether_spoke_workload_restarts_total{connection="c1",kind="StatefulSet"} 1');
  t.match(metrics, 'tether_spoke_workload_restarts_total{connection="c1",kind="DaemonSet"} 1');
});

t.test("failures are visible and never block renewal", async (t) => {
  const r = await rolloutAgent(["team-a", "team-b"]);
  const old = "2026-01-01T00:00:00Z";
  await r.add(workload("Deployment", namespace, "denied", optIn, {}, old));
  await r.add(workload("Deployment", namespace, "vanishing", optIn, {}, old));
  await r.add(workload("Deployment", "team-a", "fine", optIn, {}, old));
  await r.add(
    workload("Deployment", namespace, "confused", { [restartOnChangeAnnotation]: "not-ours, Bad" }),
  );
  const forbidden = new KubeError('deployments.apps "denied" is forbidden: User cannot patch', 403);
  r.agent.kube.intercept = (operation) => {
    if (operation === `workloads.patch Deployment ${namespace}/denied`) return forbidden;
    if (operation.startsWith("workloads.list") && operation.endsWith(" team-b"))
      return new KubeError("deployments.apps is forbidden: cannot list in team-b", 403);
    if (operation === `workloads.patch Deployment ${namespace}/vanishing`)
      r.agent.kube.workloadStores.Deployment.objects.delete(`${namespace}/vanishing`);
    return undefined;
  };
  const before = await r.serial();
  await r.renew();
  t.not(await r.serial(), before, "renewed all the same");
  const connection = await r.agent.connection("c1");
  t.equal(connection.spec.renewNow, false, "renewNow served");
  t.match(connection.status?.conditions, [{ type: "Ready", status: "True" }]);
  t.equal(
    r.read("Deployment", "team-a", "fine").metadata.generation,
    3,
    "the others roll (adopted by one roll when renewNow was set, then again on renewal)",
  );

  const rollouts = await r.rolloutsOf();
  const find = (name: string | undefined, kind = "Deployment", ns = namespace) =>
    rollouts.find((e) => e.name === name && e.kind === kind && e.namespace === ns);
  t.match(find("denied"), {
    result: "Failed",
    reason: "Forbidden",
    message: /not allowed to patch Deployment/,
  });
  t.match(find("vanishing"), { result: "Failed", reason: "WorkloadGone", message: /is gone/ });
  t.match(find(undefined, "Deployment", "team-b"), {
    result: "Failed",
    reason: "Forbidden",
    message: /not allowed to list Deployments in namespace team-b: grant the agent/,
  });
  t.notOk(find("confused"), "a workload that names no credential of this agent is not the connection's");
  t.match(r.events("confused"), [
    /Deployment\/Warning\/RolloutIgnored: .*"Bad" is not a Secret name.*"not-ours" is not a credential Secret/,
  ]);
  t.match(r.events("denied"), [/Deployment\/Warning\/RolloutFailed: not allowed to patch/]);
  const warnings = () => r.events("c1").filter((e) => e.includes("Warning/RolloutFailed")).length;
  const count = warnings();
  t.ok(count >= 4, "Warning Events on the connection");

  const length = rollouts.length;
  await r.agent.advance(60_000);
  await r.agent.advance(60_000);
  await r.settle();
  t.equal((await r.rolloutsOf()).length, length, "retried each resync, but a lasting failure is one entry");
  t.equal(warnings(), count, "and one Event");
  t.equal(r.events("confused").length, 1);

  r.agent.kube.intercept = () => undefined;
  await r.agent.advance(60_000);
  await r.settle();
  t.equal(r.read("Deployment", namespace, "denied").metadata.generation, 2, "rolled once allowed");
});
