/**
 * The hub's CAs in the store (docs/pki.md#ca-rotation): every replica reads its keyring from here,
 * so a phase change made through one replica reaches all. Both adapters share this file: the SQL, the
 * row mapping, and `planCaChange`, which checks a change against the rows read in its transaction and
 * says what to write, so that SQLite (synchronous) and PostgreSQL (asynchronous) decide alike.
 */
import type { CaLifePhase } from "@tether/shared/contract";
import { date, maybeDate, ms, num, type Row } from "./rows.ts";
import type { AuditEvent } from "./store.ts";

export type { CaLifePhase };

export interface CaRecord {
  /** SHA-256 of the CA certificate's DER, lower-case hex. */
  sha256: string;
  /** The CA certificate followed by its own chain (an intermediate's parents). */
  certPem: string;
  /** The PKCS#8 private key, encrypted with the key-encryption key (ca/kek.ts); never the key itself. */
  keyCiphertext: string;
  phase: CaLifePhase;
  notAfter: Date;
  createdAt: Date;
  /** When it started to sign. */
  activatedAt: Date | null;
  /** When it stopped signing. */
  retiringAt: Date | null;
  retiredAt: Date | null;
  /** The CA generation at which it entered the keyring: a spoke that read that generation trusts it. */
  publishedGeneration: number;
  /** The generation of its last phase change. */
  generation: number;
}

/** A new CA: the store assigns the generations. */
export type NewCa = Omit<CaRecord, "generation" | "publishedGeneration">;

export interface CaPhaseChange {
  sha256: string;
  /** The phases it may be in; anything else refuses the whole change. */
  from: readonly CaLifePhase[];
  to: CaLifePhase;
}

export type CaChangeResult =
  | { ok: true; generation: number }
  | {
      ok: false;
      reason: "exists" | "not-first" | "no-active" | "next-exists" | "unknown" | "phase";
      message: string;
    };

export interface CaCertificateCount {
  issuerSha256: string;
  /** Live: not expired, not revoked, not superseded by a renewal issued before the cut-off. */
  certificates: number;
  /** Runtimes holding at least one such certificate. */
  runtimes: number;
}

export interface CaStore {
  /** Every CA, retired ones included, oldest first. */
  listCas(): Promise<CaRecord[]>;
  /** Grows with every change to the CAs (0: none yet); replicas poll it to notice one. */
  caGeneration(): Promise<number>;
  /**
   * Adds a CA with its audit events, in one transaction: `active` only into an empty table (the first
   * CA of a hub), `next` only beside an active CA and while there is no next CA. Any other phase is a programming error.
   */
  addCa(ca: NewCa, audit: AuditEvent[]): Promise<CaChangeResult>;
  /**
   * Moves CAs between phases, all or none, with their audit events: each must be in one of its `from`
   * phases, else nothing changes. Timestamps follow the target phase; the generation grows once.
   */
  changeCaPhases(changes: CaPhaseChange[], at: Date, audit: AuditEvent[]): Promise<CaChangeResult>;
  /** Live certificates per issuing CA at `now`; a certificate renewed before `supersededBefore` is not live. */
  caCertificateCounts(now: Date, supersededBefore: Date): Promise<CaCertificateCount[]>;
  /** The runtime fetched the trust bundle of this generation; a lower generation never overwrites a higher one. */
  recordTrustSeen(runtimeId: string, generation: number, at: Date): Promise<void>;
  /** Runtimes (not deleted) that fetched a trust bundle of this generation or later. */
  countTrustSeen(generation: number): Promise<number>;
}

export const CA_SQL = {
  list: "SELECT * FROM cas ORDER BY created_at, sha256",
  generation: "SELECT coalesce(max(generation), 0) AS g FROM cas",
  insert:
    "INSERT INTO cas (sha256, cert_pem, key_ciphertext, phase, not_after, created_at, activated_at, retiring_at, retired_at, published_generation, generation) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
  update:
    "UPDATE cas SET phase = ?, activated_at = ?, retiring_at = ?, retired_at = ?, generation = ? WHERE sha256 = ?",
  audit: "INSERT INTO audit (at, type, runtime_id, detail) VALUES (?, ?, ?, ?)",
  counts: `SELECT c.issuer_sha256 AS issuer, count(*) AS certificates, count(DISTINCT c.runtime_id) AS runtimes
FROM certificates c
WHERE c.not_after > ?
  AND NOT EXISTS (SELECT 1 FROM revocations r WHERE r.sha256 = c.sha256)
  AND NOT EXISTS (SELECT 1 FROM certificates n WHERE n.parent_sha256 = c.sha256 AND n.issued_at < ?)
GROUP BY c.issuer_sha256`,
  trustSeen:
    "INSERT INTO runtime_trust (runtime_id, generation, seen_at) VALUES (?, ?, ?) ON CONFLICT (runtime_id) DO UPDATE SET generation = excluded.generation, seen_at = excluded.seen_at WHERE runtime_trust.generation < excluded.generation",
  countSeen:
    "SELECT count(*) AS n FROM runtime_trust t JOIN runtimes r ON r.id = t.runtime_id WHERE r.deleted_at IS NULL AND t.generation >= ?",
} as const;

/** `?` placeholders to PostgreSQL's `$1, $2, ...`. */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

export function toCa(row: Row): CaRecord {
  return {
    sha256: String(row.sha256),
    certPem: String(row.cert_pem),
    keyCiphertext: String(row.key_ciphertext),
    phase: String(row.phase) as CaLifePhase,
    notAfter: date(row.not_after),
    createdAt: date(row.created_at),
    activatedAt: maybeDate(row.activated_at),
    retiringAt: maybeDate(row.retiring_at),
    retiredAt: maybeDate(row.retired_at),
    publishedGeneration: num(row.published_generation),
    generation: num(row.generation),
  };
}

export function toCount(row: Row): CaCertificateCount {
  return {
    issuerSha256: String(row.issuer),
    certificates: num(row.certificates),
    runtimes: num(row.runtimes),
  };
}

export const auditRow = (event: AuditEvent) => [
  event.at.getTime(),
  event.type,
  event.runtimeId,
  JSON.stringify(event.detail),
];

export type CaWrite = { sql: string; params: (string | number | null)[] };

/** What an `addCa` writes, or why it is refused, given the CAs read in its transaction. */
export function planAddCa(
  current: CaRecord[],
  ca: NewCa,
  audit: AuditEvent[],
): { ok: false; result: CaChangeResult } | { ok: true; generation: number; writes: CaWrite[] } {
  const refuse = (reason: Extract<CaChangeResult, { ok: false }>["reason"], message: string) => ({
    ok: false as const,
    result: { ok: false as const, reason, message },
  });
  const sha256 = ca.sha256.toLowerCase();
  if (current.some((c) => c.sha256 === sha256)) return refuse("exists", `The CA ${sha256} is known already.`);
  if (ca.phase === "active" && current.length > 0)
    return refuse("not-first", "The hub has a CA already; a new one starts as next.");
  if (ca.phase === "next" && !current.some((c) => c.phase === "active"))
    return refuse("no-active", "The hub has no active CA yet; the first CA is active.");
  if (ca.phase === "next" && current.some((c) => c.phase === "next"))
    return refuse("next-exists", "A next CA is prepared already: activate or retire it first.");
  if (ca.phase !== "active" && ca.phase !== "next") throw new Error(`addCa: phase ${ca.phase}`);
  const generation = Math.max(0, ...current.map((c) => c.generation)) + 1;
  const row = [
    sha256,
    ca.certPem,
    ca.keyCiphertext,
    ca.phase,
    ca.notAfter.getTime(),
    ca.createdAt.getTime(),
    ms(ca.activatedAt),
    ms(ca.retiringAt),
    ms(ca.retiredAt),
    generation,
    generation,
  ];
  return {
    ok: true,
    generation,
    writes: [
      { sql: CA_SQL.insert, params: row },
      ...audit.map((event) => ({ sql: CA_SQL.audit, params: auditRow(event) })),
    ],
  };
}

/** What a `changeCaPhases` writes, or why it is refused. */
export function planPhaseChange(
  current: CaRecord[],
  changes: CaPhaseChange[],
  at: Date,
  audit: AuditEvent[],
): { ok: false; result: CaChangeResult } | { ok: true; generation: number; writes: CaWrite[] } {
  const generation = Math.max(0, ...current.map((c) => c.generation)) + 1;
  const writes: CaWrite[] = [];
  // The CA leaving `active` is written first: the unique index allows one active row at any moment.
  const ordered = [...changes].sort(
    (a, b) => Number(b.from.includes("active")) - Number(a.from.includes("active")),
  );
  for (const change of ordered) {
    const ca = current.find((c) => c.sha256 === change.sha256.toLowerCase());
    if (!ca)
      return { ok: false, result: { ok: false, reason: "unknown", message: `No CA ${change.sha256}.` } };
    if (!change.from.includes(ca.phase)) {
      return {
        ok: false,
        result: {
          ok: false,
          reason: "phase",
          message: `The CA ${ca.sha256} is ${ca.phase}, not ${change.from.join(" or ")}.`,
        },
      };
    }
    const stamp = (phase: CaLifePhase, was: Date | null) => (change.to === phase ? at : was);
    writes.push({
      sql: CA_SQL.update,
      params: [
        change.to,
        ms(stamp("active", ca.activatedAt)),
        ms(stamp("retiring", ca.retiringAt)),
        ms(stamp("retired", ca.retiredAt)),
        generation,
        ca.sha256,
      ],
    });
  }
  for (const event of audit) writes.push({ sql: CA_SQL.audit, params: auditRow(event) });
  return { ok: true, generation, writes };
}
