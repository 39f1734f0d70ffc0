/**
 * The spoke's whole view of Kubernetes (ARCHITECTURE.md, "Spoke Kubernetes port"). Controllers talk
 * only to this interface: the client-node adapter serves it against a real API server and the
 * in-memory fake serves it in unit tests, with the same semantics for resourceVersion conflicts,
 * missing objects and watch events.
 */
import type { CoreV1Event, V1Lease, V1Secret } from "@kubernetes/client-node";
import type { CentralConnection, CertificateRequest, Workload, WorkloadKind } from "./types.ts";

export type { CoreV1Event, V1Lease, V1Secret };

/** 409: the write carried a stale resourceVersion ("Conflict") or the object exists ("AlreadyExists"). */
export class ConflictError extends Error {
  readonly reason: "Conflict" | "AlreadyExists";
  constructor(message: string, reason: "Conflict" | "AlreadyExists" = "Conflict") {
    super(message);
    this.name = "ConflictError";
    this.reason = reason;
  }
}

/** 404 on a write (get answers `undefined` instead). */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NotFoundError";
  }
}

/** Any other answer of the API server, with its HTTP status when there was one. */
export class KubeError extends Error {
  readonly status: number | undefined;
  constructor(message: string, status?: number) {
    super(message);
    this.name = "KubeError";
    this.status = status;
  }
}

export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED";

export interface WatchEvent<T> {
  type: WatchEventType;
  object: T;
}

export type WatchHandler<T> = (event: WatchEvent<T>) => void;

/**
 * A running watch. It starts with an ADDED event per existing object, restarts by itself after
 * errors (re-listing when needed) and delivers nothing after `stop()`.
 */
export interface Watcher {
  stop(): void;
}

/** A cluster-scoped custom resource with a status subresource. */
export interface ClusterObjects<T> {
  get(name: string): Promise<T | undefined>;
  list(): Promise<T[]>;
  watch(handler: WatchHandler<T>): Watcher;
  create(object: T): Promise<T>;
  /** Replaces spec and metadata; the object's resourceVersion must be current (else ConflictError). */
  update(object: T): Promise<T>;
  /** Replaces status only; the object's resourceVersion must be current (else ConflictError). */
  updateStatus(object: T): Promise<T>;
  /** Answers false when the object was already gone. */
  delete(name: string): Promise<boolean>;
}

export interface Secrets {
  get(namespace: string, name: string): Promise<V1Secret | undefined>;
  create(secret: V1Secret): Promise<V1Secret>;
  /** A full replace in one call; the secret's resourceVersion must be current. */
  replace(secret: V1Secret): Promise<V1Secret>;
  delete(namespace: string, name: string): Promise<boolean>;
  watch(namespace: string, labelSelector: string, handler: WatchHandler<V1Secret>): Watcher;
}

export interface Events {
  create(event: CoreV1Event): Promise<void>;
}

export interface Leases {
  get(namespace: string, name: string): Promise<V1Lease | undefined>;
  create(lease: V1Lease): Promise<V1Lease>;
  replace(lease: V1Lease): Promise<V1Lease>;
}

/** Annotations to merge into a workload's metadata and its pod template's metadata. */
export interface AnnotationPatch {
  metadata?: Record<string, string>;
  template?: Record<string, string>;
}

/** Deployments, StatefulSets and DaemonSets (apps/v1) in a namespace. */
export interface Workloads {
  list(kind: WorkloadKind, namespace: string): Promise<Workload[]>;
  watch(kind: WorkloadKind, namespace: string, handler: WatchHandler<Workload>): Watcher;
  /** One merge patch of both annotation maps; NotFoundError when the workload is gone. */
  patchAnnotations(
    kind: WorkloadKind,
    namespace: string,
    name: string,
    patch: AnnotationPatch,
  ): Promise<Workload>;
}

export interface KubePort {
  certificateRequests: ClusterObjects<CertificateRequest>;
  centralConnections: ClusterObjects<CentralConnection>;
  secrets: Secrets;
  events: Events;
  leases: Leases;
  workloads: Workloads;
}
