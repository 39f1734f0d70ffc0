/**
 * What the policies look at, gathered beforehand by the controllers (all I/O and all crypto happen
 * there), so that every policy is a pure function of this state and the clock.
 */
import type { CertificateInfo } from "@tether/shared/pki";
import type { CredentialKey } from "../credential/secret.ts";

/** What the policies know of a certificate: exactly what pki reads from it. */
export type CertificateFacts = CertificateInfo;

export interface CredentialState {
  /** "namespace/name" of the credential Secret, for messages. */
  secretName: string;
  secretFound: boolean;
  missingKeys: CredentialKey[];
  /** Why tls.crt or tls.key could not be read, when they are present but unusable. */
  unreadable?: string;
  certificate?: CertificateFacts;
  keyMatches?: boolean;
  /** SHA-256 of the issuing CA's DER: the second certificate of tls.crt; undefined without one. */
  issuerSha256?: string;
  /** SHA-256 of each CA certificate in ca.crt. */
  trustSha256?: string[];
  /** The leaf verified against the hub trust bundle in ca.crt (validity aside: Expired says that). */
  chain?: { ok: true } | { ok: false; message: string };
}
