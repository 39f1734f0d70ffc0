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
  | "IssuerRetired"
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
  /**
   * SHA-256 of every CA the hub kubeconfig's certificate-authority-data has held: CAs it moved to
   * by trust updates from the hub while that hub's CA rotated (docs/renewal.md#ca-rotation).
   */
  serverCaHistory?: readonly string[];
  /** SHA-256 of the bootstrap kubeconfig's CAs. */
  bootstrapCaSha256?: readonly string[];
  /**
   * SHA-256 of the certificate the hub refused because it retired its issuer (the CentralConnection's
   * Ready=False IssuerRetired); undefined when it refused none.
   */
  retiredCertificateSha256?: string;
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

/** Only a new enrolment gets a certificate again once the hub retired its issuer. */
export const issuerRetired: HubKubeconfigCheck = ({ credential, retiredCertificateSha256 }) => {
  const certificate = credential.certificate;
  return certificate === undefined || certificate.sha256 !== retiredCertificateSha256
    ? undefined
    : {
        reason: "IssuerRetired",
        message: `the hub retired the CA that issued certificate ${certificate.serial} in Secret ${credential.secretName}`,
      };
};

/**
 * Same server, proxy and CA as the bootstrap kubeconfig: a changed bootstrap means another hub. A
 * CA that differs only because the hub rotated it is the same hub: every CA of the bootstrap
 * kubeconfig is one the hub kubeconfig held before trust updates moved it on (a bundle that still
 * holds the old CA, or a later one after the old CA was retired).
 */
export const sameHub: HubKubeconfigCheck = ({
  hubKubeconfig,
  bootstrap,
  serverCaHistory = [],
  bootstrapCaSha256 = [],
}) => {
  if (hubKubeconfig === undefined || bootstrap === undefined) return undefined;
  const difference = compareHubKubeconfigs(hubKubeconfig, bootstrap);
  const rotated =
    difference?.reason === "CADiffers" &&
    hubKubeconfig.caPem !== undefined &&
    bootstrapCaSha256.length > 0 &&
    bootstrapCaSha256.every((sha) => serverCaHistory.includes(sha));
  return difference === undefined || rotated
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
  issuerRetired,
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
