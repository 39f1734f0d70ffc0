/**
 * "Does this connection need a new certificate now?" as a chain of small pure policies, like
 * cert-manager's trigger policies: each looks at the gathered state and answers a reason and a
 * message, or nothing; the first answer wins. The clock and the jitter source are arguments.
 */
import type { Subject } from "@tether/shared/pki";
import { intervalRenewalTime, nextRenewalTime, renewalTime } from "@tether/shared/renewal";
import type { Random } from "@tether/shared/time";
import type { CentralConnectionSpec } from "../kube/types.ts";
import { defaultRenewal } from "../kube/types.ts";
import type { CertificateFacts, CredentialState, Violation } from "./state.ts";

export type RenewalReason =
  | "SecretMissing"
  | "SecretMissingData"
  | "KeyMismatch"
  | "WrongIdentity"
  | "IssuerNotTrusted"
  | "Expired"
  | "RenewNowRequested"
  | "RenewalTimeReached"
  | "IntervalReached";

export interface RenewalInput {
  spec: CentralConnectionSpec;
  credential: CredentialState;
  /** The subject the hub assigned to this connection (management info), once known. */
  expectedSubject?: Subject;
  now: Date;
  /** Jitter source; stable per certificate so that the renewal time does not move between runs. */
  random: Random;
}

export type RenewalPolicy = (input: RenewalInput) => Violation<RenewalReason> | undefined;

/** The policies that look at the credential alone; the readiness chain reuses them. */
export type CredentialPolicy = (input: {
  credential: CredentialState;
}) => Violation<"SecretMissing" | "SecretMissingData" | "KeyMismatch"> | undefined;

/** Jitter of the renewal time: renew somewhere in the last 10% before the configured fraction. */
export const renewalJitter = 0.1;

export const secretMissing: CredentialPolicy = ({ credential }) =>
  credential.secretFound
    ? undefined
    : { reason: "SecretMissing", message: `Secret ${credential.secretName} does not exist` };

export const secretMissingData: CredentialPolicy = ({ credential }) => {
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

export const keyMismatch: CredentialPolicy = ({ credential }) =>
  credential.keyMatches === false
    ? {
        reason: "KeyMismatch",
        message: `tls.key in Secret ${credential.secretName} does not belong to the certificate in tls.crt`,
      }
    : undefined;

export const wrongIdentity: RenewalPolicy = ({ credential, expectedSubject }) => {
  const actual = credential.certificate?.subject;
  if (actual === undefined || expectedSubject === undefined) return undefined;
  const differing = (Object.keys(expectedSubject) as (keyof Subject)[]).filter(
    (field) => actual[field] !== expectedSubject[field],
  );
  return differing.length === 0
    ? undefined
    : {
        reason: "WrongIdentity",
        message: `the certificate in Secret ${credential.secretName} is for ${differing
          .map((field) => `${field}=${actual[field]}`)
          .join(", ")}, but the hub assigned ${differing
          .map((field) => `${field}=${expectedSubject[field]}`)
          .join(", ")}`,
      };
};

export const issuerNotTrusted: RenewalPolicy = ({ credential }) =>
  credential.chain?.ok === false
    ? {
        reason: "IssuerNotTrusted",
        message: `the certificate is not issued by the hub trust bundle in ca.crt: ${credential.chain.message}`,
      }
    : undefined;

export const expired: RenewalPolicy = ({ credential, now }) => {
  const certificate = credential.certificate;
  return certificate !== undefined && now >= certificate.notAfter
    ? { reason: "Expired", message: `the certificate expired at ${certificate.notAfter.toISOString()}` }
    : undefined;
};

export const renewNowRequested: RenewalPolicy = ({ spec }) =>
  spec.renewNow === true ? { reason: "RenewNowRequested", message: "spec.renewNow is true" } : undefined;

export const renewalTimeReached: RenewalPolicy = ({ spec, credential, now, random }) => {
  const certificate = credential.certificate;
  if (certificate === undefined) return undefined;
  const fraction = renewalFraction(spec);
  const at = renewalTime({ ...certificate, fraction, jitter: renewalJitter, random });
  return now >= at
    ? {
        reason: "RenewalTimeReached",
        message: `${Math.round(fraction * 100)}% of the certificate's lifetime has passed (renewal time ${at.toISOString()})`,
      }
    : undefined;
};

export const intervalReached: RenewalPolicy = ({ spec, credential, now }) => {
  const certificate = credential.certificate;
  const intervalDays = spec.renewal?.renewIntervalDays;
  if (certificate === undefined || intervalDays === undefined) return undefined;
  const at = intervalRenewalTime({ notBefore: certificate.notBefore, intervalDays });
  return now >= at
    ? {
        reason: "IntervalReached",
        message: `the certificate is older than renewal.renewIntervalDays (${intervalDays} days)`,
      }
    : undefined;
};

/** The full chain, in the order SPEC §3.3 lists the reasons. */
export const renewalPolicies: readonly RenewalPolicy[] = [
  secretMissing,
  secretMissingData,
  keyMismatch,
  wrongIdentity,
  issuerNotTrusted,
  expired,
  renewNowRequested,
  renewalTimeReached,
  intervalReached,
];

/** What still applies with `renewal.enabled: false`: the operator's request and a missing Secret. */
export const manualRenewalPolicies: readonly RenewalPolicy[] = [
  secretMissing,
  secretMissingData,
  renewNowRequested,
];

export function renewalEnabled(spec: CentralConnectionSpec): boolean {
  return spec.renewal?.enabled ?? defaultRenewal.enabled;
}

function renewalFraction(spec: CentralConnectionSpec): number {
  return spec.renewal?.renewAfterFraction ?? defaultRenewal.renewAfterFraction;
}

/** The first violation of the chain that applies to this connection, or undefined. */
export function needsRenewal(input: RenewalInput): Violation<RenewalReason> | undefined {
  const chain = renewalEnabled(input.spec) ? renewalPolicies : manualRenewalPolicies;
  for (const policy of chain) {
    const violation = policy(input);
    if (violation) return violation;
  }
  return undefined;
}

/**
 * When the certificate will be renewed automatically (for status.certificateStatus.renewalTime and
 * the controller's next wake-up); undefined when automatic renewal is off.
 */
export function plannedRenewalTime(
  spec: CentralConnectionSpec,
  certificate: CertificateFacts,
  random: Random,
): Date | undefined {
  if (!renewalEnabled(spec)) return undefined;
  return nextRenewalTime({
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    fraction: renewalFraction(spec),
    intervalDays: spec.renewal?.renewIntervalDays,
    jitter: renewalJitter,
    random,
  });
}

/**
 * A jitter source fixed by the certificate's fingerprint: uniformly spread over a fleet, yet the same
 * after a restart or on another replica, so that status.renewalTime never moves for one certificate.
 */
export function certificateRandom(sha256: string): Random {
  const value = Number.parseInt(sha256.slice(0, 12), 16) / 2 ** 48;
  return () => (Number.isFinite(value) ? value : 0);
}
