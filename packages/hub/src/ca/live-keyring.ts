/**
 * The keyring every part of the hub reads (issuer, mTLS check, CRLs, TLS handshake), rebuilt in place
 * from the store's CA rows whenever their generation moves (docs/pki.md#ca-rotation): the objects that
 * hold it see the new CAs at their next read, with no restart. `trusted` is next + active + retiring,
 * active first; retired CAs are kept apart, only to tell their certificates' holders why they are refused.
 */
import { X509Certificate as NativeCertificate } from "node:crypto";
import {
  loadCa,
  pemToDer,
  splitPemBundle,
  type CaKeyring,
  type CertificateAuthority,
} from "@tether/shared/pki";
import type { CaLifePhase, CaRecord } from "../store/cas.ts";
import { decryptCaKey, type Kek } from "./kek.ts";

export interface KeyringCa {
  ca: CertificateAuthority;
  record: CaRecord;
}

/** Active first, then next, then the retiring ones, newest first: the order of the trust bundle. */
const ORDER: Record<CaLifePhase, number> = { active: 0, next: 1, retiring: 2, retired: 3 };

export class LiveKeyring implements CaKeyring {
  active!: CertificateAuthority;
  trusted: CertificateAuthority[] = [];
  /** Every CA the hub ever had, with its row, in bundle order. */
  entries: KeyringCa[] = [];
  retired: NativeCertificate[] = [];
  /** The hub's first CA, whatever its phase: scoped admin tokens are signed with a secret derived from its key. */
  founding!: CertificateAuthority;
  generation = 0;
  readonly #kek: Kek;
  /** Keys are decrypted and imported once per CA, and the same object keeps chain.ts's parse cache warm. */
  readonly #loaded = new Map<string, CertificateAuthority>();
  readonly #listeners: ((keyring: LiveKeyring) => void)[] = [];

  /**
   * `local`: CAs this replica has from files (`--ca-cert`/`--ca-key`, the data directory). Their keys
   * are used as they are, so replicas that shared the CA files before rotation existed keep working
   * without a shared key-encryption key; every CA made since needs one.
   */
  constructor(kek: Kek, local: CertificateAuthority[] = []) {
    this.#kek = kek;
    for (const ca of local) this.#loaded.set(ca.sha256, ca);
  }

  onChange(listener: (keyring: LiveKeyring) => void): void {
    this.#listeners.push(listener);
  }

  /** The rows of one store read; throws (changing nothing) if there is no active CA or a key does not decrypt. */
  async load(records: CaRecord[], generation: number): Promise<void> {
    const ordered = [...records].sort(
      (a, b) => ORDER[a.phase] - ORDER[b.phase] || b.createdAt.getTime() - a.createdAt.getTime(),
    );
    const entries: KeyringCa[] = [];
    const retired: NativeCertificate[] = [];
    for (const record of ordered) {
      if (record.phase === "retired") {
        const pem = splitPemBundle(record.certPem)[0];
        if (pem !== undefined) retired.push(new NativeCertificate(pemToDer(pem)));
        continue;
      }
      entries.push({ ca: await this.#ca(record), record });
    }
    const active = entries.find((entry) => entry.record.phase === "active");
    if (!active) throw new Error("The store holds no active CA.");
    const first = records.reduce((a, b) => (b.publishedGeneration < a.publishedGeneration ? b : a));
    const founding = await this.#ca(first);
    const changed = this.generation !== 0 && generation !== this.generation;
    this.active = active.ca;
    this.trusted = entries.map((entry) => entry.ca);
    this.entries = entries;
    this.retired = retired;
    this.founding = founding;
    this.generation = generation;
    if (changed) for (const listener of this.#listeners) listener(this);
  }

  async #ca(record: CaRecord): Promise<CertificateAuthority> {
    const known = this.#loaded.get(record.sha256);
    if (known) return known;
    const ca = await loadCa(record.certPem, decryptCaKey(this.#kek, record.keyCiphertext, record.sha256));
    this.#loaded.set(record.sha256, ca);
    return ca;
  }

  /** The retired CA that issued this leaf (DER), if one did: its holder must enrol again. */
  retiredIssuerOf(leafDer: Buffer): string | undefined {
    if (this.retired.length === 0) return undefined;
    let leaf: NativeCertificate;
    try {
      leaf = new NativeCertificate(leafDer);
    } catch {
      return undefined;
    }
    const issuer = this.retired.find((ca) => leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
    return issuer?.fingerprint256.replaceAll(":", "").toLowerCase();
  }

  /** The PEM of every trusted CA with its own chain, each certificate once: what verifies the hub's issued certificates. */
  bundlePem(withChains = false): string {
    const seen = new Set<string>();
    const blocks = this.trusted.flatMap((ca) => (withChains ? [ca.certPem, ...ca.chainPem] : [ca.certPem]));
    return blocks.filter((pem) => !seen.has(pem) && seen.add(pem)).join("");
  }
}
