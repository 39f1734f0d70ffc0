/**
 * Offline validation of rendered manifests against the Kubernetes OpenAPI schemas (kubernetes-models).
 * It catches wrong types and missing required fields; unknown fields are left to the API server's
 * strict field validation in the server-side dry run.
 */
import { Deployment } from "kubernetes-models/apps/v1";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1";
import {
  ClusterRole,
  ClusterRoleBinding,
  Role,
  RoleBinding,
} from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import type { KubeObject } from "./helm.ts";

interface Model {
  validate(): void;
}

const models: Record<string, new (data: never) => Model> = {
  "apps/v1/Deployment": Deployment,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
  "rbac.authorization.k8s.io/v1/Role": Role,
  "rbac.authorization.k8s.io/v1/RoleBinding": RoleBinding,
  "v1/ConfigMap": ConfigMap,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "v1/ServiceAccount": ServiceAccount,
};

/** The problems found, one line per object; empty when every object is valid. */
export function validateOffline(objects: KubeObject[]): string[] {
  const problems: string[] = [];
  for (const object of objects) {
    const id = `${object.apiVersion}/${object.kind}`;
    const Model = models[id];
    if (!Model) {
      problems.push(`${id} ${object.metadata.name}: no schema known here (add its model)`);
      continue;
    }
    try {
      new Model(object as never).validate();
    } catch (error) {
      problems.push(`${id} ${object.metadata.name}: ${(error as Error).message}`);
    }
  }
  return problems;
}
