/**
 * Whether a workload is rolled, and why (docs/resources.md#rollout-of-workloads): one pure call per workload, on what the
 * controller gathered. The reason is the word an operator reads in the Event and in the
 * CentralConnection's status.rollouts.
 *
 * The workload's record of the credential its pods run with is `tether.dev/credential-hash` on the
 * workload itself (else on its pod template). Equal to the current hash: nothing to do. Different:
 * roll, with one patch of the pod template (hash + restartedAt) and of that record, so Kubernetes'
 * own controllers do the rollout. `kubectl rollout undo` puts an older template back but leaves the
 * record alone, so the agent does not fight the user's choice.
 *
 * Adoption (annotated, no record yet): a workload created after the current certificate was issued
 * started its pods with it, so the hash is only recorded (no restart); one created before it may run
 * an older certificate, so it is rolled once.
 */
import type { SecretReference, Workload } from "../kube/types.ts";
import { credentialHashAnnotation, parseRestartOnChange, restartOnChangeAnnotation } from "./annotations.ts";
import { type CredentialDigest, combinedHash } from "./hash.ts";

/** A credential Secret of this agent, as the controller read it. */
export interface Credential {
  connection: string;
  ref: SecretReference;
  /** Undefined while the Secret is missing or holds no certificate and key. */
  digest?: CredentialDigest;
  /** The leaf certificate's serial and when the hub issued it (without the back-dated minutes). */
  serial?: string;
  issuedAt?: Date;
  /** What changed last in this Secret ("certificate renewed", "CA changed"...). */
  change: string;
}

export type RolloutAction = "none" | "record" | "roll";

export type RolloutReason =
  | "NotOptedIn"
  | "NoCredential"
  | "CredentialNotReady"
  | "UpToDate"
  | "Adopted"
  | "AdoptedOlder"
  | "CredentialChanged";

export interface RolloutDecision {
  action: RolloutAction;
  reason: RolloutReason;
  message: string;
  /** The hash to write (record and roll) or that is in place (UpToDate). */
  hash?: string;
  /** The connections whose credential the workload names. */
  connections: string[];
  /** Annotation entries that were ignored, and why. */
  problems: string[];
}

export function decideRollout(input: {
  workload: Workload;
  credentials: readonly Credential[];
  agentNamespace: string;
}): RolloutDecision {
  const { workload, credentials, agentNamespace } = input;
  const value = workload.metadata.annotations?.[restartOnChangeAnnotation];
  if (value === undefined)
    return { action: "none", reason: "NotOptedIn", message: "not annotated", connections: [], problems: [] };
  const parsed = parseRestartOnChange(value);
  const problems = [...parsed.problems];
  const named: Credential[] = [];
  for (const name of parsed.names) {
    const found = resolve(name, workload.metadata.namespace ?? "", credentials, agentNamespace);
    if (found === undefined) problems.push(`Secret "${name}" is not a credential Secret of this agent`);
    else if (!named.includes(found)) named.push(found);
  }
  const connections = named.map((credential) => credential.connection);
  if (named.length === 0) {
    const message = `${restartOnChangeAnnotation} names no credential Secret of this agent`;
    return { action: "none", reason: "NoCredential", message, connections, problems };
  }
  const notReady = named.find((credential) => credential.digest === undefined);
  if (notReady) {
    const message = `Secret ${notReady.ref.namespace}/${notReady.ref.name} holds no certificate and key yet`;
    return { action: "none", reason: "CredentialNotReady", message, connections, problems };
  }
  const hash = combinedHash(named.map(({ ref, digest }) => ({ ref, digest: digest! })));
  const serials = named.map((credential) => credential.serial ?? "unknown").join(", ");
  const serialText = `serial ${serials}`;
  const recorded =
    workload.metadata.annotations?.[credentialHashAnnotation] ??
    workload.spec.template.metadata?.annotations?.[credentialHashAnnotation];
  const decided = (action: RolloutAction, reason: RolloutReason, message: string): RolloutDecision => ({
    action,
    reason,
    message,
    hash,
    connections,
    problems,
  });
  if (recorded === hash) return decided("none", "UpToDate", `credential hash ${hash} is in place`);
  if (recorded !== undefined) {
    const changes = [...new Set(named.map((credential) => credential.change))].join(", ");
    return decided("roll", "CredentialChanged", `${changes}, ${serialText}`);
  }
  const issuedAt = Math.max(...named.map((credential) => credential.issuedAt?.getTime() ?? Infinity));
  const created = Date.parse(workload.metadata.creationTimestamp ?? "");
  if (created >= issuedAt) {
    return decided(
      "record",
      "Adopted",
      `adopted: created after the current certificate (${serialText}) was issued, so its pods already use it`,
    );
  }
  return decided(
    "roll",
    "AdoptedOlder",
    `adopted: created before the current certificate (${serialText}) was issued, so rolled once`,
  );
}

/** The credential Secret a name means for a workload: one in its own namespace, else in the agent's. */
function resolve(
  name: string,
  namespace: string,
  credentials: readonly Credential[],
  agentNamespace: string,
): Credential | undefined {
  const called = credentials.filter((credential) => credential.ref.name === name);
  return (
    called.find((credential) => credential.ref.namespace === namespace) ??
    called.find((credential) => credential.ref.namespace === agentNamespace)
  );
}
