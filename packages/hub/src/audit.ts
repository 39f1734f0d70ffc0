/**
 * Audit events (docs/store.md#audit-events): every token issued/used/refused, certificate issued/renewed/refused and
 * revocation goes to the log (one pino line with `audit: true`) and to the store, which keeps them
 * across restarts. Callers never pass a token or a key in `detail`.
 */
import type { FastifyBaseLogger } from "fastify";
import type { Clock } from "@tether/shared/time";
import type { AuditEvent, Store } from "./store/store.ts";

export type AuditType =
  | "token.issued"
  | "token.used"
  | "token.refused"
  | "certificate.issued"
  | "certificate.renewed"
  | "certificate.refused"
  | "certificate.revoked"
  | "runtime.created"
  | "runtime.labels.replaced"
  | "runtime.deleted"
  | "ca.added"
  | "ca.prepared"
  | "ca.activated"
  | "ca.retired";

export class Audit {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #log: FastifyBaseLogger;

  constructor(store: Store, clock: Clock, log: FastifyBaseLogger) {
    this.#store = store;
    this.#clock = clock;
    this.#log = log.child({ audit: true });
  }

  async record(
    type: AuditType,
    runtimeId: string | null,
    detail: Record<string, unknown> = {},
  ): Promise<void> {
    const event = this.event(type, runtimeId, detail);
    this.logged([event]);
    await this.#store.appendAudit(event);
  }

  /** An event to store with the write it describes (`Store.spendToken`); `logged` once that committed. */
  event(type: AuditType, runtimeId: string | null, detail: Record<string, unknown> = {}): AuditEvent {
    return { at: this.#clock.now(), type, runtimeId, detail };
  }

  logged(events: AuditEvent[]): void {
    for (const { type, runtimeId, detail } of events)
      this.#log.info({ event: type, runtimeId, ...detail }, type);
  }
}
