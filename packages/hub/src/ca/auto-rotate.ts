/**
 * Automatic CA rotation (docs/pki.md#automatic-rotation), decided by one pure function: the CAs with
 * their phases and times, the live certificates each issued, and the hub's clock in; the one action to
 * take now and its reason out. The driver (rotation.ts) runs it on the injected clock and acts; every
 * replica may run it, since the store refuses a change that another replica made first.
 */
import type { CaLifePhase } from "../store/cas.ts";

export interface RotationCa {
  sha256: string;
  phase: CaLifePhase;
  notAfter: Date;
  createdAt: Date;
}

export interface RotationInput {
  now: Date;
  cas: RotationCa[];
  /** Live certificates per issuing CA's SHA-256; missing means none. */
  liveCertificates: Readonly<Record<string, number>>;
  /** Prepare the next CA when the active one has less than this left. */
  rotateBeforeMs: number;
  /** How long a next CA is published before it signs, so that every spoke trusts it first. */
  preparePeriodMs: number;
}

/** The reason words land in the audit log and the hub's log, as an operator reads them. */
export type RotationDecision =
  | { action: "none"; reason: "Stable" | "Preparing" | "RetiringInUse"; message: string }
  | { action: "prepare"; reason: "ActiveExpiring"; message: string }
  | { action: "activate"; sha256: string; reason: "PreparePeriodOver" | "ActiveExpired"; message: string }
  | { action: "retire"; sha256: string; reason: "NoLiveCertificates" | "Expired"; message: string };

const days = (ms: number) => `${Math.round((ms / 86_400_000) * 10) / 10}d`;

export function decideRotation(input: RotationInput): RotationDecision {
  const { now, cas, liveCertificates } = input;
  const at = now.getTime();
  // Retiring first: an old CA leaves the trust bundle as soon as nothing needs it.
  for (const ca of cas.filter((c) => c.phase === "retiring")) {
    if (ca.notAfter.getTime() <= at) {
      return {
        action: "retire",
        sha256: ca.sha256,
        reason: "Expired",
        message: `CA ${ca.sha256} has expired.`,
      };
    }
    if ((liveCertificates[ca.sha256] ?? 0) === 0) {
      return {
        action: "retire",
        sha256: ca.sha256,
        reason: "NoLiveCertificates",
        message: `No live certificate issued by CA ${ca.sha256} remains.`,
      };
    }
  }
  const active = cas.find((c) => c.phase === "active");
  const next = cas.find((c) => c.phase === "next");
  if (next) {
    const published = at - next.createdAt.getTime();
    if (published >= input.preparePeriodMs) {
      return {
        action: "activate",
        sha256: next.sha256,
        reason: "PreparePeriodOver",
        message: `CA ${next.sha256} was published ${days(published)} ago, the prepare period is ${days(input.preparePeriodMs)}.`,
      };
    }
    // Past its end the active CA signs nothing valid: spokes are better off with the new CA early.
    if (active && active.notAfter.getTime() <= at) {
      return {
        action: "activate",
        sha256: next.sha256,
        reason: "ActiveExpired",
        message: `The active CA ${active.sha256} has expired before the prepare period ended.`,
      };
    }
    return {
      action: "none",
      reason: "Preparing",
      message: `CA ${next.sha256} activates in ${days(input.preparePeriodMs - published)}.`,
    };
  }
  if (active) {
    const left = active.notAfter.getTime() - at;
    if (left < input.rotateBeforeMs) {
      return {
        action: "prepare",
        reason: "ActiveExpiring",
        message: `The active CA ${active.sha256} has ${days(left)} left, less than ${days(input.rotateBeforeMs)}.`,
      };
    }
  }
  const inUse = cas.filter((c) => c.phase === "retiring");
  if (inUse.length > 0) {
    return {
      action: "none",
      reason: "RetiringInUse",
      message: `Waiting for the live certificates of ${inUse.map((c) => c.sha256).join(", ")}.`,
    };
  }
  return { action: "none", reason: "Stable", message: "One active CA, far from expiry." };
}
