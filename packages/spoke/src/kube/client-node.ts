/**
 * The KubePort on @kubernetes/client-node 2.x (object-parameter API). API errors become the port's
 * ConflictError / NotFoundError / KubeError; reads of missing objects answer undefined. Watches are
 * list-then-watch informers that restart after errors until stopped; the stopped flag matters
 * because `informer.stop()` itself reports an "error".
 */
import {
  ApiException,
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  PatchStrategy,
  type V1Lease,
  type V1ObjectMeta,
  type V1PodTemplateSpec,
  Watch,
  setHeaderOptions,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { ClusterObjects, KubePort, WatchHandler, Watcher } from "./port.ts";
import { ConflictError, KubeError, NotFoundError } from "./port.ts";
import type { CentralConnection, CertificateRequest, Workload, WorkloadKind } from "./types.ts";
import { apiGroup, apiVersionName, plurals } from "./types.ts";

const restartDelayMs = 2_000;

export function clientNodeKube(config: KubeConfig, logger: Logger): KubePort {
  const custom = config.makeApiClient(CustomObjectsApi);
  const core = config.makeApiClient(CoreV1Api);
  const coordination = config.makeApiClient(CoordinationV1Api);
  const apps = config.makeApiClient(AppsV1Api);
  const listWorkloads = (kind: WorkloadKind, namespace: string) =>
    call(() =>
      kind === "Deployment"
        ? apps.listNamespacedDeployment({ namespace })
        : kind === "StatefulSet"
          ? apps.listNamespacedStatefulSet({ namespace })
          : apps.listNamespacedDaemonSet({ namespace }),
    );
  const watch = new Watch(config);

  function clusterObjects<T extends CertificateRequest | CentralConnection>(
    plural: (typeof plurals)[keyof typeof plurals],
  ): ClusterObjects<T> {
    const at = { group: apiGroup, version: apiVersionName, plural };
    const list = async () => (await call(() => custom.listClusterCustomObject(at))) as Listed<T>;
    return {
      get: (name) => orUndefined(() => custom.getClusterCustomObject({ ...at, name }) as Promise<T>),
      list: async () => (await list()).items,
      watch: (handler) =>
        informer(watch, `/apis/${apiGroup}/${apiVersionName}/${plural}`, list, handler, logger),
      create: (body) => call(() => custom.createClusterCustomObject({ ...at, body }) as Promise<T>),
      update: (body) =>
        call(
          () => custom.replaceClusterCustomObject({ ...at, name: body.metadata.name, body }) as Promise<T>,
        ),
      updateStatus: (body) =>
        call(
          () =>
            custom.replaceClusterCustomObjectStatus({ ...at, name: body.metadata.name, body }) as Promise<T>,
        ),
      delete: (name) => deleted(() => custom.deleteClusterCustomObject({ ...at, name })),
    };
  }

  return {
    certificateRequests: clusterObjects<CertificateRequest>(plurals.CertificateRequest),
    centralConnections: clusterObjects<CentralConnection>(plurals.CentralConnection),
    secrets: {
      get: (namespace, name) => orUndefined(() => core.readNamespacedSecret({ namespace, name })),
      create: (body) =>
        call(() => core.createNamespacedSecret({ namespace: body.metadata?.namespace ?? "", body })),
      replace: (body) =>
        call(() =>
          core.replaceNamespacedSecret({
            namespace: body.metadata?.namespace ?? "",
            name: body.metadata?.name ?? "",
            body,
          }),
        ),
      delete: (namespace, name) => deleted(() => core.deleteNamespacedSecret({ namespace, name })),
      watch: (namespace, labelSelector, handler) =>
        informer(
          watch,
          `/api/v1/namespaces/${namespace}/secrets`,
          () => call(() => core.listNamespacedSecret({ namespace, labelSelector })),
          handler,
          logger,
          labelSelector,
        ),
    },
    events: {
      create: async (body) => {
        await call(() => core.createNamespacedEvent({ namespace: body.metadata.namespace ?? "", body }));
      },
    },
    leases: {
      get: (namespace, name) => orUndefined(() => coordination.readNamespacedLease({ namespace, name })),
      create: (lease) => {
        const body = withMicroTimes(lease);
        return call(() =>
          coordination.createNamespacedLease({ namespace: body.metadata?.namespace ?? "", body }),
        );
      },
      replace: (lease) => {
        const body = withMicroTimes(lease);
        return call(() =>
          coordination.replaceNamespacedLease({
            namespace: body.metadata?.namespace ?? "",
            name: body.metadata?.name ?? "",
            body,
          }),
        );
      },
    },
    workloads: {
      list: async (kind, namespace) =>
        (await listWorkloads(kind, namespace)).items.map((item) => workloadOf(kind, item)),
      watch: (kind, namespace, handler) =>
        informer(
          watch,
          `/apis/apps/v1/namespaces/${namespace}/${kind.toLowerCase()}s`,
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
        const mergePatch = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
        const request = { namespace, name, body };
        const patched = await call(() =>
          kind === "Deployment"
            ? apps.patchNamespacedDeployment(request, mergePatch)
            : kind === "StatefulSet"
              ? apps.patchNamespacedStatefulSet(request, mergePatch)
              : apps.patchNamespacedDaemonSet(request, mergePatch),
        );
        return workloadOf(kind, patched);
      },
    },
  };
}

/** client-node's apps/v1 objects (Dates in metadata) as the port's Workload (RFC 3339 strings). */
function workloadOf(
  kind: WorkloadKind,
  item: { metadata?: V1ObjectMeta; spec?: { template?: V1PodTemplateSpec } },
): Workload {
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
      creationTimestamp: dateText(meta.creationTimestamp),
      labels: meta.labels,
      annotations: meta.annotations,
    },
    spec: { template: { metadata: { annotations: item.spec?.template?.metadata?.annotations } } },
  };
}

function dateText(value: Date | string | undefined): string | undefined {
  return value instanceof Date ? value.toISOString() : value;
}

/**
 * client-node 2.0.1 sends a Date in a MicroTime field as toISOString() (milliseconds), which the API
 * server refuses ("cannot parse .366Z as .000000"): send the microsecond form it expects.
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

async function call<T>(request: () => Promise<T>): Promise<T> {
  try {
    return await request();
  } catch (error) {
    throw translate(error);
  }
}

async function orUndefined<T>(request: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call(request);
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

async function deleted(request: () => Promise<unknown>): Promise<boolean> {
  return (await orUndefined(async () => (await request(), true))) ?? false;
}

/** The API server's Status body says what happened; keep its message and reason. */
function translate(error: unknown): Error {
  if (!(error instanceof ApiException)) return error instanceof Error ? error : new Error(String(error));
  const status = readStatus((error as ApiException<unknown>).body);
  const message = status.message ?? `Kubernetes API answered ${error.code}`;
  if (error.code === 409)
    return new ConflictError(message, status.reason === "AlreadyExists" ? "AlreadyExists" : "Conflict");
  if (error.code === 404) return new NotFoundError(message);
  return new KubeError(message, error.code);
}

function readStatus(body: unknown): { message?: string; reason?: string } {
  try {
    const parsed: unknown = typeof body === "string" ? JSON.parse(body) : body;
    if (typeof parsed === "object" && parsed !== null) return parsed;
  } catch {
    // Not a Status object: the HTTP code alone has to do.
  }
  return {};
}

/** What a list call answers; CR types keep RFC 3339 strings, so they are not client-node's objects. */
interface Listed<T> {
  items: T[];
  metadata?: { resourceVersion?: string };
}

function informer<T>(
  watch: Watch,
  path: string,
  list: () => Promise<Listed<T>>,
  handler: WatchHandler<T>,
  logger: Logger,
  labelSelector?: string,
): Watcher {
  const listFn = list as unknown as () => Promise<KubernetesListObject<KubernetesObject>>;
  const listWatch = new ListWatch<KubernetesObject>(path, watch, listFn, false, labelSelector);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const emit = (type: "ADDED" | "MODIFIED" | "DELETED") => (object: KubernetesObject) =>
    handler({ type, object: object as unknown as T });
  listWatch.on("add", emit("ADDED"));
  listWatch.on("update", emit("MODIFIED"));
  listWatch.on("delete", emit("DELETED"));
  const start = () => {
    listWatch.start().catch((error: unknown) => restart(error));
  };
  const restart = (error: unknown) => {
    if (stopped) return;
    logger.warn({ err: error, path }, "watch failed; restarting");
    clearTimeout(timer);
    timer = setTimeout(start, restartDelayMs);
  };
  listWatch.on("error", restart);
  start();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      void listWatch.stop();
    },
  };
}
