/**
 * The certificate health checker of the bootstrap flow (docs/renewal.md#health-check-and-restart), like Open Cluster Management's
 * client-cert health checker: every --cert-health-period it looks at the client certificate the
 * agent joined with (as renewed since) and at the bootstrap kubeconfig. An expired certificate, one
 * whose CA the hub retired (docs/renewal.md#ca-rotation), or a bootstrap kubeconfig whose content
 * changed, cannot be repaired in place: /livez fails and the agent exits, so that Kubernetes restarts it and the start-up decision bootstraps again.
 */
import type { Clock } from "@tether/shared/time";
import type { Violation } from "../policy/chain.ts";

export type RestartReason = "CertificateExpired" | "IssuerRetired" | "BootstrapKubeconfigChanged";

/** What one check sees; a fingerprint is undefined when that source is absent or unreadable. */
export interface HealthFacts {
  /** notAfter of the newest client certificate seen since the agent joined; undefined before. */
  certificateNotAfter: Date | undefined;
  /** The bootstrap kubeconfig file and Secret as first seen, and now. */
  fileAtStart: string | undefined;
  fileNow: string | undefined;
  secretAtStart: string | undefined;
  secretNow: string | undefined;
  /** The hub refused the certificate in the hub kubeconfig Secret: its CA is retired. */
  issuerRetired: boolean;
  now: Date;
}

/**
 * A source that vanished is not a change: kubelet keeps the last content of a deleted Secret's
 * volume, and an operator may delete the bootstrap Secret once the cluster has joined. A source that
 * appears, or whose content differs, is one.
 */
function changed(atStart: string | undefined, now: string | undefined): boolean {
  return now !== undefined && now !== atStart;
}

export function healthVerdict(facts: HealthFacts): Violation<RestartReason> | undefined {
  const notAfter = facts.certificateNotAfter;
  if (notAfter !== undefined && facts.now >= notAfter) {
    return {
      reason: "CertificateExpired",
      message: `the client certificate expired at ${notAfter.toISOString()}; restarting to bootstrap again`,
    };
  }
  if (facts.issuerRetired) {
    return {
      reason: "IssuerRetired",
      message: "the hub retired the CA that issued the client certificate; restarting to bootstrap again",
    };
  }
  if (changed(facts.fileAtStart, facts.fileNow)) {
    return {
      reason: "BootstrapKubeconfigChanged",
      message: "the bootstrap kubeconfig file changed; restarting to join with it",
    };
  }
  if (changed(facts.secretAtStart, facts.secretNow)) {
    return {
      reason: "BootstrapKubeconfigChanged",
      message: "the bootstrap kubeconfig Secret changed; restarting to join with it",
    };
  }
  return undefined;
}

export interface HealthSources {
  /** Fingerprint of the bootstrap kubeconfig file; undefined when it cannot be read. */
  file(): Promise<string | undefined>;
  /** Fingerprint of the bootstrap kubeconfig Secret's data; undefined when there is none. */
  secret(): Promise<string | undefined>;
  /** notAfter of the certificate in the hub kubeconfig Secret; undefined when there is none. */
  certificateNotAfter(): Promise<Date | undefined>;
  /**
   * Whether the hub refused the certificate now in the hub kubeconfig Secret because it retired its
   * CA (the CentralConnection's Ready=False IssuerRetired); absent: never.
   */
  issuerRetired?(): Promise<boolean>;
}

export class CertificateHealthChecker {
  readonly #clock: Clock;
  readonly #periodMs: number;
  readonly #sources: HealthSources;
  #start: { file: string | undefined; secret: string | undefined } | undefined;
  #tracking = false;
  #notAfter: Date | undefined;
  #failure: Violation<RestartReason> | undefined;

  constructor(options: { clock: Clock; periodMs: number; sources: HealthSources }) {
    this.#clock = options.clock;
    this.#periodMs = options.periodMs;
    this.#sources = options.sources;
  }

  /** Takes the bootstrap kubeconfig's first fingerprints, against which later checks compare. */
  async baseline(): Promise<void> {
    this.#start = { file: await this.#sources.file(), secret: await this.#sources.secret() };
  }

  /** From now on the certificate counts: the agent joined with it (or judged it valid at start). */
  track(notAfter: Date): void {
    this.#tracking = true;
    this.#notAfter = later(this.#notAfter, notAfter);
  }

  /** For /livez: undefined while healthy. */
  problem(): string | undefined {
    return this.#failure?.message;
  }

  /** One check; remembers and answers the failure, if any. */
  async check(): Promise<Violation<RestartReason> | undefined> {
    if (this.#start === undefined) await this.baseline();
    if (this.#tracking) {
      // A Secret that is missing for a moment (deleted, being rewritten) keeps the last certificate.
      this.#notAfter = later(this.#notAfter, await this.#sources.certificateNotAfter());
    }
    this.#failure ??= healthVerdict({
      certificateNotAfter: this.#notAfter,
      fileAtStart: this.#start?.file,
      fileNow: await this.#sources.file(),
      secretAtStart: this.#start?.secret,
      secretNow: await this.#sources.secret(),
      issuerRetired: this.#tracking && ((await this.#sources.issuerRetired?.()) ?? false),
      now: this.#clock.now(),
    });
    return this.#failure;
  }

  /**
   * Checks every period until a check fails (answering why) or `signal` aborts (answering
   * undefined). A check that throws (the API server unreachable) is not a verdict: the next one
   * tries again.
   */
  async run(
    signal: AbortSignal,
    onError: (error: unknown) => void,
  ): Promise<Violation<RestartReason> | undefined> {
    await this.baseline().catch(onError);
    while (!signal.aborted) {
      try {
        await this.#clock.sleep(this.#periodMs, signal);
      } catch {
        return undefined;
      }
      try {
        const failure = await this.check();
        if (failure) return failure;
      } catch (error) {
        onError(error);
      }
    }
    return undefined;
  }
}

function later(a: Date | undefined, b: Date | undefined): Date | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a >= b ? a : b;
}
