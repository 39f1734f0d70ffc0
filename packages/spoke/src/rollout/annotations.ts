/**
 * The annotations of a workload that opts in to a rollout when the agent's credential changes
 * (docs/resources.md#rollout-of-workloads), and how the opt-in annotation's value is read. Pure: no I/O.
 */

/** On a Deployment, StatefulSet or DaemonSet: the credential Secrets whose change rolls it. */
export const restartOnChangeAnnotation = "tether.dev/restart-on-change";
/** On the workload and its pod template: the short hash of what matters in those Secrets. */
export const credentialHashAnnotation = "tether.dev/credential-hash";
/** On the pod template: when the agent rolled the workload (RFC 3339), as `kubectl rollout restart` does. */
export const restartedAtAnnotation = "tether.dev/restartedAt";

/** More names than this in one annotation are not a real workload's wish: the rest are ignored. */
export const maxSecretNames = 16;
const maxEntries = 4 * maxSecretNames;

export interface RestartOnChange {
  /** Valid, distinct Secret names, in the order given. */
  names: string[];
  /** What was ignored and why, in words for an Event. */
  problems: string[];
}

/**
 * `<secret>[,<secret>...]`: spaces around a name are tolerated; an empty entry, a name that is not a
 * Secret name (spaces inside, upper case, a slash) and duplicates are dropped and said.
 */
export function parseRestartOnChange(value: string): RestartOnChange {
  const names: string[] = [];
  const problems: string[] = [];
  const entries = value.split(",").map((entry) => entry.trim());
  if (entries.every((entry) => entry === "")) {
    return { names, problems: [`${restartOnChangeAnnotation} names no Secret`] };
  }
  // A hostile value may hold thousands of entries: read a bounded number of them.
  const read = entries.slice(0, maxEntries);
  if (entries.length > maxEntries)
    problems.push(`${entries.length - maxEntries} entries past the first ${maxEntries} are ignored`);
  for (const entry of read) {
    if (entry === "") problems.push(`${restartOnChangeAnnotation} has an empty entry`);
    else if (!isSecretName(entry)) problems.push(`"${printable(entry)}" is not a Secret name`);
    else if (names.includes(entry)) continue;
    else if (names.length >= maxSecretNames)
      problems.push(`more than ${maxSecretNames} Secrets: "${printable(entry)}" is ignored`);
    else names.push(entry);
  }
  return { names, problems };
}

/** A Kubernetes object name (RFC 1123 subdomain), which every Secret name is. */
export function isSecretName(name: string): boolean {
  return name.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name);
}

/** Namespace names are RFC 1123 labels. */
export function isNamespaceName(name: string): boolean {
  return name.length <= 63 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name);
}

/** Workload annotations are anyone's text: keep them short and on one line in Events. */
function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, "?");
  return clean.length > 64 ? `${clean.slice(0, 64)}...` : clean;
}
