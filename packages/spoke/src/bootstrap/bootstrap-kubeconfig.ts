/**
 * The bootstrap kubeconfig as the agent reads it (docs/resources.md#the-bootstrap-and-hub-kubeconfigs): the hub's URL, the hub's serving CA
 * and a bootstrap token. It is read again on every health check, so a file that kubelet rewrites
 * (mounted from the `bootstrap-hub-kubeconfig` Secret) is noticed; the fingerprint is how a change is
 * told from a re-read.
 */
import { createHash } from "node:crypto";
import { type KubeconfigView, parseKubeconfig } from "@tether/shared/kubeconfig";

export interface BootstrapKubeconfig {
  /** sha256 of the text: what the health checker compares. */
  fingerprint: string;
  /** Present when the text is a bootstrap kubeconfig the agent can join with. */
  view?: KubeconfigView & { token: string };
  /** Why it cannot be used, in words for the log and /readyz. */
  problem?: string;
}

export function fingerprint(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** `source` names where the text came from, for the messages. */
export function readBootstrapKubeconfig(source: string, text: string): BootstrapKubeconfig {
  const result: BootstrapKubeconfig = { fingerprint: fingerprint(text) };
  try {
    const view = parseKubeconfig(text);
    if (view.token === undefined) {
      result.problem = `${source} has no token: make one with \`tether-hub bootstrap-kubeconfig --runtime <cluster name>\``;
    } else {
      result.view = { ...view, token: view.token };
    }
  } catch (error) {
    result.problem = `${source} is not a usable kubeconfig: ${(error as Error).message}`;
  }
  return result;
}
