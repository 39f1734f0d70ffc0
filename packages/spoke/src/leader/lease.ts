/**
 * Lease-based leader election as client-go does it: a candidate takes the Lease when it is free or
 * when its holder has not renewed it for a whole lease duration (measured on the candidate's own
 * clock, from when it last saw the Lease change, so that clock skew between nodes does not matter);
 * the leader renews every retry period and steps down when it could not renew within the renew
 * deadline. Only the leader runs the controllers; on shutdown it releases the Lease so that a
 * standby takes over at once instead of after the lease duration.
 */
import type { V1Lease } from "@kubernetes/client-node";
import type { Clock, Random } from "@tether/shared/time";
import type { Logger } from "pino";
import type { Leases } from "../kube/port.ts";
import { ConflictError } from "../kube/port.ts";

export interface LeaderElectionTiming {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export const defaultLeaderElectionTiming: LeaderElectionTiming = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

export interface LeaderElectorOptions {
  leases: Leases;
  clock: Clock;
  random: Random;
  logger: Logger;
  namespace: string;
  name: string;
  identity: string;
  timing?: LeaderElectionTiming;
}

/** Runs while leading; `leading` aborts when leadership ends. */
export type LeadFunction = (leading: AbortSignal) => Promise<void>;

export class LeaderElector {
  readonly #o: LeaderElectorOptions;
  readonly #timing: LeaderElectionTiming;
  #observed: { version: string | undefined; at: number } | undefined;
  #leader = false;

  constructor(options: LeaderElectorOptions) {
    this.#o = options;
    this.#timing = options.timing ?? defaultLeaderElectionTiming;
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  /** Campaigns, leads, and campaigns again after a loss, until `signal` aborts; then releases. */
  async run(signal: AbortSignal, lead: LeadFunction): Promise<void> {
    const { logger, identity } = this.#o;
    while (!signal.aborted) {
      if (!(await this.#tryAcquireOrRenew())) {
        await this.#sleep(this.#jittered(this.#timing.retryPeriodMs), signal);
        continue;
      }
      logger.info({ identity, lease: this.#o.name }, "became the leader");
      this.#leader = true;
      const leading = new AbortController();
      const work = lead(leading.signal).catch((error: unknown) =>
        logger.error({ err: error }, "the leader's work failed"),
      );
      await this.#keepRenewing(signal);
      this.#leader = false;
      leading.abort(new Error("leadership ended"));
      await work;
      if (signal.aborted) {
        await this.#release();
        return;
      }
      logger.warn(
        { identity, lease: this.#o.name },
        "lost the lease; controllers stopped; campaigning again",
      );
    }
  }

  /** Returns when the agent is shutting down or could not renew within the renew deadline. */
  async #keepRenewing(signal: AbortSignal): Promise<void> {
    const { clock } = this.#o;
    let renewedAt = clock.now().getTime();
    while (!signal.aborted) {
      await this.#sleep(this.#timing.retryPeriodMs, signal);
      if (signal.aborted) return;
      if (await this.#tryAcquireOrRenew()) renewedAt = clock.now().getTime();
      else if (clock.now().getTime() - renewedAt >= this.#timing.renewDeadlineMs) return;
    }
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const { leases, namespace, name, identity, clock, logger } = this.#o;
    const now = clock.now();
    const seconds = Math.ceil(this.#timing.leaseDurationMs / 1000);
    try {
      const lease = await leases.get(namespace, name);
      if (lease === undefined) {
        await leases.create({
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: seconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        });
        return true;
      }
      const version = lease.metadata?.resourceVersion;
      let observed = this.#observed;
      if (observed === undefined || observed.version !== version) {
        observed = { version, at: now.getTime() };
        this.#observed = observed;
      }
      const holder = lease.spec?.holderIdentity ?? "";
      const holderSeconds = lease.spec?.leaseDurationSeconds ?? seconds;
      if (holder !== "" && holder !== identity && observed.at + holderSeconds * 1000 > now.getTime()) {
        return false;
      }
      const ours = holder === identity;
      const next: V1Lease = {
        ...lease,
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: seconds,
          acquireTime: ours ? lease.spec?.acquireTime : now,
          renewTime: now,
          leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + (ours ? 0 : 1),
        },
      };
      const written = await leases.replace(next);
      this.#observed = { version: written.metadata?.resourceVersion, at: now.getTime() };
      return true;
    } catch (error) {
      if (!(error instanceof ConflictError))
        logger.warn({ err: error, lease: name }, "could not read or write the Lease");
      return false;
    }
  }

  async #release(): Promise<void> {
    const { leases, namespace, name, identity, clock, logger } = this.#o;
    try {
      const lease = await leases.get(namespace, name);
      if (lease?.spec?.holderIdentity !== identity) return;
      const now = clock.now();
      await leases.replace({
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: "",
          leaseDurationSeconds: 1,
          acquireTime: now,
          renewTime: now,
        },
      });
      logger.info({ identity, lease: name }, "released the lease");
    } catch (error) {
      logger.warn(
        { err: error, lease: name },
        "could not release the Lease; a standby takes over after it expires",
      );
    }
  }

  /** client-go waits retryPeriod × [1, 1.2): candidates that started together do not collide forever. */
  #jittered(ms: number): number {
    return ms * (1 + 0.2 * this.#o.random());
  }

  async #sleep(ms: number, signal: AbortSignal): Promise<void> {
    await this.#o.clock.sleep(ms, signal).catch(() => undefined);
  }
}
