/**
 * What matters in a credential Secret for the programs that mount it: the certificate, the key and
 * the CA (tls.crt, tls.key, ca.crt). Labels, annotations and the kubeconfig's other parts do not
 * roll anything. Pure: hashing only.
 */
import { createHash } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";
import { secretKeys } from "../credential/secret.ts";
import type { SecretReference } from "../kube/types.ts";

const { certificate, privateKey, trustBundle } = secretKeys;
export const keysThatMatter = [certificate, privateKey, trustBundle] as const;
export type KeyThatMatters = (typeof keysThatMatter)[number];

/** Length of tether.dev/credential-hash: 64 bits of SHA-256, plenty to tell two credentials apart. */
export const shortHashLength = 16;

export interface CredentialDigest {
  /** SHA-256 (hex) of the three keys together. */
  full: string;
  /** SHA-256 (hex) of each key's bytes; undefined when the key is absent or empty. */
  parts: Record<KeyThatMatters, string | undefined>;
}

/** Undefined while the Secret holds no certificate and key: there is nothing to roll to yet. */
export function credentialDigest(secret: V1Secret | undefined): CredentialDigest | undefined {
  const part = (key: KeyThatMatters) => {
    const value = secret?.data?.[key];
    if (value === undefined || value === "") return undefined;
    return sha256(Buffer.from(value, "base64"));
  };
  const parts = {
    [certificate]: part(certificate),
    [privateKey]: part(privateKey),
    [trustBundle]: part(trustBundle),
  };
  if (parts[certificate] === undefined || parts[privateKey] === undefined) return undefined;
  const full = sha256(keysThatMatter.map((key) => `${key}=${parts[key] ?? "-"}\n`).join(""));
  return { full, parts };
}

/** The short hash of every Secret a workload names: a change of any one changes it. */
export function combinedHash(secrets: { ref: SecretReference; digest: CredentialDigest }[]): string {
  const lines = secrets.map(({ ref, digest }) => `${ref.namespace}/${ref.name}=${digest.full}\n`).sort();
  return sha256(lines.join("")).slice(0, shortHashLength);
}

/** What changed between two digests of one Secret, in the words of the rollout's Event. */
export function describeChange(before: CredentialDigest | undefined, after: CredentialDigest): string {
  if (before === undefined) return "credential changed";
  if (before.parts[certificate] !== after.parts[certificate]) return "certificate renewed";
  if (before.parts[trustBundle] !== after.parts[trustBundle]) return "CA changed";
  if (before.parts[privateKey] !== after.parts[privateKey]) return "key changed";
  return "credential changed";
}

function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}
