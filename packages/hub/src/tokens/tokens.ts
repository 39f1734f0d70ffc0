/**
 * Tokens (docs/tokens.md#tokens): random text handed out once, stored only as its SHA-256. One-time purposes
 * (info, csr) are consumed atomically by the store; bootstrap and admin tokens are reusable until
 * they expire. Every outcome is audited and counted; the token text itself never is.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Clock } from "@tether/shared/time";
import type { Audit } from "../audit.ts";
import { invalidToken } from "../errors.ts";
import type { HubMetrics } from "../metrics.ts";
import type { Purchase, Store, TokenPurpose, TokenRecord } from "../store/store.ts";

/** Tokens stay valid this long past their expiry, for clock skew between hub replicas and clients. */
export const TOKEN_LEEWAY_MS = 60_000;

/** 256 random bits, URL-safe so that it can sit in a query string unescaped. */
export function mintToken(): string {
  return randomBytes(32).toString("base64url");
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

export interface TokenServiceOptions {
  store: Store;
  clock: Clock;
  audit: Audit;
  metrics: HubMetrics;
}

export class TokenService {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #audit: Audit;
  readonly #metrics: HubMetrics;

  constructor(options: TokenServiceOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#audit = options.audit;
    this.#metrics = options.metrics;
  }

  /**
   * Mints and stores a token; returns its text, which exists nowhere else from now on. `labels`: what
   * an info token gives its runtime when it is used (re-enrolment), if anything.
   */
  async issue(
    purpose: TokenPurpose,
    runtimeId: string,
    ttlMs: number,
    labels: Record<string, string> | null = null,
  ): Promise<string> {
    const minted = this.mint(purpose, runtimeId, ttlMs, labels);
    await this.#store.putToken(minted.record);
    this.#metrics.tokens.inc({ purpose, result: "issued" });
    // The admin token is not a runtime's: auditing it would only say that the hub started.
    if (purpose !== "admin") {
      await this.#audit.record("token.issued", runtimeId, {
        purpose,
        expiresAt: minted.record.expiresAt.toISOString(),
      });
    }
    return minted.token;
  }

  /** A new token and its record, not yet stored: what `spend` buys with another token. */
  mint(
    purpose: TokenPurpose,
    runtimeId: string,
    ttlMs: number,
    labels: Record<string, string> | null = null,
  ): { token: string; record: TokenRecord } {
    const token = mintToken();
    const now = this.#clock.now();
    return {
      token,
      record: {
        hash: hashToken(token),
        purpose,
        runtimeId,
        createdAt: now,
        expiresAt: new Date(now.getTime() + ttlMs),
        usedAt: null,
        labels,
      },
    };
  }

  /**
   * Uses `token` and stores what it bought (a minted token, a certificate, their audit events) in one
   * store transaction: when that fails the token stays usable for a retry. Throws 403 "Invalid
   * token." when it cannot be used.
   */
  async spend(token: string, purpose: TokenPurpose, purchase: Purchase): Promise<TokenRecord> {
    const bought = purchase.token;
    const runtimeId = bought?.runtimeId ?? purchase.certificate?.runtimeId ?? null;
    const audit = [this.#audit.event("token.used", runtimeId, { purpose })];
    if (bought) {
      const expiresAt = bought.expiresAt.toISOString();
      audit.push(this.#audit.event("token.issued", runtimeId, { purpose: bought.purpose, expiresAt }));
    }
    audit.push(...purchase.audit);
    const result = await this.#store.spendToken(hashToken(token), purpose, this.#leewayNow(), {
      ...purchase,
      audit,
    });
    if (!result.ok) return this.#refuse(purpose, result.reason);
    this.#metrics.tokens.inc({ purpose, result: "used" });
    if (bought) this.#metrics.tokens.inc({ purpose: bought.purpose, result: "issued" });
    this.#audit.logged(audit);
    return result.token;
  }

  /** Checks a token without using it; throws 403 "Invalid token." when it cannot be used. */
  async peek(token: string, purpose: TokenPurpose): Promise<TokenRecord> {
    const result = await this.#store.peekToken(hashToken(token), purpose, this.#leewayNow());
    if (!result.ok) return this.#refuse(purpose, result.reason);
    return result.token;
  }

  /** Admin tokens are checked on every internal request: counted, but not audited one by one. */
  async checkAdmin(token: string): Promise<void> {
    const result = await this.#store.peekToken(hashToken(token), "admin", this.#leewayNow());
    if (!result.ok) await this.#refuse("admin", result.reason);
  }

  /** A refusal needs no write: when the store cannot record it, it is logged and still refused. */
  async #refuse(purpose: TokenPurpose, reason: string): Promise<never> {
    this.#metrics.tokens.inc({ purpose, result: "refused" });
    await this.#audit.record("token.refused", null, { purpose, reason }).catch(() => undefined);
    throw invalidToken();
  }

  /** The store compares expiry with the time it is given; the leeway shifts that time back. */
  #leewayNow(): Date {
    return new Date(this.#clock.now().getTime() - TOKEN_LEEWAY_MS);
  }
}
