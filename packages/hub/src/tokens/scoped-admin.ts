/**
 * Scoped admin tokens: signed, expiring JWTs (@fastify/jwt, HS256) that carry the admin scopes they
 * grant, for automation that should not hold the full admin token (a pipeline that enrols clusters
 * needs `tokens:create`, nothing else). Each is registered in the store under its id (purpose
 * `scoped-admin`, never accepted as a full admin token), so that it can be revoked by id.
 */
import { hkdfSync, randomUUID } from "node:crypto";
import type { JWT } from "@fastify/jwt";
import type { AdminScope } from "@tether/shared/contract";
import type { CaKeyring } from "@tether/shared/pki";
import type { Clock } from "@tether/shared/time";
import { HttpError, invalidToken } from "../errors.ts";
import type { Store } from "../store/store.ts";
import { TOKEN_LEEWAY_MS, hashToken } from "./tokens.ts";

interface Claims {
  jti: string;
  scope: AdminScope[];
}

/**
 * The signing secret, derived from the key of the CA given (app.ts passes the hub's founding CA, which
 * CA rotation never replaces): every replica sharing the store accepts the tokens of the others, and
 * nothing new has to be kept.
 */
export async function scopedAdminSecret(keyring: CaKeyring): Promise<Buffer> {
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keyring.active.key.privateKey);
  return Buffer.from(hkdfSync("sha256", new Uint8Array(pkcs8), "", "tether-hub scoped admin tokens", 32));
}

/** A JWT has three dot-separated parts; the hub's own tokens are base64url without dots. */
export const isJwt = (token: string): boolean => token.split(".").length === 3;

export class ScopedAdminTokens {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #jwt: () => JWT;

  constructor(options: { store: Store; clock: Clock; jwt: () => JWT }) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#jwt = options.jwt;
  }

  async mint(scopes: AdminScope[], ttlMs: number): Promise<{ id: string; token: string; expiresAt: Date }> {
    const id = randomUUID();
    const now = this.#clock.now();
    const expiresAt = new Date(now.getTime() + ttlMs);
    await this.#store.putToken({
      hash: hashToken(id),
      purpose: "scoped-admin",
      runtimeId: "",
      createdAt: now,
      expiresAt,
      usedAt: null,
      labels: null,
    });
    const claims: Claims = { jti: id, scope: scopes };
    const token = this.#jwt().sign(claims, { expiresIn: ttlMs, clockTimestamp: now.getTime() });
    return { id, token, expiresAt };
  }

  /** 403 unless the token is valid, unrevoked, unexpired and grants `scope` (undefined: full admin only). */
  async check(token: string, scope: AdminScope | undefined): Promise<void> {
    let claims: Claims;
    try {
      claims = this.#jwt().verify<Claims>(token, {
        clockTimestamp: this.#clock.now().getTime(),
        clockTolerance: TOKEN_LEEWAY_MS / 1000,
      });
    } catch {
      throw invalidToken();
    }
    const leewayNow = new Date(this.#clock.now().getTime() - TOKEN_LEEWAY_MS);
    if (!(await this.#store.peekToken(hashToken(claims.jti), "scoped-admin", leewayNow)).ok)
      throw invalidToken();
    if (scope === undefined || !claims.scope.includes(scope)) {
      throw new HttpError(
        403,
        scope === undefined
          ? "This route needs the full admin token."
          : `The admin token lacks the scope this route needs: ${scope}.`,
      );
    }
  }

  /** False when no scoped admin token has this id or it was revoked already. */
  async revoke(id: string): Promise<boolean> {
    const hash = hashToken(id);
    if (!(await this.#store.peekToken(hash, "scoped-admin", new Date(0))).ok) return false;
    return this.#store.revokeToken(hash, this.#clock.now());
  }
}
