/**
 * One active signing CA plus the CAs whose certificates the hub still accepts (docs/pki.md#the-ca-keyring). Rotation
 * adds a new active CA and keeps the old one trusted until its last leaf has expired.
 */
import type { CertificateAuthority } from "./ca.ts";

export interface CaKeyring {
  active: CertificateAuthority;
  /** Includes the active CA. */
  trusted: CertificateAuthority[];
}

/** A keyring whose trusted list holds the active CA first and each CA once. */
export function createKeyring(active: CertificateAuthority, others: CertificateAuthority[] = []): CaKeyring {
  const trusted = [active];
  for (const ca of others) if (!trusted.some((t) => t.sha256 === ca.sha256)) trusted.push(ca);
  return { active, trusted };
}

/**
 * The CA certificates a client certificate may chain to, active first. Only the CAs themselves: the
 * hub treats each as a trust anchor, so an intermediate's parents are not needed to verify a leaf.
 */
export function trustBundlePem(keyring: CaKeyring): string {
  const seen = new Set<string>();
  return [keyring.active, ...keyring.trusted]
    .filter((ca) => !seen.has(ca.sha256) && seen.add(ca.sha256))
    .map((ca) => ca.certPem)
    .join("");
}
