/**
 * Each trusted CA's CRL (issue [wire]): generated on demand, then served from memory until a
 * certificate is revoked (the store's revocation stamp moves, whichever replica revoked it) or
 * half of `--crl-validity` has passed, so a fleet's hundred thousand entries are signed once per
 * change, not per request. The CRL number is thisUpdate in milliseconds, kept growing in a process:
 * replicas that build a CRL at the same moment from the same store build the same list.
 */
import { createHash } from "node:crypto";
import { createCrl, type CaKeyring, type CertificateAuthority } from "@tether/shared/pki";
import type { Clock } from "@tether/shared/time";
import type { Store } from "../store/store.ts";

export interface PublishedCrl {
  der: Buffer;
  /** Quoted, for the ETag header. */
  etag: string;
  thisUpdate: Date;
  nextUpdate: Date;
}

interface Cached extends PublishedCrl {
  stamp: number;
  refreshAt: number;
}

export class CrlPublisher {
  readonly #keyring: CaKeyring;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #validityMs: number;
  readonly #cache = new Map<string, Cached>();
  /** One generation at a time per CA; concurrent requests wait for it. */
  readonly #building = new Map<string, { stamp: number; crl: Promise<Cached> }>();
  #lastNumber = 0n;

  constructor(options: { keyring: CaKeyring; store: Store; clock: Clock; validityMs: number }) {
    this.#keyring = options.keyring;
    this.#store = options.store;
    this.#clock = options.clock;
    this.#validityMs = options.validityMs;
  }

  /** The current CRL of the trusted CA with this SHA-256; undefined for any other. */
  async crl(caSha256: string): Promise<PublishedCrl | undefined> {
    const ca = this.#keyring.trusted.find((candidate) => candidate.sha256 === caSha256.toLowerCase());
    if (ca === undefined) return undefined;
    const stamp = await this.#store.revocationStamp();
    const cached = this.#cache.get(ca.sha256);
    if (cached?.stamp === stamp && this.#clock.now().getTime() < cached.refreshAt) return cached;
    const building = this.#building.get(ca.sha256);
    if (building?.stamp === stamp) return building.crl;
    const crl = this.#build(ca, stamp).finally(() => {
      if (this.#building.get(ca.sha256)?.crl === crl) this.#building.delete(ca.sha256);
    });
    this.#building.set(ca.sha256, { stamp, crl });
    return crl;
  }

  async #build(ca: CertificateAuthority, stamp: number): Promise<Cached> {
    // Whole seconds: that is all the CRL and the Last-Modified header can say.
    const thisUpdate = new Date(Math.floor(this.#clock.now().getTime() / 1000) * 1000);
    const nextUpdate = new Date(thisUpdate.getTime() + this.#validityMs);
    const entries = await this.#store.listRevokedCertificates(ca.sha256, thisUpdate);
    const number =
      BigInt(thisUpdate.getTime()) > this.#lastNumber ? BigInt(thisUpdate.getTime()) : this.#lastNumber + 1n;
    this.#lastNumber = number;
    const der = Buffer.from(createCrl({ ca, entries, thisUpdate, nextUpdate, number }));
    const built: Cached = {
      der,
      etag: `"${createHash("sha256").update(der).digest("base64url").slice(0, 27)}"`,
      thisUpdate,
      nextUpdate,
      stamp,
      refreshAt: thisUpdate.getTime() + this.#validityMs / 2,
    };
    this.#cache.set(ca.sha256, built);
    return built;
  }
}
