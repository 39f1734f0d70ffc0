/**
 * Creates the CentralConnection of a fresh enrolment, or points an existing one at the new
 * credential (a re-enrolment keeps the operator's renewal settings).
 */
import { updateWithRetry } from "../kube/conflict.ts";
import type { KubePort } from "../kube/port.ts";
import { ConflictError } from "../kube/port.ts";
import type { CentralConnection, SecretReference } from "../kube/types.ts";
import { apiVersion, defaultRenewal, managedByLabel, managedByValue } from "../kube/types.ts";

export async function upsertConnection(
  kube: KubePort,
  name: string,
  managementInfoUrl: string,
  secretRef: SecretReference,
  now: Date,
): Promise<CentralConnection> {
  const establishedAt = now.toISOString();
  try {
    return await kube.centralConnections.create({
      apiVersion,
      kind: "CentralConnection",
      metadata: { name, labels: { [managedByLabel]: managedByValue } },
      spec: { managementInfoUrl, establishedAt, renewal: { ...defaultRenewal }, secretRef },
    });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
  }
  const updated = await updateWithRetry(
    () => kube.centralConnections.get(name),
    (current) => {
      current.spec = { ...current.spec, managementInfoUrl, establishedAt, secretRef, renewNow: false };
      return current;
    },
    (next) => kube.centralConnections.update(next),
  );
  if (updated === undefined) throw new Error(`CentralConnection ${name} disappeared while it was updated`);
  return updated;
}
