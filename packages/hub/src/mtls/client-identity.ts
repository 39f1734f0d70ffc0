/**
 * Who is calling an mTLS route (docs/api.md#client-certificates)? The TLS layer asks for a client certificate but accepts
 * any, so every mTLS route runs this: a certificate was presented, it chains to a CA of the keyring,
 * it is not revoked, the hub issued it, and it is valid at the hub's clock. Each refusal is a 403 with
 * the contract's message.
 */
import type { TLSSocket } from "node:tls";
import type { FastifyRequest } from "fastify";
import { ErrorMessages } from "@tether/shared/contract";
import { derToPem, verifyChain, type CaKeyring, type ChainResult, type Subject } from "@tether/shared/pki";
import type { Clock } from "@tether/shared/time";
import { HttpError } from "../errors.ts";
import type { CertificateRecord, Store } from "../store/store.ts";

type VerifiedChain = Extract<ChainResult, { ok: true }>;

export interface ClientIdentity {
  subject: Subject;
  certificate: CertificateRecord;
}

/** Validity is checked with this much slack either way, like token expiry. */
export const CERTIFICATE_LEEWAY_MS = 60_000;
/** lastSeenAt is a hint for operators: writing it on every request would cost a store write each. */
const TOUCH_INTERVAL_MS = 60_000;

const refuse = (message: string) => new HttpError(403, message);

/** A keyring that may know retired CAs (ca/live-keyring.ts). */
export type RotatingKeyring = CaKeyring & { retiredIssuerOf?(leafDer: Buffer): string | undefined };

export class ClientAuthenticator {
  readonly #keyring: RotatingKeyring;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #supersededGraceMs: number;
  readonly #lastTouched = new Map<string, number>();
  readonly #verified = new WeakMap<object, { raw: Buffer; chain: VerifiedChain }>();

  constructor(options: { keyring: RotatingKeyring; store: Store; clock: Clock; supersededGraceMs: number }) {
    this.#supersededGraceMs = options.supersededGraceMs;
    this.#keyring = options.keyring;
    this.#store = options.store;
    this.#clock = options.clock;
  }

  async authenticate(request: FastifyRequest): Promise<ClientIdentity> {
    const socket = request.raw.socket;
    const presented = presentedCertificate(socket);
    if (presented === undefined) throw refuse(ErrorMessages.clientCertificateRequired);
    const now = this.#clock.now();
    const chain = await this.#verify(socket, presented, now);
    if (!chain.ok) {
      request.log.info({ reason: chain.reason, detail: chain.message }, "client certificate refused");
      // Told apart from an unknown issuer: the cluster only needs a new enrolment (docs/pki.md#ca-rotation).
      if (chain.reason === "untrusted" && this.#keyring.retiredIssuerOf?.(presented) !== undefined) {
        throw refuse(ErrorMessages.issuerRetired);
      }
      const expired = ["expired", "not-yet-valid", "issuer-expired"].includes(chain.reason);
      throw refuse(expired ? ErrorMessages.expiredCertificate : ErrorMessages.untrustedCertificate);
    }
    const sha256 = chain.leaf.sha256;
    const [revocation, certificate] = await Promise.all([
      this.#store.getRevocation(sha256),
      this.#store.getCertificate(sha256),
    ]);
    if (revocation) throw refuse(ErrorMessages.certificateRevoked);
    if (!certificate) throw refuse(ErrorMessages.unknownCertificate);
    // A renewed certificate keeps working for the grace period, so that a spoke rolling its new
    // certificate out is not cut off; after that only the renewal is accepted.
    const renewal = await this.#store.firstRenewal(sha256);
    if (renewal && now.getTime() >= renewal.issuedAt.getTime() + this.#supersededGraceMs) {
      throw refuse(ErrorMessages.certificateSuperseded);
    }
    await this.#touch(request, certificate.runtimeId, now);
    return { subject: chain.leaf.subject, certificate };
  }

  /**
   * The chain check parses and verifies signatures; its answer cannot change while a connection
   * lives, except with time. Keep-alive connections reuse it and only the validity is re-checked.
   */
  async #verify(socket: object, presented: Buffer, now: Date): Promise<ChainResult> {
    const cached = this.#verified.get(socket);
    if (cached?.raw.equals(presented) && this.#stillValid(cached.chain, now)) return cached.chain;
    const chain = await verifyChain(derToPem(new Uint8Array(presented)), this.#keyring, now, {
      leewayMs: CERTIFICATE_LEEWAY_MS,
    });
    if (chain.ok) this.#verified.set(socket, { raw: presented, chain });
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

  /** A hint, not a need: a store that cannot write must not refuse a request that only reads. */
  async #touch(request: FastifyRequest, runtimeId: string, now: Date): Promise<void> {
    const last = this.#lastTouched.get(runtimeId) ?? -Infinity;
    if (now.getTime() - last < TOUCH_INTERVAL_MS) return;
    this.#lastTouched.set(runtimeId, now.getTime());
    await this.#store.touchRuntime(runtimeId, now).catch((error: unknown) => {
      this.#lastTouched.delete(runtimeId);
      request.log.warn({ err: error, runtimeId }, "lastSeenAt not recorded");
    });
  }
}

/** The DER of the leaf the client sent; undefined without one (and under `inject`, which has no TLS). */
function presentedCertificate(socket: object): Buffer | undefined {
  const tls = socket as Partial<TLSSocket>;
  if (typeof tls.getPeerCertificate !== "function") return undefined;
  const peer = tls.getPeerCertificate(false);
  // Node returns {} when no certificate was sent.
  if (!peer || !("raw" in peer) || !peer.raw) return undefined;
  return peer.raw;
}
