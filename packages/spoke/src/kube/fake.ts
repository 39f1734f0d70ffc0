/**
 * An in-memory KubePort for unit tests, with the API server's semantics that the controllers rely
 * on: resourceVersion on every write and 409 on a stale one, AlreadyExists on create, generation
 * bumped by spec changes only, status kept apart as a subresource, and watch events (ADDED for
 * what exists, then every change) delivered asynchronously as deep copies.
 */
import { isDeepStrictEqual } from "node:util";
import type { CoreV1Event, V1Lease, V1Secret } from "@kubernetes/client-node";
import type { ClusterObjects, KubePort, WatchEvent, WatchHandler, Watcher } from "./port.ts";
import { ConflictError, NotFoundError } from "./port.ts";
import type { CentralConnection, CertificateRequest, Workload, WorkloadKind } from "./types.ts";

interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: unknown;
}

interface Stored {
  metadata?: Meta;
  spec?: unknown;
  status?: unknown;
}

/** Called before every operation, e.g. "secrets.replace"; a returned error is thrown instead. */
export type Interceptor = (operation: string) => Error | undefined;

class Shared {
  resourceVersion = 0;
  uid = 0;
  intercept: Interceptor = () => undefined;
  check(operation: string): void {
    const error = this.intercept(operation);
    if (error) throw error;
  }
  nextVersion(): string {
    return String(++this.resourceVersion);
  }
}

interface Subscription<T> {
  handler: WatchHandler<T>;
  matches: (object: T) => boolean;
  stopped: boolean;
}

/** One kind of object, keyed by "namespace/name". */
class Collection<T extends Stored> {
  readonly #shared: Shared;
  readonly #kind: string;
  readonly #statusSubresource: boolean;
  readonly objects = new Map<string, T>();
  #subscriptions: Subscription<T>[] = [];

  constructor(shared: Shared, kind: string, statusSubresource: boolean) {
    this.#shared = shared;
    this.#kind = kind;
    this.#statusSubresource = statusSubresource;
  }

  get(namespace: string, name: string, operation: string): T | undefined {
    this.#shared.check(operation);
    const found = this.objects.get(key(namespace, name));
    return found === undefined ? undefined : structuredClone(found);
  }

  list(operation: string): T[] {
    this.#shared.check(operation);
    return [...this.objects.values()].map((object) => structuredClone(object));
  }

  create(object: T, operation: string): T {
    this.#shared.check(operation);
    const k = keyOf(object);
    if (this.objects.has(k)) {
      throw new ConflictError(`${this.#kind} "${object.metadata?.name}" already exists`, "AlreadyExists");
    }
    const stored = structuredClone(object);
    stored.metadata = {
      ...stored.metadata,
      uid: `uid-${++this.#shared.uid}`,
      resourceVersion: this.#shared.nextVersion(),
      generation: 1,
      creationTimestamp: new Date().toISOString(),
    };
    if (this.#statusSubresource) delete stored.status;
    this.objects.set(k, stored);
    this.#emit("ADDED", stored);
    return structuredClone(stored);
  }

  update(object: T, part: "all" | "spec" | "status", operation: string): T {
    this.#shared.check(operation);
    const k = keyOf(object);
    const current = this.objects.get(k);
    if (current === undefined) {
      // The API server checks the uid the object carries as a precondition: a deleted object is a 409.
      if (object.metadata?.uid !== undefined) {
        throw new ConflictError(`Precondition failed: UID in precondition: ${object.metadata.uid}`);
      }
      throw new NotFoundError(`${this.#kind} "${object.metadata?.name}" not found`);
    }
    const sent = object.metadata?.resourceVersion;
    if (sent !== undefined && sent !== current.metadata?.resourceVersion) {
      throw new ConflictError(
        `Operation cannot be fulfilled on ${this.#kind} "${object.metadata?.name}": the object has been modified`,
      );
    }
    const next = structuredClone(object);
    if (part === "status") {
      next.metadata = current.metadata;
      next.spec = current.spec;
    } else if (part === "spec") {
      next.status = current.status;
    }
    // As the API server compares: values as JSON holds them (undefined members dropped), key order aside.
    // A Deployment's annotations are copied to its ReplicaSets: the API server counts them as spec.
    const annotationsCount = this.#kind === "deployments";
    const specChanged =
      !isDeepStrictEqual(asJson(next.spec), asJson(current.spec)) ||
      (annotationsCount &&
        !isDeepStrictEqual(asJson(next.metadata?.annotations), asJson(current.metadata?.annotations)));
    next.metadata = {
      ...next.metadata,
      uid: current.metadata?.uid,
      creationTimestamp: current.metadata?.creationTimestamp,
      resourceVersion: this.#shared.nextVersion(),
      generation: (current.metadata?.generation ?? 1) + (specChanged ? 1 : 0),
    };
    this.objects.set(k, next);
    this.#emit("MODIFIED", next);
    return structuredClone(next);
  }

  delete(namespace: string, name: string, operation: string): boolean {
    this.#shared.check(operation);
    const k = key(namespace, name);
    const current = this.objects.get(k);
    if (current === undefined) return false;
    this.objects.delete(k);
    this.#emit("DELETED", current);
    return true;
  }

  watch(handler: WatchHandler<T>, matches: (object: T) => boolean): Watcher {
    const subscription: Subscription<T> = { handler, matches, stopped: false };
    this.#subscriptions.push(subscription);
    const existing = [...this.objects.values()].filter(matches).map((o) => structuredClone(o));
    queueMicrotask(() => {
      for (const object of existing) deliver(subscription, { type: "ADDED", object });
    });
    return {
      stop: () => {
        subscription.stopped = true;
        this.#subscriptions = this.#subscriptions.filter((s) => s !== subscription);
      },
    };
  }

  #emit(type: WatchEvent<T>["type"], object: T): void {
    for (const subscription of this.#subscriptions) {
      if (!subscription.matches(object)) continue;
      const copy = structuredClone(object);
      queueMicrotask(() => deliver(subscription, { type, object: copy }));
    }
  }
}

/** Runs synchronously but answers like an API call: a promise, with throws as rejections. */
function later<T>(work: () => T): Promise<T> {
  return new Promise<T>((resolve) => resolve(work()));
}

function deliver<T>(subscription: Subscription<T>, event: WatchEvent<T>): void {
  if (!subscription.stopped) subscription.handler(event);
}

function key(namespace: string | undefined, name: string | undefined): string {
  return `${namespace ?? ""}/${name ?? ""}`;
}

function keyOf(object: Stored): string {
  return key(object.metadata?.namespace, object.metadata?.name);
}

function clusterObjects<T extends Stored>(collection: Collection<T>, prefix: string): ClusterObjects<T> {
  return {
    get: (name) => later(() => collection.get("", name, `${prefix}.get`)),
    list: () => later(() => collection.list(`${prefix}.list`)),
    watch: (handler) => collection.watch(handler, () => true),
    create: (object) => later(() => collection.create(object, `${prefix}.create`)),
    update: (object) => later(() => collection.update(object, "spec", `${prefix}.update`)),
    updateStatus: (object) => later(() => collection.update(object, "status", `${prefix}.updateStatus`)),
    delete: (name) => later(() => collection.delete("", name, `${prefix}.delete`)),
  };
}

/** Equality-based selectors only ("a=b,c=d"), which is all the spoke uses. */
function selectorMatches(selector: string, labels: Record<string, string> | undefined): boolean {
  return selector
    .split(",")
    .filter((term) => term !== "")
    .every((term) => {
      const [name, value] = term.split("=");
      return labels?.[name ?? ""] === value;
    });
}

export class FakeKube implements KubePort {
  readonly #shared = new Shared();
  readonly certificateRequestStore = new Collection<CertificateRequest>(
    this.#shared,
    "certificaterequests",
    true,
  );
  readonly centralConnectionStore = new Collection<CentralConnection>(
    this.#shared,
    "centralconnections",
    true,
  );
  readonly secretStore = new Collection<V1Secret>(this.#shared, "secrets", false);
  readonly leaseStore = new Collection<V1Lease>(this.#shared, "leases", false);
  /** Every Event created, oldest first. */
  readonly recordedEvents: CoreV1Event[] = [];

  readonly certificateRequests = clusterObjects(this.certificateRequestStore, "certificateRequests");
  readonly centralConnections = clusterObjects(this.centralConnectionStore, "centralConnections");

  readonly secrets: KubePort["secrets"] = {
    get: (namespace, name) => later(() => this.secretStore.get(namespace, name, "secrets.get")),
    create: (secret) => later(() => this.secretStore.create(secret, "secrets.create")),
    replace: (secret) => later(() => this.secretStore.update(secret, "all", "secrets.replace")),
    delete: (namespace, name) => later(() => this.secretStore.delete(namespace, name, "secrets.delete")),
    watch: (namespace, labelSelector, handler) =>
      this.secretStore.watch(
        handler,
        (secret) =>
          secret.metadata?.namespace === namespace && selectorMatches(labelSelector, secret.metadata.labels),
      ),
  };

  readonly events: KubePort["events"] = {
    create: (event) =>
      later(() => {
        this.#shared.check("events.create");
        this.recordedEvents.push(structuredClone(event));
      }),
  };

  readonly leases: KubePort["leases"] = {
    get: (namespace, name) => later(() => this.leaseStore.get(namespace, name, "leases.get")),
    create: (lease) => later(() => this.leaseStore.create(lease, "leases.create")),
    replace: (lease) => later(() => this.leaseStore.update(lease, "all", "leases.replace")),
  };

  /** apps/v1 workloads by kind; tests create them here. Operations: "workloads.list <Kind> <ns>", "workloads.patch <Kind> <ns>/<name>". */
  readonly workloadStores: Record<WorkloadKind, Collection<Workload>> = {
    Deployment: new Collection<Workload>(this.#shared, "deployments", false),
    StatefulSet: new Collection<Workload>(this.#shared, "statefulsets", false),
    DaemonSet: new Collection<Workload>(this.#shared, "daemonsets", false),
  };

  readonly workloads: KubePort["workloads"] = {
    list: (kind, namespace) =>
      later(() =>
        this.workloadStores[kind]
          .list(`workloads.list ${kind} ${namespace}`)
          .filter((workload) => workload.metadata.namespace === namespace),
      ),
    watch: (kind, namespace, handler) =>
      this.workloadStores[kind].watch(handler, (workload) => workload.metadata.namespace === namespace),
    patchAnnotations: (kind, namespace, name, patch) =>
      later(() => {
        const operation = `workloads.patch ${kind} ${namespace}/${name}`;
        const store = this.workloadStores[kind];
        const current = store.get(namespace, name, operation);
        if (current === undefined) throw new NotFoundError(`${kind} "${name}" not found`);
        if (patch.metadata)
          current.metadata.annotations = { ...current.metadata.annotations, ...patch.metadata };
        if (patch.template) {
          const template = current.spec.template;
          template.metadata = {
            ...template.metadata,
            annotations: { ...template.metadata?.annotations, ...patch.template },
          };
        }
        return store.update(current, "all", operation);
      }),
  };

  /** Fault injection: see Interceptor. */
  set intercept(interceptor: Interceptor) {
    this.#shared.intercept = interceptor;
  }
}

function asJson(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}
