/**
 * The KubePort on @kubernetes/client-node 2.x. Only the client's connection layer is used: the
 * KubeConfig's authentication (token, client certificate, exec plugin, proxy) applied to each
 * request (transport.ts, on Node's https). The generated API classes are not: the spoke calls nine
 * REST paths, and loading CoreV1Api & co. brings every model class of the Kubernetes API with it
 * (docs/footprint.md); nor is its Watch, which needs undici's WebAssembly parser (watch.ts does the
 * same on Node's https). Objects travel as the API server's JSON; API errors become the port's
 * ConflictError / NotFoundError / KubeError, and reads of missing objects answer undefined.
 * Watches list, then watch from the list's resourceVersion, and restart after errors until stopped.
 */
import type { KubeConfig, KubernetesObject, V1Lease, V1Secret } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { ClusterObjects, KubePort, WatchHandler, Watcher } from "./port.ts";
import { ConflictError, KubeError, NotFoundError } from "./port.ts";
import type { CentralConnection, CertificateRequest, ObjectMeta, Workload, WorkloadKind } from "./types.ts";
import { type Open, type Query, type KubeRequest, kubeTransport, readText } from "./transport.ts";
import { apiGroup, apiVersionName, plurals } from "./types.ts";
import { watchStream } from "./watch.ts";

const restartDelayMs = 2_000;
/** A request (not a watch) that the API server has not answered by then fails and is retried by its caller. */
const requestTimeoutMs = 60_000;
const maxQuietReconnectDelayMs = 30_000;

/** What a list call answers; CR types keep RFC 3339 strings, and so do Secrets and Events here. */
interface Listed<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

export function clientNodeKube(config: KubeConfig, logger: Logger): KubePort {
  const open = kubeTransport(config);

  async function rest<T>(
    method: KubeRequest["method"],
    path: string,
    query: Query = {},
    body?: unknown,
    contentType = "application/json",
  ): Promise<T> {
    const signal = AbortSignal.timeout(requestTimeoutMs);
    const response = await open({
      method,
      path,
      query,
      body: body === undefined ? undefined : JSON.stringify(body),
      contentType,
      signal,
    });
    const text = await readText(response);
    const status = response.statusCode ?? 0;
    if (status < 200 || status > 299) throw statusError(status, text);
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  const get = <T>(path: string) => orUndefined(() => rest<T>("GET", path));
  const post = <T>(path: string, body: unknown) => rest<T>("POST", path, {}, body);
  const put = <T>(path: string, body: unknown) => rest<T>("PUT", path, {}, body);
  const remove = async (path: string) =>
    (await orUndefined(async () => (await rest("DELETE", path), true))) ?? false;

  function clusterObjects<T extends CertificateRequest | CentralConnection>(
    plural: (typeof plurals)[keyof typeof plurals],
  ): ClusterObjects<T> {
    const base = `/apis/${apiGroup}/${apiVersionName}/${plural}`;
    const at = (name: string) => `${base}/${encodeURIComponent(name)}`;
    const list = () => rest<Listed<T>>("GET", base);
    return {
      get: (name) => get<T>(at(name)),
      list: async () => (await list()).items,
      watch: (handler) => informer(open, base, list, handler, logger),
      create: (body) => post<T>(base, body),
      update: (body) => put<T>(at(body.metadata.name), body),
      updateStatus: (body) => put<T>(`${at(body.metadata.name)}/status`, body),
      delete: (name) => remove(at(name)),
    };
  }

  const namespaced = (group: string, namespace: string, plural: string, name?: string) =>
    `${group}/namespaces/${encodeURIComponent(namespace)}/${plural}` +
    (name === undefined ? "" : `/${encodeURIComponent(name)}`);
  const secrets = (namespace: string, name?: string) => namespaced("/api/v1", namespace, "secrets", name);
  const leases = (namespace: string, name?: string) =>
    namespaced("/apis/coordination.k8s.io/v1", namespace, "leases", name);
  const workloads = (kind: WorkloadKind, namespace: string, name?: string) =>
    namespaced("/apis/apps/v1", namespace, `${kind.toLowerCase()}s`, name);
  const listWorkloads = (kind: WorkloadKind, namespace: string) =>
    rest<Listed<WorkloadJson>>("GET", workloads(kind, namespace));

  return {
    certificateRequests: clusterObjects<CertificateRequest>(plurals.CertificateRequest),
    centralConnections: clusterObjects<CentralConnection>(plurals.CentralConnection),
    secrets: {
      get: (namespace, name) => get(secrets(namespace, name)),
      create: (body) => post(secrets(body.metadata?.namespace ?? ""), body),
      replace: (body) => put(secrets(body.metadata?.namespace ?? "", body.metadata?.name ?? ""), body),
      delete: (namespace, name) => remove(secrets(namespace, name)),
      watch: (namespace, labelSelector, handler) =>
        informer(
          open,
          secrets(namespace),
          () => rest<Listed<V1Secret>>("GET", secrets(namespace), { labelSelector }),
          handler,
          logger,
          labelSelector,
        ),
    },
    events: {
      create: async (body) => {
        await post(namespaced("/api/v1", body.metadata.namespace ?? "", "events"), body);
      },
    },
    leases: {
      get: async (namespace, name) => withDates(await get<V1Lease>(leases(namespace, name))),
      create: async (lease) => {
        const body = withMicroTimes(lease);
        return withDates(await post<V1Lease>(leases(body.metadata?.namespace ?? ""), body))!;
      },
      replace: async (lease) => {
        const body = withMicroTimes(lease);
        const path = leases(body.metadata?.namespace ?? "", body.metadata?.name ?? "");
        return withDates(await put<V1Lease>(path, body))!;
      },
    },
    workloads: {
      list: async (kind, namespace) =>
        (await listWorkloads(kind, namespace)).items.map((item) => workloadOf(kind, item)),
      watch: (kind, namespace, handler) =>
        informer(
          open,
          workloads(kind, namespace),
          () => listWorkloads(kind, namespace),
          (event) => handler({ type: event.type, object: workloadOf(kind, event.object) }),
          logger,
        ),
      patchAnnotations: async (kind, namespace, name, patch) => {
        // An absent map serialises to an empty object, which a merge patch leaves as it is.
        const body = {
          metadata: { annotations: patch.metadata },
          spec: { template: { metadata: { annotations: patch.template } } },
        };
        const path = workloads(kind, namespace, name);
        const patched = await rest<WorkloadJson>("PATCH", path, {}, body, "application/merge-patch+json");
        return workloadOf(kind, patched);
      },
    },
  };
}

/** An apps/v1 workload as the API server's JSON holds it: only what the port reads. */
interface WorkloadJson {
  metadata?: Partial<ObjectMeta>;
  spec?: { template?: { metadata?: { annotations?: Record<string, string> } } };
}

function workloadOf(kind: WorkloadKind, item: WorkloadJson): Workload {
  const meta = item.metadata ?? {};
  return {
    apiVersion: "apps/v1",
    kind,
    metadata: {
      name: meta.name ?? "",
      namespace: meta.namespace,
      uid: meta.uid,
      resourceVersion: meta.resourceVersion,
      generation: meta.generation,
      creationTimestamp: meta.creationTimestamp,
      labels: meta.labels,
      annotations: meta.annotations,
    },
    spec: { template: { metadata: { annotations: item.spec?.template?.metadata?.annotations } } },
  };
}

/**
 * A Lease's acquireTime and renewTime are MicroTime: the API server refuses a Date's toISOString()
 * (milliseconds: "cannot parse .366Z as .000000"), so they are sent in the microsecond form.
 */
function withMicroTimes(lease: V1Lease): V1Lease {
  const micro = (value: Date | undefined) =>
    (value instanceof Date ? value.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z") : value) as
      Date | undefined;
  if (lease.spec === undefined) return lease;
  return {
    ...lease,
    spec: {
      ...lease.spec,
      acquireTime: micro(lease.spec.acquireTime),
      renewTime: micro(lease.spec.renewTime),
    },
  };
}

/** The port's V1Lease carries Dates, as client-node's generated API would have given them. */
function withDates(lease: V1Lease | undefined): V1Lease | undefined {
  if (lease?.spec === undefined) return lease;
  const date = (value: Date | string | undefined) => (typeof value === "string" ? new Date(value) : value);
  lease.spec.acquireTime = date(lease.spec.acquireTime);
  lease.spec.renewTime = date(lease.spec.renewTime);
  return lease;
}

async function orUndefined<T>(request: () => Promise<T>): Promise<T | undefined> {
  try {
    return await request();
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/** The API server's Status body says what happened; keep its message and reason. */
function statusError(code: number, text: string): Error {
  const status = readStatus(text);
  const message = status.message ?? `Kubernetes API answered ${code}`;
  if (code === 409)
    return new ConflictError(message, status.reason === "AlreadyExists" ? "AlreadyExists" : "Conflict");
  if (code === 404) return new NotFoundError(message);
  return new KubeError(message, code);
}

function readStatus(text: string): { message?: string; reason?: string } {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null) return parsed;
  } catch {
    // Not a Status object: the HTTP code alone has to do.
  }
  return {};
}

/**
 * List, then watch from the list's resourceVersion, as client-go's reflector does. A relist (at
 * start, after a 410 Gone) reports what changed against what this watcher has reported so far:
 * ADDED, MODIFIED (another resourceVersion) or DELETED. A watch the server or the idle timeout
 * ends is resumed at once, one that keeps ending with nothing to say after a growing pause; an
 * error is logged and the watch restarts after restartDelayMs. The stopped flag keeps a stopped
 * watcher from restarting.
 */
function informer<T>(
  open: Open,
  path: string,
  list: () => Promise<Listed<T>>,
  handler: WatchHandler<T>,
  logger: Logger,
  labelSelector?: string,
): Watcher {
  const known = new Map<string, T>();
  let resourceVersion = "";
  let stopped = false;
  let quietEnds = 0;
  let timer: NodeJS.Timeout | undefined;
  let request: AbortController | undefined;
  const meta = (object: T) => (object as KubernetesObject).metadata ?? {};
  const key = (object: T) => `${meta(object).namespace ?? ""}/${meta(object).name ?? ""}`;

  const upsert = (object: T) => {
    const previous = known.get(key(object));
    known.set(key(object), object);
    if (previous === undefined) handler({ type: "ADDED", object });
    else if (meta(previous).resourceVersion !== meta(object).resourceVersion)
      handler({ type: "MODIFIED", object });
  };
  const remove = (object: T) => {
    known.delete(key(object));
    handler({ type: "DELETED", object });
  };

  const connect = async () => {
    if (stopped) return;
    try {
      if (resourceVersion === "") {
        const listed = await list();
        const present = new Set(listed.items.map(key));
        for (const [name, object] of known) if (!present.has(name)) remove(object);
        listed.items.forEach(upsert);
        resourceVersion = listed.metadata?.resourceVersion ?? "";
      }
      if (stopped) return;
      request = watchStream(open, path, { resourceVersion, labelSelector }, onEvent, onDone);
    } catch (error) {
      onDone(error);
    }
  };
  const later = (delayMs: number) => {
    clearTimeout(timer);
    timer = setTimeout(() => void connect(), delayMs);
  };
  const onEvent = (type: string, object: T & { code?: number }) => {
    if (type === "ERROR") {
      if (object.code === 410) resourceVersion = "";
      return;
    }
    if (type === "ADDED" || type === "MODIFIED") upsert(object);
    else if (type === "DELETED") remove(object);
    quietEnds = 0;
    resourceVersion = meta(object).resourceVersion ?? resourceVersion;
  };
  const onDone = (error: unknown) => {
    request = undefined;
    if (stopped) return;
    const failure = error as { statusCode?: number; code?: number; name?: string } | null | undefined;
    if (failure?.statusCode === 410 || failure?.code === 410) {
      resourceVersion = "";
      later(0);
    } else if (failure?.name === "TimeoutError") {
      later(0);
    } else if (failure) {
      logger.warn({ err: error, path }, "watch failed; restarting");
      later(restartDelayMs);
    } else {
      later(quietEnds === 0 ? 0 : Math.min(1000 * 2 ** (quietEnds - 1), maxQuietReconnectDelayMs));
      quietEnds++;
    }
  };
  void connect();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      request?.abort();
    },
  };
}
