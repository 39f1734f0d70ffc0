/**
 * CA rotation (docs/pki.md#ca-rotation): the operations behind `tether-hub ca ...` and the internal API,
 * the refresh that keeps this replica's keyring in step with the store, and the automatic driver.
 * Every change is one store transaction with its audit event; this replica then reloads at once, the
 * others within `--ca-refresh`.
 */
import { X509Certificate } from "node:crypto";
import type { FastifyBaseLogger } from "fastify";
import type { CaStatus, CaView, KeyAlgorithm, TrustBundle } from "@tether/shared/contract";
import {
  PkiError,
  createSelfSignedCa,
  encodeBase64Pem,
  exportPrivateKeyPem,
  loadCa,
  type CertificateAuthority,
} from "@tether/shared/pki";
import type { Clock } from "@tether/shared/time";
import type { Audit, AuditType } from "../audit.ts";
import { HttpError } from "../errors.ts";
import type { CaChangeResult, CaPhaseChange, CaRecord } from "../store/cas.ts";
import type { Store } from "../store/store.ts";
import { decideRotation, type RotationDecision } from "./auto-rotate.ts";
import { encryptCaKey, type Kek } from "./kek.ts";
import { LiveKeyring } from "./live-keyring.ts";

export interface RotationSettings {
  /** How often the store's CA generation is compared with this replica's. */
  refreshMs: number;
  autoRotate: boolean;
  rotateBeforeMs: number;
  preparePeriodMs: number;
  /** Advertised to spokes: renewals away from a non-active CA spread over this window. */
  renewalWindowMs: number;
  /** A renewed certificate stays live this long (the mTLS check's grace). */
  supersededGraceMs: number;
  /** How often automatic mode looks; AUTO_CHECK_MS unless a test says otherwise. */
  autoCheckMs?: number;
}

/** How often automatic mode looks; its decisions are about days, so a minute is plenty. */
export const AUTO_CHECK_MS = 60_000;
/** A generated CA lives ten years, like the one made on first start. */
const CA_VALIDITY_MS = 3650 * 86_400_000;

export class CaRotation {
  readonly keyring: LiveKeyring;
  readonly #store: Store;
  readonly #kek: Kek;
  readonly #clock: Clock;
  readonly #audit: Audit;
  readonly #log: FastifyBaseLogger;
  readonly #settings: RotationSettings;
  readonly #stopped = new AbortController();
  /** Per runtime, the highest generation recorded as seen: one store write per runtime and change. */
  readonly #seen = new Map<string, number>();
  #step: Promise<unknown> = Promise.resolve();

  private constructor(options: {
    keyring: LiveKeyring;
    store: Store;
    kek: Kek;
    clock: Clock;
    audit: Audit;
    log: FastifyBaseLogger;
    settings: RotationSettings;
  }) {
    this.keyring = options.keyring;
    this.#store = options.store;
    this.#kek = options.kek;
    this.#clock = options.clock;
    this.#audit = options.audit;
    this.#log = options.log;
    this.#settings = options.settings;
  }

  /**
   * Reads the CAs from the store. A store without any (a new hub, or one upgraded from before
   * rotation) first gets `initial()` as its active CA: the `--ca-cert`/`--ca-key` files or the CA in
   * the data directory, so an existing hub keeps its CA and nothing is re-issued.
   */
  static async open(options: {
    store: Store;
    kek: Kek;
    clock: Clock;
    audit: Audit;
    log: FastifyBaseLogger;
    settings: RotationSettings;
    initial: () => Promise<CertificateAuthority>;
    /** CAs this replica holds in files; see LiveKeyring. */
    local?: CertificateAuthority[];
  }): Promise<CaRotation> {
    const { store, kek, clock, audit } = options;
    if ((await store.caGeneration()) === 0) {
      const ca = await options.initial();
      const now = clock.now();
      const event = audit.event("ca.added", null, { sha256: ca.sha256, phase: "active", source: "start-up" });
      const result = await store.addCa(
        {
          sha256: ca.sha256,
          certPem: [ca.certPem, ...ca.chainPem].join(""),
          keyCiphertext: encryptCaKey(kek, await exportPrivateKeyPem(ca.key), ca.sha256),
          phase: "active",
          notAfter: ca.cert.notAfter,
          createdAt: now,
          activatedAt: now,
          retiringAt: null,
          retiredAt: null,
        },
        [event],
      );
      // not-first: another replica starting at the same moment stored its CA first; that one counts.
      if (result.ok) audit.logged([event]);
    }
    const rotation = new CaRotation({ ...options, keyring: new LiveKeyring(kek, options.local) });
    await rotation.#reload();
    return rotation;
  }

  async #reload(): Promise<void> {
    const generation = await this.#store.caGeneration();
    await this.keyring.load(await this.#store.listCas(), generation);
  }

  /** True when the keyring changed. A failure leaves the keyring as it was. */
  async refresh(): Promise<boolean> {
    const generation = await this.#store.caGeneration();
    if (generation === this.keyring.generation) return false;
    const before = this.keyring.generation;
    await this.#reload();
    this.#log.info(
      { generation: this.keyring.generation, before, active: this.keyring.active.sha256 },
      "CA keyring reloaded",
    );
    return true;
  }

  /** The refresh loop and, with `--ca-auto-rotate`, the automatic driver, both on the injected clock. */
  start(): void {
    const loop = async (periodMs: number, work: () => Promise<unknown>, what: string) => {
      while (!this.#stopped.signal.aborted) {
        try {
          await this.#clock.sleep(periodMs, this.#stopped.signal);
        } catch {
          return;
        }
        this.#step = work().catch((error: unknown) =>
          this.#log.warn({ err: error }, `${what} failed; trying again`),
        );
        await this.#step;
      }
    };
    void loop(this.#settings.refreshMs, () => this.refresh(), "CA keyring refresh");
    if (this.#settings.autoRotate) {
      void loop(this.#settings.autoCheckMs ?? AUTO_CHECK_MS, () => this.autoStep(), "automatic CA rotation");
    }
  }

  /** Resolves when the step in progress (refresh or automatic) has finished: tests wait on it. */
  async settled(): Promise<void> {
    await this.#step;
  }

  stop(): void {
    this.#stopped.abort();
  }

  async #changed(result: CaChangeResult, events: ReturnType<Audit["event"]>[]): Promise<void> {
    if (!result.ok) throw new HttpError(result.reason === "unknown" ? 404 : 409, result.message);
    this.#audit.logged(events);
    await this.refresh();
  }

  #event(type: AuditType, detail: Record<string, unknown>) {
    return this.#audit.event(type, null, detail);
  }

  /** Prepares the next CA: published to spokes from now on, signing only once activated. */
  async prepare(
    input: { algorithm?: KeyAlgorithm; certPem?: string; keyPem?: string },
    by: string,
  ): Promise<CaRecord> {
    if ((input.certPem === undefined) !== (input.keyPem === undefined)) {
      throw new HttpError(400, "certPem and keyPem go together.");
    }
    const now = this.#clock.now();
    let ca: CertificateAuthority;
    let keyPem: string;
    if (input.certPem !== undefined && input.keyPem !== undefined) {
      if (input.algorithm !== undefined)
        throw new HttpError(400, "algorithm applies to a generated CA only.");
      try {
        ca = await loadCa(input.certPem, input.keyPem);
      } catch (error) {
        if (error instanceof PkiError) throw new HttpError(400, error.message);
        throw error;
      }
      if (ca.cert.notBefore.getTime() > now.getTime() || ca.cert.notAfter.getTime() <= now.getTime()) {
        throw new HttpError(400, `The CA certificate "${ca.cert.subject}" is not valid now.`);
      }
      keyPem = input.keyPem;
    } else {
      const generated = await createSelfSignedCa({
        commonName: `tether hub CA ${now.toISOString().slice(0, 19)}Z`,
        algorithm: input.algorithm ?? this.keyring.active.key.algorithm,
        validityMs: CA_VALIDITY_MS,
        clock: this.#clock,
      });
      ca = await loadCa(generated.certPem, generated.keyPem);
      keyPem = generated.keyPem;
    }
    const event = this.#event("ca.prepared", {
      sha256: ca.sha256,
      subject: ca.cert.subject,
      notAfter: ca.cert.notAfter.toISOString(),
      source: input.certPem === undefined ? "generated" : "imported",
      by,
    });
    const result = await this.#store.addCa(
      {
        sha256: ca.sha256,
        certPem: [ca.certPem, ...ca.chainPem].join(""),
        keyCiphertext: encryptCaKey(this.#kek, keyPem, ca.sha256),
        phase: "next",
        notAfter: ca.cert.notAfter,
        createdAt: now,
        activatedAt: null,
        retiringAt: null,
        retiredAt: null,
      },
      [event],
    );
    await this.#changed(result, [event]);
    return this.#record(ca.sha256);
  }

  #record(sha256: string): CaRecord {
    const entry = this.keyring.entries.find((e) => e.record.sha256 === sha256);
    if (!entry) throw new Error(`CA ${sha256} is not in the keyring after the change`);
    return entry.record;
  }

  /** The next CA signs from now on; the active one becomes retiring. */
  async activate(sha256: string | undefined, by: string, reason = "admin"): Promise<void> {
    await this.refresh();
    const next = this.keyring.entries.find((e) => e.record.phase === "next")?.record;
    const target = sha256?.toLowerCase() ?? next?.sha256;
    if (target === undefined) throw new HttpError(409, "No next CA: run tether-hub ca rotate first.");
    const active = this.keyring.active.sha256;
    const event = this.#event("ca.activated", { sha256: target, previous: active, by, reason });
    const changes: CaPhaseChange[] = [
      { sha256: target, from: ["next"], to: "active" },
      { sha256: active, from: ["active"], to: "retiring" },
    ];
    await this.#changed(await this.#store.changeCaPhases(changes, this.#clock.now(), [event]), [event]);
  }

  /** Removes a retiring (or a never-activated next) CA from trust; refused while it has live certificates, unless forced. */
  async retire(sha256: string, options: { force: boolean; by: string; reason?: string }): Promise<void> {
    const target = sha256.toLowerCase();
    const now = this.#clock.now();
    const live = (await this.#liveCounts(now)).get(target)?.certificates ?? 0;
    if (live > 0 && !options.force) {
      throw new HttpError(
        409,
        `CA ${target} still has ${live} live certificate(s); wait for their renewal or expiry, or retire with --force (their holders must enrol again).`,
      );
    }
    const event = this.#event("ca.retired", {
      sha256: target,
      liveCertificates: live,
      force: options.force,
      by: options.by,
      reason: options.reason ?? "admin",
    });
    const change: CaPhaseChange = { sha256: target, from: ["retiring", "next"], to: "retired" };
    await this.#changed(await this.#store.changeCaPhases([change], now, [event]), [event]);
  }

  async #liveCounts(now: Date) {
    const counts = await this.#store.caCertificateCounts(
      now,
      new Date(now.getTime() - this.#settings.supersededGraceMs),
    );
    return new Map(counts.map((c) => [c.issuerSha256, c]));
  }

  /** What automatic mode would do now. */
  async decide(): Promise<RotationDecision> {
    const now = this.#clock.now();
    const counts = await this.#liveCounts(now);
    const cas = (await this.#store.listCas()).map((r) => ({ ...r }));
    return decideRotation({
      now,
      cas,
      liveCertificates: Object.fromEntries([...counts].map(([sha, c]) => [sha, c.certificates])),
      rotateBeforeMs: this.#settings.rotateBeforeMs,
      preparePeriodMs: this.#settings.preparePeriodMs,
    });
  }

  /** One round of automatic mode: decide, act, log. Another replica acting first makes the store refuse; that is fine. */
  async autoStep(): Promise<RotationDecision> {
    const decision = await this.decide();
    if (decision.action === "none") return decision;
    this.#log.info(
      { action: decision.action, reason: decision.reason },
      `automatic CA rotation: ${decision.message}`,
    );
    try {
      if (decision.action === "prepare") await this.prepare({}, "auto");
      else if (decision.action === "activate") await this.activate(decision.sha256, "auto", decision.reason);
      else await this.retire(decision.sha256, { force: true, by: "auto", reason: decision.reason });
    } catch (error) {
      if (!(error instanceof HttpError && error.statusCode === 409)) throw error;
      await this.refresh();
    }
    return decision;
  }

  async status(): Promise<CaStatus> {
    const now = this.#clock.now();
    const [records, counts, runtimes, decision] = await Promise.all([
      this.#store.listCas(),
      this.#liveCounts(now),
      this.#store.listRuntimes(),
      this.decide(),
    ]);
    const order = { active: 0, next: 1, retiring: 2, retired: 3 };
    const sorted = records.sort(
      (a, b) => order[a.phase] - order[b.phase] || b.createdAt.getTime() - a.createdAt.getTime(),
    );
    const cas: CaView[] = [];
    for (const record of sorted) cas.push(await this.#view(record, counts.get(record.sha256)));
    return {
      generation: Math.max(0, ...records.map((r) => r.generation)),
      runtimes: runtimes.filter((r) => r.deletedAt === null).length,
      autoRotate: this.#settings.autoRotate,
      decision: { action: decision.action, reason: decision.reason, message: decision.message },
      cas,
    };
  }

  async #view(
    record: CaRecord,
    count: { certificates: number; runtimes: number } | undefined,
  ): Promise<CaView> {
    const cert = new X509Certificate(record.certPem);
    return {
      sha256: record.sha256,
      phase: record.phase,
      subject: cert.subject.replaceAll("\n", ", "),
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: record.notAfter.toISOString(),
      createdAt: record.createdAt.toISOString(),
      activatedAt: record.activatedAt?.toISOString() ?? null,
      retiringAt: record.retiringAt?.toISOString() ?? null,
      retiredAt: record.retiredAt?.toISOString() ?? null,
      liveCertificates: count?.certificates ?? 0,
      runtimes: count?.runtimes ?? 0,
      trustedBy:
        record.phase === "retired" ? 0 : await this.#store.countTrustSeen(record.publishedGeneration),
    };
  }

  /** The trust bundle this replica serves (contract/trust.ts); `serverCas` comes from the serving certificate. */
  trustBundle(serverCasPem: string): TrustBundle {
    const { entries } = this.keyring;
    const phases = entries.map((e) => e.record.phase);
    return {
      clientCas: encodeBase64Pem(this.keyring.bundlePem()),
      serverCas: serverCasPem === "" ? "" : encodeBase64Pem(serverCasPem),
      activeSha256: this.keyring.active.sha256,
      phase: phases.includes("retiring") ? "activated" : phases.includes("next") ? "prepared" : "stable",
      cas: entries.map(({ record }) => ({
        sha256: record.sha256,
        phase: record.phase as "next" | "active" | "retiring",
        notAfter: record.notAfter.toISOString(),
      })),
      renewalWindowSeconds: Math.round(this.#settings.renewalWindowMs / 1000),
    };
  }

  /** Records that a runtime read the current bundle, once per runtime and generation; a hint, so failures only log. */
  async seen(runtimeId: string, generation: number): Promise<void> {
    if ((this.#seen.get(runtimeId) ?? 0) >= generation) return;
    this.#seen.set(runtimeId, generation);
    await this.#store.recordTrustSeen(runtimeId, generation, this.#clock.now()).catch((error: unknown) => {
      this.#seen.delete(runtimeId);
      this.#log.warn({ err: error, runtimeId }, "trust bundle read not recorded");
    });
  }
}
