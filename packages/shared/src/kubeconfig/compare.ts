/**
 * Whether a hub kubeconfig still points at the hub a bootstrap kubeconfig names, like Open Cluster
 * Management's IsSameHubKubeconfig: same server, same proxy, same CA. The first difference is returned
 * as a condition-style reason, so the spoke can put the same word in its logs, Events and status.
 */
import { createHash } from "node:crypto";
import { pemBlocks } from "./data.ts";
import { type KubeconfigView, parseKubeconfig } from "./parse.ts";
import { normalizeUrl } from "./urls.ts";

export type KubeconfigDifferenceReason = "ServerDiffers" | "ProxyURLDiffers" | "CADiffers";

export interface KubeconfigDifference {
  reason: KubeconfigDifferenceReason;
  message: string;
}

/** `undefined` when both name the same hub the same way. Text is parsed first (and may throw). */
export function compareHubKubeconfigs(
  current: string | KubeconfigView,
  expected: string | KubeconfigView,
): KubeconfigDifference | undefined {
  const a = typeof current === "string" ? parseKubeconfig(current) : current;
  const b = typeof expected === "string" ? parseKubeconfig(expected) : expected;
  if (normalizeUrl(a.server) !== normalizeUrl(b.server)) {
    return { reason: "ServerDiffers", message: `server ${a.server} differs from ${b.server}` };
  }
  const proxyA = a.proxyUrl === undefined ? undefined : normalizeUrl(a.proxyUrl);
  const proxyB = b.proxyUrl === undefined ? undefined : normalizeUrl(b.proxyUrl);
  if (proxyA !== proxyB) {
    return {
      reason: "ProxyURLDiffers",
      message: `proxy-url ${a.proxyUrl ?? "(none)"} differs from ${b.proxyUrl ?? "(none)"}`,
    };
  }
  if (caKey(a.caPem) !== caKey(b.caPem)) {
    return {
      reason: "CADiffers",
      message: `certificate-authority-data differs (${describeCa(a.caPem)} vs ${describeCa(b.caPem)})`,
    };
  }
  return undefined;
}

/** The same certificates in any order or line wrapping are the same trust. */
function caKey(pem: string | undefined): string | undefined {
  return pem === undefined
    ? undefined
    : pemBlocks(pem)
        .map((block) => block.body)
        .sort()
        .join("\n");
}

/** Names the certificates by SHA-256 prefix, the way an operator compares them with `openssl x509 -fingerprint`. */
function describeCa(pem: string | undefined): string {
  if (pem === undefined) return "none";
  const fingerprints = pemBlocks(pem).map(
    (block) =>
      `sha256 ${createHash("sha256").update(Buffer.from(block.body, "base64")).digest("hex").slice(0, 16)}…`,
  );
  return fingerprints.length === 1
    ? fingerprints[0]!
    : `${fingerprints.length} certificates: ${fingerprints.join(", ")}`;
}
