/**
 * "Is the hub kubeconfig valid, or must the agent bootstrap?" (docs/renewal.md#start-up-decision), like Open Cluster
 * Management's HasValidHubClientConfig, as a chain of pure checks (the shared ones of checks.ts and
 * two of its own): the first one that finds a problem names it; when none does, the hub kubeconfig is
 * valid and bootstrap is skipped. The reason is the word an operator reads in the agent's log and in
 * /readyz.
 */
import { type KubeconfigView, compareHubKubeconfigs } from "@tether/shared/kubeconfig";
import type { KubeconfigDifferenceReason } from "@tether/shared/kubeconfig";
import { type Chain, type Check, type Violation, evaluate } from "./chain.ts";
import { keyMismatch, secretMissing, secretMissingData, validity } from "./checks.ts";
import type { CredentialState } from "./state.ts";

export type HubKubeconfigReason =
  | "SecretMissing"
  | "SecretMissingData"
  | "KeyMismatch"
  | "OtherCluster"
  | "NotYetValid"
  | "Expired"
  | KubeconfigDifferenceReason;

export interface HubKubeconfigInput {
  /** The hub kubeconfig Secret, read by `inspectSecret`. */
  credential: CredentialState;
  /** The Secret's `kubeconfig`, parsed; undefined when it is missing or unreadable (credential says why). */
  hubKubeconfig: KubeconfigView | undefined;
  /**
   * The bootstrap kubeconfig, parsed; undefined when it is missing or unreadable. Then there is
   * nothing to compare with, and a hub kubeconfig that is otherwise valid is kept: the operator may
   * remove the bootstrap Secret once the cluster has joined.
   */
  bootstrap: KubeconfigView | undefined;
  /** --cluster-name: the runtime id the certificate's CN must carry. */
  clusterName: string;
  now: Date;
}

type HubKubeconfigCheck = Check<HubKubeconfigInput, HubKubeconfigReason>;

export type HubKubeconfigVerdict =
  { valid: true; reason: "Valid"; message: string } | ({ valid: false } & Violation<HubKubeconfigReason>);

export const otherCluster: HubKubeconfigCheck = ({ credential, clusterName }) => {
  const cn = credential.certificate?.subject.CN;
  return cn === undefined || cn === clusterName
    ? undefined
    : {
        reason: "OtherCluster",
        message: `the certificate in Secret ${credential.secretName} is for runtime "${cn}", not for --cluster-name "${clusterName}"`,
      };
};

/** Same server, proxy and CA as the bootstrap kubeconfig: a changed bootstrap means another hub. */
export const sameHub: HubKubeconfigCheck = ({ hubKubeconfig, bootstrap }) => {
  if (hubKubeconfig === undefined || bootstrap === undefined) return undefined;
  const difference = compareHubKubeconfigs(hubKubeconfig, bootstrap);
  return difference === undefined
    ? undefined
    : {
        reason: difference.reason,
        message: `the hub kubeconfig names another hub than the bootstrap kubeconfig: ${difference.message}`,
      };
};

export const hubKubeconfigChain: Chain<HubKubeconfigInput, HubKubeconfigReason> = [
  secretMissing,
  secretMissingData,
  keyMismatch,
  otherCluster,
  validity,
  sameHub,
];

export function judgeHubKubeconfig(input: HubKubeconfigInput): HubKubeconfigVerdict {
  const violation = evaluate(hubKubeconfigChain, input);
  if (violation) return { valid: false, ...violation };
  const certificate = input.credential.certificate;
  return {
    valid: true,
    reason: "Valid",
    message: `Secret ${input.credential.secretName} holds certificate ${certificate?.serial ?? "?"} for "${input.clusterName}", valid until ${certificate?.notAfter.toISOString() ?? "?"}`,
  };
}
