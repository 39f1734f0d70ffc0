/**
 * Tokens (SPEC §2.4): random text handed out once, stored only as its SHA-256. One-time purposes
 * (info, csr) are consumed atomically by the store; bootstrap and admin tokens are reusable until
 * they expire. Every outcome is audited and counted; the token text itself never is.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Clock } from "@tether/shared/time";
import type { Audit } from "../audit.ts";
import { invalidToken } from "../errors.ts";
import type { HubMetrics } from "../metrics.ts";
import type { Store, TokenPurpose, TokenRecord } from "../store/store.ts";

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
    const token = mintToken();
    const now = this.#clock.now();
    const expiresAt = new Date(now.getTime() + ttlMs);
    await this.#store.putToken({
      hash: hashToken(token),
      purpose,
      runtimeId,
      createdAt: now,
      expiresAt,
      usedAt: null,
      labels,
    });
    this.#metrics.tokens.inc({ purpose, result: "issued" });
    // The admin token is not a runtime's: auditing it would only say that the hub started.
    if (purpose !== "admin") {
      await this.#audit.record("token.issued", runtimeId, { purpose, expiresAt: expiresAt.toISOString() });
    }
    return token;
  }

  /** Checks a token without using it; throws 403 "Invalid token." when it cannot be used. */
  async peek(token: string, purpose: TokenPurpose): Promise<TokenRecord> {
    const result = await this.#store.peekToken(hashToken(token), purpose, this.#leewayNow());
    if (!result.ok) return this.#refuse(purpose, result.reason);
    return result.token;
  }

  /**
   * Uses a token: for one-time purposes exactly one caller ever gets it; reusable ones are checked
   * and their use audited. Throws 403 "Invalid token." otherwise.
   */
  async consume(token: string, purpose: TokenPurpose): Promise<TokenRecord> {
    const result = await this.#store.consumeToken(hashToken(token), purpose, this.#leewayNow());
    if (!result.ok) return this.#refuse(purpose, result.reason);
    this.#metrics.tokens.inc({ purpose, result: "used" });
    if (purpose !== "admin") await this.#audit.record("token.used", result.token.runtimeId, { purpose });
    return result.token;
  }

  /** Admin tokens are checked on every internal request: counted, but not audited one by one. */
  async checkAdmin(token: string): Promise<void> {
    const result = await this.#store.peekToken(hashToken(token), "admin", this.#leewayNow());
    if (!result.ok) await this.#refuse("admin", result.reason);
  }

  async #refuse(purpose: TokenPurpose, reason: string): Promise<never> {
    this.#metrics.tokens.inc({ purpose, result: "refused" });
    await this.#audit.record("token.refused", null, { purpose, reason });
    throw invalidToken();
  }

  /** The store compares expiry with the time it is given; the leeway shifts that time back. */
  #leewayNow(): Date {
    return new Date(this.#clock.now().getTime() - TOKEN_LEEWAY_MS);
  }
}
