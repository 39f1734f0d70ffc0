/**
 * The checks that more than one chain uses (cert-manager's `checks.go`): each looks at the gathered
 * credential Secret and the clock. Every fact is judged here once, with one message, whichever chain
 * asks: the renewal chain (renewal.ts), the readiness chain (readiness.ts) and the hub-kubeconfig
 * chain of the bootstrap flow (hub-kubeconfig.ts).
 */
import type { TrustBundleStatus } from "../kube/types.ts";
import type { Check } from "./chain.ts";
import type { CredentialState } from "./state.ts";

export interface CredentialInput {
  credential: CredentialState;
}

export interface ValidityInput extends CredentialInput {
  now: Date;
}

export type CredentialReason = "SecretMissing" | "SecretMissingData" | "KeyMismatch";
export type ValidityReason = "NotYetValid" | "Expired";

export const secretMissing: Check<CredentialInput, "SecretMissing"> = ({ credential }) =>
  credential.secretFound
    ? undefined
    : { reason: "SecretMissing", message: `Secret ${credential.secretName} does not exist` };

export const secretMissingData: Check<CredentialInput, "SecretMissingData"> = ({ credential }) => {
  if (!credential.secretFound) return undefined;
  if (credential.missingKeys.length > 0) {
    return {
      reason: "SecretMissingData",
      message: `Secret ${credential.secretName} lacks ${credential.missingKeys.join(", ")}`,
    };
  }
  if (credential.unreadable !== undefined || credential.certificate === undefined) {
    return {
      reason: "SecretMissingData",
      message: `Secret ${credential.secretName} holds no usable credential: ${credential.unreadable ?? "tls.crt is unreadable"}`,
    };
  }
  return undefined;
};

export const keyMismatch: Check<CredentialInput, "KeyMismatch"> = ({ credential }) =>
  credential.keyMatches === false
    ? {
        reason: "KeyMismatch",
        message: `tls.key in Secret ${credential.secretName} does not belong to the certificate in tls.crt`,
      }
    : undefined;

/** Secret present, all keys readable, key and certificate belong together. */
export const credentialPresent: Check<CredentialInput, CredentialReason> = (input) =>
  secretMissing(input) ?? secretMissingData(input) ?? keyMismatch(input);

/** The certificate's validity period against the clock: the one place that judges expiry. */
export const validity: Check<ValidityInput, ValidityReason> = ({ credential, now }) => {
  const certificate = credential.certificate;
  if (certificate === undefined) return undefined;
  if (now < certificate.notBefore) {
    return {
      reason: "NotYetValid",
      message: `the certificate is valid only from ${certificate.notBefore.toISOString()} (check the clocks)`,
    };
  }
  if (now >= certificate.notAfter) {
    return { reason: "Expired", message: `the certificate expired at ${certificate.notAfter.toISOString()}` };
  }
  return undefined;
};

export const issuerNotTrusted: Check<CredentialInput, "IssuerNotTrusted"> = ({ credential }) =>
  credential.chain?.ok === false
    ? {
        reason: "IssuerNotTrusted",
        message: `the certificate is not issued by the hub trust bundle in ca.crt: ${credential.chain.message}`,
      }
    : undefined;

/** The hub's trust bundle as last read (status.trustBundle); undefined: the hub has none. */
export interface TrustInput extends CredentialInput {
  trust: TrustBundleStatus | undefined;
}

/** A CA fingerprint as an operator compares it with `openssl x509 -fingerprint -sha256`: its start. */
export function shortSha(sha256: string): string {
  return sha256.slice(0, 16);
}

/** The certificate comes from a CA that no longer signs (docs/renewal.md#ca-rotation). */
export const issuerNotActive: Check<TrustInput, "IssuerNotActive"> = ({ credential, trust }) => {
  const issuer = credential.issuerSha256;
  if (trust === undefined || issuer === undefined || issuer === trust.activeSha256) return undefined;
  const phase = trust.cas.find((ca) => ca.sha256 === issuer)?.phase ?? "no longer trusted";
  return {
    reason: "IssuerNotActive",
    message: `the certificate was issued by CA ${shortSha(issuer)}… (${phase}); the hub signs with CA ${shortSha(trust.activeSha256)}… now`,
  };
};

/** ca.crt lacks a CA the hub publishes (the next one, while a rotation is prepared). */
export const trustIncomplete: Check<TrustInput, "TrustUpdatePending"> = ({ credential, trust }) => {
  if (trust === undefined || credential.trustSha256 === undefined) return undefined;
  const held = new Set(credential.trustSha256);
  const missing = trust.cas.filter((ca) => !held.has(ca.sha256));
  return missing.length === 0
    ? undefined
    : {
        reason: "TrustUpdatePending",
        message: `ca.crt in Secret ${credential.secretName} lacks the hub's ${missing
          .map((ca) => `${ca.phase} CA ${shortSha(ca.sha256)}…`)
          .join(", ")}`,
      };
};
