/**
 * What a CA rotation on the hub asks of one connection (docs/renewal.md#ca-rotation), judged from the
 * credential Secret and the trust bundle as last read (status.trustBundle): is its trust complete,
 * does its certificate come from the active CA, and when does it renew if not. The answer is the
 * CertificateAuthorityRotating condition; the renewal itself is the renewal chain's IssuerRotated.
 */
import type { TrustBundleStatus } from "../kube/types.ts";
import { type Chain, evaluate } from "./chain.ts";
import { type TrustInput, issuerNotActive, shortSha, trustIncomplete } from "./checks.ts";

export type RotatingReason =
  "TrustUpdatePending" | "RenewalScheduled" | "NoRotation" | "NextCaTrusted" | "RotationComplete";

export interface RotatingVerdict {
  status: "True" | "False";
  reason: RotatingReason;
  message: string;
}

export interface RotationInput extends TrustInput {
  /** This connection's place in the renewal window, in [0, 1): connectionJitter of its uid. */
  jitter: number;
}

/**
 * A fleet spread over the hub's renewal window: a hash of the connection's uid, so the moment is the
 * same on every replica and after a restart, yet differs from cluster to cluster. FNV-1a alone
 * leaves the high bits of similar uids clustered; murmur3's finaliser spreads them.
 */
export function connectionJitter(uid: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < uid.length; i++) {
    hash ^= uid.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) / 2 ** 32;
}

/** When a certificate of a non-active CA is renewed: `jitter` of the window after the switch was seen. */
export function rotationRenewalTime(trust: TrustBundleStatus, jitter: number): Date {
  const since = Date.parse(trust.activeSince);
  return new Date(since + Math.floor(jitter * trust.renewalWindowSeconds * 1000));
}

/** The rotation renewal time, when the certificate comes from a CA that no longer signs. */
export function rotationRenewalAt(input: RotationInput): Date | undefined {
  return input.trust !== undefined && issuerNotActive(input) !== undefined
    ? rotationRenewalTime(input.trust, input.jitter)
    : undefined;
}

const pending: Chain<RotationInput, "TrustUpdatePending" | "RenewalScheduled"> = [
  trustIncomplete,
  (input) => {
    const violation = issuerNotActive(input);
    const at = rotationRenewalAt(input);
    return violation && at
      ? { reason: "RenewalScheduled", message: `${violation.message}: renewal at ${at.toISOString()}` }
      : undefined;
  },
];

/** The CertificateAuthorityRotating condition: True while this connection still has a step to take. */
export function rotatingCondition(input: RotationInput): RotatingVerdict {
  const { trust } = input;
  if (trust === undefined) {
    return {
      status: "False",
      reason: "NoRotation",
      message: "the hub publishes no trust bundle (it does not rotate its CA)",
    };
  }
  const violation = evaluate(pending, input);
  if (violation) return { status: "True", ...violation };
  const active = `the certificate comes from the active CA ${shortSha(trust.activeSha256)}…`;
  if (trust.phase === "prepared") {
    const next = trust.cas.find((ca) => ca.phase === "next");
    return {
      status: "False",
      reason: "NextCaTrusted",
      message: `ca.crt trusts the hub's next CA ${shortSha(next?.sha256 ?? "")}…; ${active}`,
    };
  }
  if (trust.phase === "activated") {
    return {
      status: "False",
      reason: "RotationComplete",
      message: `${active} and ca.crt holds every CA the hub trusts`,
    };
  }
  return { status: "False", reason: "NoRotation", message: `the hub has one CA; ${active}` };
}

/** CA fingerprints: of ca.crt (`trust`) and of the kubeconfig's certificate-authority-data (`serverCa`). */
export interface TrustFingerprints {
  trust: string[];
  serverCa: string[];
}

/**
 * What differs between the Secret's trust and the hub's bundle, by the Secret's key names; compared
 * as sets, so order and line wrapping never cause a write. An empty bundle `serverCa` (a serving
 * certificate from a public root) leaves the kubeconfig's CA as it is.
 */
export function trustDifferences(
  secret: TrustFingerprints,
  bundle: TrustFingerprints,
): ("ca.crt" | "certificate-authority-data")[] {
  const same = (a: string[], b: string[]) =>
    new Set(a).size === new Set(b).size && a.every((sha) => b.includes(sha));
  const changed: ("ca.crt" | "certificate-authority-data")[] = [];
  if (!same(secret.trust, bundle.trust)) changed.push("ca.crt");
  if (bundle.serverCa.length > 0 && !same(secret.serverCa, bundle.serverCa))
    changed.push("certificate-authority-data");
  return changed;
}
