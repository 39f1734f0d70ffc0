/**
 * "Does this connection need a new certificate now?" (docs/renewal.md#connection-upkeep), like cert-manager's trigger chain:
 * the shared checks of checks.ts, then the renewal's own. The first answer wins. The clock and the
 * jitter source are arguments.
 */
import type { Subject } from "@tether/shared/pki";
import { intervalRenewalTime, nextRenewalTime, renewalTime } from "@tether/shared/renewal";
import type { Random } from "@tether/shared/time";
import type { CentralConnectionSpec, TrustBundleStatus } from "../kube/types.ts";
import { defaultRenewal } from "../kube/types.ts";
import { type Chain, type Check, type Violation, evaluate, except } from "./chain.ts";
import {
  issuerNotActive,
  issuerNotTrusted,
  keyMismatch,
  secretMissing,
  secretMissingData,
  validity,
} from "./checks.ts";
import { rotationRenewalTime } from "./rotation.ts";
import type { CertificateFacts, CredentialState } from "./state.ts";

export type RenewalReason =
  | "SecretMissing"
  | "SecretMissingData"
  | "KeyMismatch"
  | "WrongIdentity"
  | "IssuerNotTrusted"
  | "Expired"
  | "RenewNowRequested"
  | "IssuerRotated"
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
  /** The hub's trust bundle as last read (status.trustBundle); undefined: no CA rotation. */
  trust?: TrustBundleStatus;
  /** This connection's place in the hub's renewal window, in [0, 1) (rotation.ts connectionJitter). */
  rotationJitter?: number;
}

type RenewalCheck = Check<RenewalInput, RenewalReason>;

/** Jitter of the renewal time: renew somewhere in the last 10% before the configured fraction. */
export const renewalJitter = 0.1;

export const wrongIdentity: RenewalCheck = ({ credential, expectedSubject }) => {
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

/**
 * Expired renews; NotYetValid does not: the hub back-dates a new certificate by the same few
 * minutes, so a spoke whose clock is behind would get another certificate that is not yet valid.
 */
export const expired: Check<RenewalInput, "Expired"> = except(validity, "NotYetValid");

export const renewNowRequested: RenewalCheck = ({ spec }) =>
  spec.renewNow === true ? { reason: "RenewNowRequested", message: "spec.renewNow is true" } : undefined;

/**
 * The certificate's CA no longer signs: renew, at this connection's moment of the window the hub
 * advertises, so that a fleet does not renew in the same second.
 */
export const issuerRotated: RenewalCheck = (input) => {
  const violation = issuerNotActive({ credential: input.credential, trust: input.trust });
  if (violation === undefined || input.trust === undefined) return undefined;
  const at = rotationRenewalTime(input.trust, input.rotationJitter ?? 0);
  return input.now >= at
    ? { reason: "IssuerRotated", message: `${violation.message} (renewal time ${at.toISOString()})` }
    : undefined;
};

export const renewalTimeReached: RenewalCheck = ({ spec, credential, now, random }) => {
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

export const intervalReached: RenewalCheck = ({ spec, credential, now }) => {
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

/** The full chain, in the order docs/renewal.md#connection-upkeep lists the reasons. */
export const renewalChain: Chain<RenewalInput, RenewalReason> = [
  secretMissing,
  secretMissingData,
  keyMismatch,
  wrongIdentity,
  issuerNotTrusted,
  expired,
  renewNowRequested,
  issuerRotated,
  renewalTimeReached,
  intervalReached,
];

/**
 * What still applies with `renewal.enabled: false`: the operator's request, a missing Secret, and a
 * CA rotation (without that renewal the connection would break when the hub retires the old CA).
 */
export const manualRenewalChain: Chain<RenewalInput, RenewalReason> = [
  secretMissing,
  secretMissingData,
  renewNowRequested,
  issuerRotated,
];

export function renewalEnabled(spec: CentralConnectionSpec): boolean {
  return spec.renewal?.enabled ?? defaultRenewal.enabled;
}

function renewalFraction(spec: CentralConnectionSpec): number {
  return spec.renewal?.renewAfterFraction ?? defaultRenewal.renewAfterFraction;
}

/** The first violation of the chain that applies to this connection, or undefined. */
export function needsRenewal(input: RenewalInput): Violation<RenewalReason> | undefined {
  return evaluate(renewalEnabled(input.spec) ? renewalChain : manualRenewalChain, input);
}

/**
 * When the certificate will be renewed automatically (for status.certificateStatus.renewalTime and
 * the controller's next wake-up); undefined when automatic renewal is off.
 */
export function plannedRenewalTime(
  spec: CentralConnectionSpec,
  certificate: CertificateFacts,
  random: Random,
  /** The IssuerRotated renewal time (rotation.ts rotationRenewalAt), which comes first when set. */
  rotationAt?: Date,
): Date | undefined {
  if (!renewalEnabled(spec)) return rotationAt;
  const planned = nextRenewalTime({
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
    fraction: renewalFraction(spec),
    intervalDays: spec.renewal?.renewIntervalDays,
    jitter: renewalJitter,
    random,
  });
  return rotationAt !== undefined && rotationAt < planned ? rotationAt : planned;
}

/**
 * A jitter source fixed by the certificate's fingerprint: uniformly spread over a fleet, yet the same
 * after a restart or on another replica, so that status.renewalTime never moves for one certificate.
 */
export function certificateRandom(sha256: string): Random {
  const value = Number.parseInt(sha256.slice(0, 12), 16) / 2 ** 48;
  return () => (Number.isFinite(value) ? value : 0);
}
