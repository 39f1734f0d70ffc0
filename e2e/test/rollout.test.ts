/**
 * Workloads that opt in roll when the spoke renews their credential, on a real control plane with a
 * real kube-controller-manager (so a rollout is a real new ReplicaSet / ControllerRevision), a real
 * hub and the agent running as its service account with the RBAC of
 * packages/spoke/test/fixtures/rbac.yaml plus the chart's rollout Role in team-a. team-b is in
 * --rollout-namespaces without that Role (denied, visible, not fatal); team-c is not listed at all.
 */
import t from "tap";
import { certificateInfo } from "@tether/shared/pki";
import { repoRoot, startControlPlane } from "@tether/e2e/harness";
import { join } from "node:path";
import { clientNodeKube } from "../../packages/spoke/src/kube/client-node.ts";
import type { CentralConnection } from "../../packages/spoke/src/kube/types.ts";
import { createLogger } from "../../packages/spoke/src/serve.ts";
import {
  certificateRequest,
  decode,
  eventually,
  namespace,
  readyCondition,
  startHub,
  startSpoke,
} from "./spoke-helpers.ts";

const optIn = "tether.dev/restart-on-change";
const hashKey = "tether.dev/credential-hash";
const restartedAtKey = "tether.dev/restartedAt";
const revisionKey = "deployment.kubernetes.io/revision";

const plane = await startControlPlane({ controllerManager: true });
console.log(
  `# control plane with kube-controller-manager: binaries ${plane.timings.binariesCached ? "cached" : `built in ${Math.round(plane.timings.binariesMs / 1000)} s`}, controller-manager ready in ${Math.round(plane.timings.controllerManagerMs)} ms`,
);
t.teardown(async () => {
  if (!t.passing()) console.error(plane.logs().slice(-8000));
  await plane.stop();
});
await plane.installCrds();
for (const name of [namespace, "team-a", "team-b", "team-c"])
  await plane.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
await plane.apply(join(repoRoot, "packages/spoke/test/fixtures/rbac.yaml"));
// The chart's rollout Role, in team-a only (as rollout.namespaces: [team-a] would make it).
await plane.apply([
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: "tether-spoke-rollout", namespace: "team-a" },
    rules: [
      {
        apiGroups: ["apps"],
        resources: ["deployments", "statefulsets", "daemonsets"],
        verbs: ["get", "list", "watch", "patch"],
      },
      { apiGroups: [""], resources: ["events"], verbs: ["create"] },
    ],
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: "tether-spoke-rollout", namespace: "team-a" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "tether-spoke-rollout" },
    subjects: [{ kind: "ServiceAccount", name: "tether-spoke", namespace }],
  },
]);
const account = await plane.serviceAccount(namespace, "tether-spoke");
const kube = clientNodeKube(plane.clientConfig(), createLogger("silent"));
const hub = await startHub(t);
const spoke = await startSpoke(t, {
  kubeconfig: account.kubeconfigPath,
  hub,
  identity: "spoke-rollout",
  args: ["--sync-period", "3s", "--rollout-namespaces", "team-a,team-b"],
});

const waitFor = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000) =>
  eventually(what, probe, timeoutMs, spoke.process);
const json = async <T>(args: string[]) =>
  JSON.parse((await plane.kubectl([...args, "-o", "json"])).stdout) as T;

interface Meta {
  name: string;
  namespace?: string;
  annotations?: Record<string, string>;
  ownerReferences?: { name: string }[];
}
interface Workload {
  metadata: Meta;
  spec: { template: { metadata?: { annotations?: Record<string, string> } } };
}
interface Revisioned {
  metadata: Meta;
  revision?: number;
  spec?: { template?: { metadata?: { annotations?: Record<string, string> } } };
}

function manifest(kind: string, ns: string, name: string, annotations: Record<string, string>) {
  const labels = { app: name };
  return {
    apiVersion: "apps/v1",
    kind,
    metadata: { name, namespace: ns, annotations },
    spec: {
      ...(kind === "DaemonSet" ? {} : { replicas: 1 }),
      ...(kind === "StatefulSet" ? { serviceName: name } : {}),
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }] },
      },
    },
  };
}
const workload = (kind: string, ns: string, name: string) =>
  json<Workload>(["get", kind.toLowerCase(), name, "-n", ns]);
const replicaSets = async (name: string, ns = namespace) =>
  (await json<{ items: Revisioned[] }>(["get", "replicasets", "-n", ns, "-l", `app=${name}`])).items;
const controllerRevisions = async (name: string, ns: string) =>
  (await json<{ items: Revisioned[] }>(["get", "controllerrevisions", "-n", ns, "-l", `app=${name}`])).items;
const connection = async () => (await kube.centralConnections.get("c1")) as CentralConnection;
const leafSerial = async () =>
  certificateInfo(decode((await kube.secrets.get(namespace, "c1-hub-credentials"))?.data?.["tls.crt"]))
    .serial;
const events = async (ns: string, name: string) =>
  (
    await json<{
      items: { type: string; reason: string; message: string; involvedObject: { name: string } }[];
    }>(["get", "events", "-n", ns])
  ).items
    .filter((e) => e.involvedObject.name === name)
    .map((e) => `${e.type}/${e.reason}: ${e.message}`);
const recordedHash = async (kind: string, ns: string, name: string) =>
  (await workload(kind, ns, name)).metadata.annotations?.[hashKey];
const secretRef = { [optIn]: "c1-hub-credentials" };

t.test("enrolment; then workloads created with the opt-in record the hash and keep running", async (t) => {
  await plane.apply(certificateRequest("c1", await hub.tokenUrl(), hub.caPem));
  await waitFor("c1 Ready", async () =>
    readyCondition(await connection())?.status === "True" ? true : undefined,
  );
  // Created before the renewal below, annotated only after it: adopted by one roll.
  await plane.apply(manifest("Deployment", namespace, "late", {}));
  await plane.apply([
    manifest("Deployment", namespace, "web", secretRef),
    manifest("StatefulSet", "team-a", "db", secretRef),
    manifest("DaemonSet", "team-a", "node-agent", secretRef),
    manifest("Deployment", "team-b", "denied", secretRef),
    manifest("Deployment", "team-c", "outside", secretRef),
  ]);
  for (const [kind, ns, name] of [
    ["Deployment", namespace, "web"],
    ["StatefulSet", "team-a", "db"],
    ["DaemonSet", "team-a", "node-agent"],
  ] as const) {
    const hash = await waitFor(`${kind} ${name}: hash recorded`, () => recordedHash(kind, ns, name));
    t.match(hash, /^[0-9a-f]{16}$/, `${kind} ${ns}/${name}: hash recorded`);
    t.equal(
      (await workload(kind, ns, name)).spec.template.metadata?.annotations?.[hashKey],
      undefined,
      "template untouched",
    );
  }
  t.equal(
    (
      await waitFor("the first ReplicaSet of web", async () =>
        (await replicaSets("web")).length > 0 ? replicaSets("web") : undefined,
      )
    ).length,
    1,
  );
  t.ok(
    (await events(namespace, "web")).some((e) =>
      /^Normal\/CredentialRecorded: recorded credential hash [0-9a-f]{16} on Deployment tether-system\/web: adopted: created after/.test(
        e,
      ),
    ),
    "an Event on the Deployment says the hash was recorded, and why",
  );
});

t.test("a Secret change that touches neither certificate, key nor CA, then renewNow", async (t) => {
  // Relabelled first: had it counted, web would have a revision more than the renewal explains.
  await plane.kubectl(["label", "secret", "c1-hub-credentials", "-n", namespace, "team=payments"]);
  await plane.kubectl(["annotate", "secret", "c1-hub-credentials", "-n", namespace, "note=unrelated"]);
  const before = await recordedHash("Deployment", namespace, "web");
  const serialBefore = await leafSerial();
  await plane.kubectl([
    "patch",
    "centralconnection",
    "c1",
    "--type",
    "merge",
    "-p",
    '{"spec":{"renewNow":true}}',
  ]);
  const serial = await waitFor("a renewed certificate", async () => {
    const now = await leafSerial();
    return now !== serialBefore ? now : undefined;
  });

  const second = await waitFor("ReplicaSet revision 2 of web", async () =>
    (await replicaSets("web")).find((rs) => rs.metadata.annotations?.[revisionKey] === "2"),
  );
  const web = await workload("Deployment", namespace, "web");
  const hash = web.metadata.annotations?.[hashKey];
  t.not(hash, before, "a new hash");
  t.equal(second.spec?.template?.metadata?.annotations?.[hashKey], hash, "the new ReplicaSet carries it");
  t.match(
    second.spec?.template?.metadata?.annotations?.[restartedAtKey],
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
  );
  t.equal((await replicaSets("web")).length, 2, "exactly two ReplicaSets: the relabelling rolled nothing");
  const history = await plane.kubectl(["rollout", "history", "deployment/web", "-n", namespace]);
  t.match(history.stdout, /REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>/, "kubectl rollout history");

  for (const [kind, name] of [
    ["StatefulSet", "db"],
    ["DaemonSet", "node-agent"],
  ] as const) {
    const revisions = await waitFor(`${kind} ${name}: a second ControllerRevision`, async () => {
      const found = await controllerRevisions(name, "team-a");
      return found.some((r) => r.revision === 2) ? found : undefined;
    });
    t.equal(revisions.length, 2, `${kind} team-a/${name}: revisions 1 and 2`);
    t.equal(
      (await workload(kind, "team-a", name)).spec.template.metadata?.annotations?.[hashKey],
      await recordedHash(kind, "team-a", name),
    );
  }

  const message = `rolled Deployment ${namespace}/web: certificate renewed, serial ${serial}`;
  t.ok((await events(namespace, "web")).includes(`Normal/Rolled: ${message}`), "Event on the Deployment");
  t.ok(
    (await events("default", "c1")).includes(`Normal/Rolled: ${message}`),
    "Event on the CentralConnection",
  );
  const metrics = await (await fetch(spoke.metricsUrl)).text();
  for (const kind of ["Deployment", "StatefulSet", "DaemonSet"])
    t.match(metrics, `tether_spoke_workload_restarts_total{connection="c1",kind="${kind}"} 1`);
  const rollouts = (await connection()).status?.rollouts ?? [];
  t.match(
    rollouts.find((r) => r.name === "web" && r.result === "Rolled"),
    { kind: "Deployment", namespace, reason: "CredentialChanged", message, hash },
    "status.rollouts",
  );
});

t.test("outside the rollout namespaces: left alone; denied: visible, not fatal", async (t) => {
  const cc = await waitFor("the team-b denial in status.rollouts", async () => {
    const found = await connection();
    return found.status?.rollouts?.some((r) => r.namespace === "team-b" && r.reason === "Forbidden")
      ? found
      : undefined;
  });
  t.match(
    cc.status?.rollouts?.find((r) => r.namespace === "team-b" && r.kind === "Deployment"),
    { result: "Failed", reason: "Forbidden", message: /not allowed to list Deployments in namespace team-b/ },
  );
  t.ok(
    (await events("default", "c1")).some((e) =>
      /^Warning\/RolloutFailed: not allowed to list Deployments in namespace team-b/.test(e),
    ),
    "a Warning Event on the CentralConnection",
  );
  t.equal(readyCondition(cc)?.status, "True", "the connection is Ready");
  t.equal(cc.spec.renewNow, false, "and renewed all the same");
  for (const [ns, name] of [
    ["team-b", "denied"],
    ["team-c", "outside"],
  ] as const) {
    const left = await workload("Deployment", ns, name);
    t.equal(left.metadata.annotations?.[hashKey], undefined, `${ns}/${name}: no hash`);
    t.equal(left.spec.template.metadata?.annotations, undefined, `${ns}/${name}: template untouched`);
    t.equal((await replicaSets(name, ns)).length, 1, `${ns}/${name}: one ReplicaSet`);
  }
  t.notOk(
    (await connection()).status?.rollouts?.some((r) => r.namespace === "team-c"),
    "team-c is not looked at",
  );
  t.ok(spoke.process.running(), "the agent runs on");
});

t.test("annotated after the fact: a workload older than the certificate rolls once", async (t) => {
  await plane.kubectl(["annotate", "deployment", "late", "-n", namespace, `${optIn}=c1-hub-credentials`]);
  const second = await waitFor("ReplicaSet revision 2 of late", async () =>
    (await replicaSets("late")).find((rs) => rs.metadata.annotations?.[revisionKey] === "2"),
  );
  t.equal(
    second.spec?.template?.metadata?.annotations?.[hashKey],
    await recordedHash("Deployment", namespace, "late"),
  );
  t.match(
    (await connection()).status?.rollouts?.find((r) => r.name === "late"),
    { result: "Rolled", reason: "AdoptedOlder", message: /created before the current certificate/ },
  );
  // Several resyncs later: still two ReplicaSets (the hash is in place: no second patch).
  const rolledAt = (await connection()).status?.rollouts?.find((r) => r.name === "late")?.time;
  await waitFor("another look at every workload", async () => {
    const lastSync = (await connection()).status?.synchronizationStatus?.lastSync;
    return lastSync !== undefined &&
      rolledAt !== undefined &&
      Date.parse(lastSync) > Date.parse(rolledAt) + 6_000
      ? true
      : undefined;
  });
  t.equal((await replicaSets("late")).length, 2);
});
