/**
 * Who is calling an mTLS route (docs/api.md#client-certificates)? The TLS layer asks for a client certificate but accepts
 * any, so every mTLS route runs this: a certificate was presented, it chains to a CA of the keyring,
 * it is not revoked, the hub issued it, and it is valid at the hub's clock. Each refusal is a 403 with
 * the contract's message.
 */
import { createHash } from "node:crypto";
import type { TLSSocket } from "node:tls";
import type { FastifyRequest } from "fastify";
import { ErrorMessages } from "@tether/shared/contract";
import { derToPem, verifyChain, type CaKeyring, type ChainResult, type Subject } from "@tether/shared/pki";
import type { Clock } from "@tether/shared/time";
import { HttpError } from "../errors.ts";
import type { CertificateRecord, Store } from "../store/store.ts";
import { Lru } from "./lru.ts";

type VerifiedChain = Extract<ChainResult, { ok: true }>;

export interface ClientIdentity {
  subject: Subject;
  certificate: CertificateRecord;
}

/** Validity is checked with this much slack either way, like token expiry. */
export const CERTIFICATE_LEEWAY_MS = 60_000;
/**
 * lastSeenAt is a hint for operators: writing it on every request would cost a store write each, and
 * at the spoke's 60 s sync even once a minute would be one write per request.
 */
export const TOUCH_INTERVAL_MS = 5 * 60_000;
/** Certificates whose chain check and record are kept (docs/hub.md#mtls-caches); a few MB at most. */
export const CLIENT_CACHE_SIZE = 10_000;
/**
 * How long "not renewed yet" is believed (never longer than half the superseded grace): a renewal
 * only refuses its parent a whole grace period after it was issued, so an answer this old is still right.
 */
const NO_RENEWAL_TTL_MS = 30_000;

/** What is known of a certificate the hub recorded: the record never changes, its renewal appears once. */
interface KnownCertificate {
  record: CertificateRecord;
  renewal: CertificateRecord | undefined;
  /** Until when `renewal: undefined` may be believed without asking the store again. */
  noRenewalUntil: number;
}

const refuse = (message: string) => new HttpError(403, message);

/** One connection's client certificate (undefined: none sent) and its last passed chain check. */
interface Presented {
  readonly raw: Buffer | undefined;
  chain: VerifiedChain | undefined;
}

/** A keyring that may know retired CAs (ca/live-keyring.ts). */
export type RotatingKeyring = CaKeyring & { retiredIssuerOf?(leafDer: Buffer): string | undefined };

export class ClientAuthenticator {
  readonly #keyring: RotatingKeyring;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #supersededGraceMs: number;
  readonly #lastTouched = new Map<string, number>();
  /** #lastTouched is swept of entries past the interval when it grows beyond this (amortised O(1)). */
  #sweepAbove = CLIENT_CACHE_SIZE;
  /** What each connection presented, read once: renegotiation is off, so it cannot change (app.ts). */
  readonly #sockets = new WeakMap<object, Presented>();
  /** Verified chains by the SHA-256 of the presented DER: a new connection with a known certificate skips the check. */
  readonly #chains = new Lru<string, VerifiedChain>(CLIENT_CACHE_SIZE);
  readonly #known = new Lru<string, KnownCertificate>(CLIENT_CACHE_SIZE);

  constructor(options: { keyring: RotatingKeyring; store: Store; clock: Clock; supersededGraceMs: number }) {
    this.#supersededGraceMs = options.supersededGraceMs;
    this.#keyring = options.keyring;
    this.#store = options.store;
    this.#clock = options.clock;
  }

  async authenticate(request: FastifyRequest): Promise<ClientIdentity> {
    const presented = this.#presented(request.raw.socket);
    if (presented.raw === undefined) throw refuse(ErrorMessages.clientCertificateRequired);
    const now = this.#clock.now();
    const chain = await this.#verify(presented, presented.raw, now);
    if (!chain.ok) {
      request.log.info({ reason: chain.reason, detail: chain.message }, "client certificate refused");
      // Told apart from an unknown issuer: the cluster only needs a new enrolment (docs/pki.md#ca-rotation).
      if (chain.reason === "untrusted" && this.#keyring.retiredIssuerOf?.(presented.raw) !== undefined) {
        throw refuse(ErrorMessages.issuerRetired);
      }
      const expired = ["expired", "not-yet-valid", "issuer-expired"].includes(chain.reason);
      throw refuse(expired ? ErrorMessages.expiredCertificate : ErrorMessages.untrustedCertificate);
    }
    const sha256 = chain.leaf.sha256;
    // Revocation is asked every time (one indexed read): a revocation made through any replica
    // refuses the certificate on its next request. The record and its renewal are cached.
    const [revocation, known] = await Promise.all([
      this.#store.getRevocation(sha256),
      this.#knownCertificate(sha256, now),
    ]);
    if (revocation) throw refuse(ErrorMessages.certificateRevoked);
    if (!known) throw refuse(ErrorMessages.unknownCertificate);
    // A renewed certificate keeps working for the grace period, so that a spoke rolling its new
    // certificate out is not cut off; after that only the renewal is accepted.
    const { renewal } = known;
    if (renewal && now.getTime() >= renewal.issuedAt.getTime() + this.#supersededGraceMs) {
      throw refuse(ErrorMessages.certificateSuperseded);
    }
    await this.#touch(request, known.record.runtimeId, now);
    return { subject: chain.leaf.subject, certificate: known.record };
  }

  /**
   * The certificate's record and first renewal. An unknown hash is not cached (it may be recorded
   * a moment later by another replica); "no renewal" is re-read after NO_RENEWAL_TTL_MS, or at
   * once when there is no grace to cover it.
   */
  async #knownCertificate(sha256: string, now: Date): Promise<KnownCertificate | undefined> {
    const at = now.getTime();
    let known = this.#known.get(sha256);
    if (known === undefined) {
      const record = await this.#store.getCertificate(sha256);
      if (!record) return undefined;
      known = { record, renewal: undefined, noRenewalUntil: -Infinity };
    }
    if (known.renewal === undefined && at >= known.noRenewalUntil) {
      const renewal = await this.#store.firstRenewal(sha256);
      const ttl = Math.min(NO_RENEWAL_TTL_MS, this.#supersededGraceMs / 2);
      known = { record: known.record, renewal, noRenewalUntil: at + ttl };
    }
    this.#known.set(sha256, known);
    return known;
  }

  /** A connection's certificate is read on its first request only: it cannot change (app.ts). */
  #presented(socket: object): Presented {
    let presented = this.#sockets.get(socket);
    if (presented === undefined) {
      presented = { raw: presentedCertificate(socket), chain: undefined };
      this.#sockets.set(socket, presented);
    }
    return presented;
  }

  /**
   * The chain check parses and verifies signatures; its answer for one DER cannot change, except
   * with time and with the keyring. Keep-alive connections and new connections presenting a known
   * certificate reuse it; only the validity and the issuer's place in the keyring are re-checked.
   */
  async #verify(connection: Presented, presented: Buffer, now: Date): Promise<ChainResult> {
    if (connection.chain !== undefined && this.#stillValid(connection.chain, now)) return connection.chain;
    const key = createHash("sha256").update(presented).digest("hex");
    const known = this.#chains.get(key);
    if (known !== undefined && this.#stillValid(known, now)) {
      connection.chain = known;
      return known;
    }
    const chain = await verifyChain(derToPem(new Uint8Array(presented)), this.#keyring, now, {
      leewayMs: CERTIFICATE_LEEWAY_MS,
    });
    if (chain.ok) {
      connection.chain = chain;
      this.#chains.set(key, chain);
    } else {
      connection.chain = undefined;
      this.#chains.delete(key);
    }
    return chain;
  }

  /** verifyChain's validity rules: the leaf with the leeway, the issuing CA without. */
  #stillValid(chain: VerifiedChain, now: Date): boolean {
    const at = now.getTime();
    const { notBefore, notAfter } = chain.leaf;
    if (at + CERTIFICATE_LEEWAY_MS < notBefore.getTime() || at - CERTIFICATE_LEEWAY_MS > notAfter.getTime())
      return false;
    const issuer = this.#keyring.trusted.find((ca) => ca.sha256 === chain.issuer.sha256)?.cert;
    return issuer !== undefined && at >= issuer.notBefore.getTime() && at <= issuer.notAfter.getTime();
  }

  /** Runtimes that stopped calling (deleted, moved to another replica) do not stay in memory. */
  #sweepTouched(at: number): void {
    if (this.#lastTouched.size <= this.#sweepAbove) return;
    for (const [id, touched] of this.#lastTouched) {
      if (at - touched >= TOUCH_INTERVAL_MS) this.#lastTouched.delete(id);
    }
    this.#sweepAbove = Math.max(CLIENT_CACHE_SIZE, 2 * this.#lastTouched.size);
  }

  /** A hint, not a need: a store that cannot write must not refuse a request that only reads. */
  async #touch(request: FastifyRequest, runtimeId: string, now: Date): Promise<void> {
    const last = this.#lastTouched.get(runtimeId) ?? -Infinity;
    if (now.getTime() - last < TOUCH_INTERVAL_MS) return;
    this.#lastTouched.set(runtimeId, now.getTime());
    this.#sweepTouched(now.getTime());
    await this.#store.touchRuntime(runtimeId, now).catch((error: unknown) => {
      this.#lastTouched.delete(runtimeId);
      request.log.warn({ err: error, runtimeId }, "lastSeenAt not recorded");
    });
  }
}

/**
 * The DER of the leaf the client sent; undefined without one (and under `inject`, which has no TLS).
 * `getPeerX509Certificate` wraps the DER as it is (~10 µs); `getPeerCertificate` builds an object of
 * every field (~80 µs), which a new connection would pay for nothing.
 */
function presentedCertificate(socket: object): Buffer | undefined {
  const tls = socket as Partial<TLSSocket>;
  if (typeof tls.getPeerX509Certificate !== "function") return undefined;
  return tls.getPeerX509Certificate()?.raw;
}
