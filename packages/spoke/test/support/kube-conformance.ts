/**
 * One suite for both implementations of the KubePort (STYLE.md §4): the in-memory fake runs it in
 * the unit tests, the client-node adapter against a real kube-apiserver in the end-to-end tests, so
 * the semantics the controllers rely on are the API server's, not the fake's guess.
 */
import type { Test } from "tap";
import { ConflictError, type KubePort, NotFoundError, type WatchEvent } from "../../src/kube/port.ts";
import {
  apiVersion,
  type CentralConnection,
  type WorkloadKind,
  workloadKinds,
} from "../../src/kube/types.ts";

export interface ConformanceTarget {
  kube: KubePort;
  /** An existing namespace for Secrets and Leases. */
  namespace: string;
  /** Creates an apps/v1 object (the port only lists and patches them). */
  createWorkload: (manifest: WorkloadManifest) => Promise<void>;
}

/** A minimal valid Deployment, StatefulSet or DaemonSet. */
export function workloadManifest(
  kind: WorkloadKind,
  namespace: string,
  name: string,
  annotations: Record<string, string>,
  templateAnnotations: Record<string, string>,
) {
  const labels = { app: name };
  return {
    apiVersion: "apps/v1" as const,
    kind,
    metadata: { name, namespace, annotations },
    spec: {
      selector: { matchLabels: labels },
      ...(kind === "StatefulSet" ? { serviceName: name } : {}),
      template: {
        metadata: { labels, annotations: templateAnnotations },
        spec: { containers: [{ name: "app", image: "registry.invalid/app:1" }] },
      },
    },
  };
}
export type WorkloadManifest = ReturnType<typeof workloadManifest>;

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function connection(name: string): CentralConnection {
  return {
    apiVersion,
    kind: "CentralConnection",
    metadata: { name },
    spec: {
      managementInfoUrl: "https://hub.example/v1/runtimes/management/info",
      establishedAt: "2026-01-01T00:00:00Z",
    },
    status: { failedAttempts: 7 },
  };
}

export function runKubePortConformance(t: Test, target: () => Promise<ConformanceTarget>): void {
  const unique = (prefix: string) => `${prefix}-${Math.random().toString(36).slice(2, 8)}`;

  t.test("custom resources: create, conflicts, spec and status apart, delete", async (t) => {
    const { kube } = await target();
    const name = unique("conf");
    const objects = kube.centralConnections;
    t.equal(await objects.get(name), undefined, "missing: undefined");
    const created = await objects.create(connection(name));
    t.ok(created.metadata.uid && created.metadata.resourceVersion, "uid and resourceVersion");
    t.equal(created.metadata.generation, 1);
    t.equal(created.status, undefined, "status is not set by create");
    const again = await objects.create(connection(name)).catch((e: unknown) => e);
    t.ok(again instanceof ConflictError && again.reason === "AlreadyExists", "AlreadyExists");

    const withStatus = await objects.updateStatus({
      ...created,
      status: { failedAttempts: 2 },
      spec: { ...created.spec, renewNow: true },
    });
    t.equal(withStatus.status?.failedAttempts, 2);
    t.equal(withStatus.spec.renewNow, undefined, "updateStatus leaves spec alone");
    t.equal(withStatus.metadata.generation, 1, "status does not move the generation");
    const stale = await objects
      .updateStatus({ ...created, status: { failedAttempts: 3 } })
      .catch((e: unknown) => e);
    t.ok(stale instanceof ConflictError && stale.reason === "Conflict", "stale resourceVersion: Conflict");

    const updated = await objects.update({
      ...withStatus,
      spec: { ...withStatus.spec, renewNow: true },
      status: { failedAttempts: 9 },
    });
    t.equal(updated.spec.renewNow, true);
    t.equal(updated.status?.failedAttempts, 2, "update leaves status alone");
    t.equal(updated.metadata.generation, 2, "spec change moves the generation");
    const relabelled = await objects.update({
      ...updated,
      metadata: { ...updated.metadata, labels: { a: "b" } },
    });
    t.equal(relabelled.metadata.generation, 2, "metadata changes do not");
    t.same((await objects.list()).filter((o) => o.metadata.name === name).length, 1, "listed");

    t.equal(await objects.delete(name), true);
    t.equal(await objects.delete(name), false, "already gone");
    const deleted = await objects.update(relabelled).catch((e: unknown) => e);
    t.ok(
      deleted instanceof ConflictError,
      "update of a deleted object: Conflict (its uid is a precondition)",
    );
    const { uid: _uid, ...withoutUid } = relabelled.metadata;
    const missing = await objects.update({ ...relabelled, metadata: withoutUid }).catch((e: unknown) => e);
    t.ok(missing instanceof NotFoundError, "update of an object never seen: NotFoundError");
  });

  t.test("watches: what exists, then every change, nothing after stop", async (t) => {
    const { kube } = await target();
    const before = unique("watch");
    await kube.certificateRequests.create({
      apiVersion,
      kind: "CertificateRequest",
      metadata: { name: before },
      spec: { csrInfoUrl: "https://hub.example/v1/runtimes/signingRequests/info?token=t" },
    });
    const seen: WatchEvent<{ metadata: { name: string } }>[] = [];
    const watcher = kube.certificateRequests.watch((event) => seen.push(event));
    const saw = (type: string, name: string) => () =>
      seen.find((e) => e.type === type && e.object.metadata.name === name) ? true : undefined;
    await until("ADDED for the existing object", saw("ADDED", before));
    const after = unique("watch");
    const created = await kube.certificateRequests.create({
      apiVersion,
      kind: "CertificateRequest",
      metadata: { name: after },
      spec: { csrInfoUrl: "https://hub.example/v1/runtimes/signingRequests/info?token=u" },
    });
    await until("ADDED", saw("ADDED", after));
    await kube.certificateRequests.updateStatus({ ...created, status: { error: "nope" } });
    await until("MODIFIED", saw("MODIFIED", after));
    await kube.certificateRequests.delete(after);
    await until("DELETED", saw("DELETED", after));
    watcher.stop();
    const count = seen.length;
    await kube.certificateRequests.delete(before);
    await new Promise((resolve) => setTimeout(resolve, 300));
    t.equal(seen.length, count, "no events after stop");
  });

  t.test("Secrets: one-call writes, conflicts, label-selected watch", async (t) => {
    const { kube, namespace } = await target();
    const name = unique("secret");
    const labels = { "app.kubernetes.io/managed-by": "tether-spoke", "tether.dev/connection": name };
    const seen: string[] = [];
    const watcher = kube.secrets.watch(namespace, `app.kubernetes.io/managed-by=tether-spoke`, (e) =>
      seen.push(`${e.type}:${e.object.metadata?.name}`),
    );
    t.teardown(() => watcher.stop());
    t.equal(await kube.secrets.get(namespace, name), undefined);
    await kube.secrets.create({ metadata: { name: `${name}-other`, namespace }, data: { x: "eA==" } });
    const created = await kube.secrets.create({
      metadata: { name, namespace, labels },
      type: "kubernetes.io/tls",
      data: { "tls.crt": "YQ==", "tls.key": "Yg==" },
    });
    const again = await kube.secrets.create({ metadata: { name, namespace } }).catch((e: unknown) => e);
    t.ok(again instanceof ConflictError && again.reason === "AlreadyExists");
    const replaced = await kube.secrets.replace({
      ...created,
      data: { "tls.crt": "Yw==", "tls.key": "ZA==" },
    });
    t.same(replaced.data, { "tls.crt": "Yw==", "tls.key": "ZA==" });
    const stale = await kube.secrets.replace({ ...created, data: {} }).catch((e: unknown) => e);
    t.ok(stale instanceof ConflictError, "stale replace: Conflict");
    await until("ADDED and MODIFIED of the labelled Secret", () =>
      seen.includes(`ADDED:${name}`) && seen.includes(`MODIFIED:${name}`) ? true : undefined,
    );
    t.equal(await kube.secrets.delete(namespace, name), true);
    await until("DELETED", () => (seen.includes(`DELETED:${name}`) ? true : undefined));
    t.notOk(
      seen.some((s) => s.endsWith(`${name}-other`)),
      "the unlabelled Secret is not watched",
    );
    await kube.secrets.delete(namespace, `${name}-other`);
  });

  t.test("apps/v1 workloads: listed per namespace, annotated with one merge patch", async (t) => {
    const { kube, namespace, createWorkload } = await target();
    for (const kind of workloadKinds) {
      const name = unique(kind.toLowerCase());
      await createWorkload(workloadManifest(kind, namespace, name, { keep: "me" }, { "pod/keep": "me" }));
      const listed = (await kube.workloads.list(kind, namespace)).find((w) => w.metadata.name === name);
      t.match(listed, {
        apiVersion: "apps/v1",
        kind,
        metadata: { name, namespace, annotations: { keep: "me" } },
      });
      t.match(
        listed?.metadata.creationTimestamp,
        /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/,
        `${kind}: RFC 3339`,
      );
      t.same(listed?.spec.template.metadata?.annotations, { "pod/keep": "me" });
      const generation = listed?.metadata.generation;

      // The API server adds annotations of its own (a DaemonSet's template generation): match, not same.
      const recorded = await kube.workloads.patchAnnotations(kind, namespace, name, {
        metadata: { "a/b": "1" },
      });
      t.match(recorded.metadata.annotations, { keep: "me", "a/b": "1" }, `${kind}: merged into metadata`);
      // A Deployment's annotations are copied to its ReplicaSets, so they move its generation too
      // (but make no new ReplicaSet: the template is unchanged).
      const annotationMoves = kind === "Deployment" ? 1 : 0;
      t.equal(
        recorded.metadata.generation,
        (generation ?? 0) + annotationMoves,
        `${kind}: metadata annotations move the generation ${annotationMoves === 1 ? "(Deployment)" : "not"}`,
      );
      t.same(
        recorded.spec.template.metadata?.annotations,
        { "pod/keep": "me" },
        `${kind}: template unchanged`,
      );

      const rolled = await kube.workloads.patchAnnotations(kind, namespace, name, {
        metadata: { "a/b": "2" },
        template: { "a/b": "2", "a/c": "2026-01-01T00:00:00Z" },
      });
      t.match(rolled.metadata.annotations, { keep: "me", "a/b": "2" });
      t.same(
        rolled.spec.template.metadata?.annotations,
        { "pod/keep": "me", "a/b": "2", "a/c": "2026-01-01T00:00:00Z" },
        `${kind}: merged into the pod template`,
      );
      t.equal(
        rolled.metadata.generation,
        (recorded.metadata.generation ?? 0) + 1,
        `${kind}: one patch of both is one new generation`,
      );
    }
    t.same(await kube.workloads.list("Deployment", "kube-public"), [], "another namespace's are not listed");
    const seen: string[] = [];
    const watcher = kube.workloads.watch("StatefulSet", namespace, ({ type, object }) =>
      seen.push(
        `${type}:${object.kind}:${object.metadata.name}:${object.metadata.annotations?.["a/w"] ?? ""}`,
      ),
    );
    t.teardown(() => watcher.stop());
    const watched = unique("watched");
    await createWorkload(workloadManifest("StatefulSet", namespace, watched, {}, {}));
    await until("ADDED", () => (seen.includes(`ADDED:StatefulSet:${watched}:`) ? true : undefined));
    await kube.workloads.patchAnnotations("StatefulSet", namespace, watched, { metadata: { "a/w": "x" } });
    await until("MODIFIED with the annotation", () =>
      seen.includes(`MODIFIED:StatefulSet:${watched}:x`) ? true : undefined,
    );
    const missing = await kube.workloads
      .patchAnnotations("Deployment", namespace, unique("gone"), { metadata: { a: "b" } })
      .catch((e: unknown) => e);
    t.ok(missing instanceof NotFoundError, "a missing workload: NotFoundError");
  });

  t.test("Leases and Events", async (t) => {
    const { kube, namespace } = await target();
    const name = unique("lease");
    const now = new Date();
    const created = await kube.leases.create({
      metadata: { name, namespace },
      spec: {
        holderIdentity: "a",
        leaseDurationSeconds: 15,
        acquireTime: now,
        renewTime: now,
        leaseTransitions: 0,
      },
    });
    t.equal(created.spec?.holderIdentity, "a");
    const read = await kube.leases.get(namespace, name);
    t.equal(read?.metadata?.resourceVersion, created.metadata?.resourceVersion);
    const replaced = await kube.leases.replace({
      ...read,
      spec: { ...read?.spec, holderIdentity: "b", renewTime: new Date() },
    });
    t.equal(replaced.spec?.holderIdentity, "b");
    const stale = await kube.leases
      .replace({ ...read, spec: { ...read?.spec, holderIdentity: "c" } })
      .catch((e: unknown) => e);
    t.ok(stale instanceof ConflictError);
    t.equal(await kube.leases.get(namespace, unique("none")), undefined);

    await kube.events.create({
      metadata: { generateName: "conf.", namespace: "default" },
      involvedObject: { apiVersion, kind: "CentralConnection", name: "conf" },
      reason: "Issued",
      message: "an Event about a cluster-scoped object",
      type: "Normal",
      source: { component: "tether-spoke" },
      reportingComponent: "tether.dev/spoke",
      reportingInstance: "test",
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
  });
}
