/**
 * The fleet's credentials, issued for real by the hub (bench/lib/enrol.ts: admin token → one-time
 * token → CSR info → CSR → certificate, P-256 keys) and kept in a journal outside the repository, so that the next run
 * reuses them: `<cache>/spokes.jsonl`, one JSON line per issuance or renewal, the last line of an id
 * winning. The cache directory is named for the hub's CA, and the hub's data dir lives beside it
 * (hubs.ts), so credentials are only ever replayed against the store that knows them.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Agent, request } from "undici";
import { enrolRuntime } from "../lib/enrol.ts";

export interface SpokeCredential {
  id: string;
  keyPem: string;
  certPem: string;
  /** A CSR for the same key and subject, base64 as the renewal route takes it: renewals reuse it. */
  csr: string;
}

export interface IssuingHub {
  internalUrl: string;
  adminToken: string;
  caPem: string;
}

export const spokeId = (n: number) => `fleet-${String(n).padStart(6, "0")}`;
const TENANT = "fleet";
const GROUP = "sim";

export class CredentialJournal {
  readonly #file: string;
  readonly #byId = new Map<string, SpokeCredential>();

  constructor(dir: string) {
    mkdirSync(dir, { recursive: true });
    this.#file = join(dir, "spokes.jsonl");
    if (!existsSync(this.#file)) return;
    for (const line of readFileSync(this.#file, "utf8").split("\n")) {
      if (line === "") continue;
      try {
        const credential = JSON.parse(line) as SpokeCredential;
        this.#byId.set(credential.id, credential);
      } catch {
        // A line cut short by an interrupted run: that spoke is issued again.
      }
    }
  }

  get size(): number {
    return this.#byId.size;
  }

  get(id: string): SpokeCredential | undefined {
    return this.#byId.get(id);
  }

  record(credential: SpokeCredential): void {
    this.#byId.set(credential.id, credential);
    appendFileSync(this.#file, `${JSON.stringify(credential)}\n`);
  }

  forget(): void {
    this.#byId.clear();
    rmSync(this.#file, { force: true });
  }
}

/** One spoke enrolled as an operator and the agent do it; also how a revoked spoke comes back. */
export async function enrol(hub: IssuingHub, tls: Agent, id: string): Promise<SpokeCredential> {
  const { internalUrl, adminToken } = hub;
  const { keyPem, certPem, csr } = await enrolRuntime(
    { internalUrl, adminToken, tenant: TENANT, group: GROUP, runtime: id },
    tls,
  );
  return { id, keyPem, certPem, csr };
}

/**
 * Spokes 0..count-1 from the journal, issuing the missing ones `concurrency` at a time with a
 * progress line every 5 s. A journal whose spokes the hub does not know (its store was reset) is
 * dropped first.
 */
export async function ensureCredentials(
  hub: IssuingHub,
  journal: CredentialJournal,
  count: number,
  concurrency = 16,
  log: (line: string) => void = console.log,
): Promise<SpokeCredential[]> {
  if (journal.size > 0) {
    const probe = await request(`${hub.internalUrl}/v1/runtimes/${spokeId(0)}`, {
      headers: { authorization: `Bearer ${hub.adminToken}` },
    });
    await probe.body.text();
    if (probe.statusCode === 404) {
      log("credential cache: the hub does not know its spokes (a new store?); issuing again");
      journal.forget();
    }
  }
  const missing = Array.from({ length: count }, (_, n) => spokeId(n)).filter((id) => !journal.get(id));
  if (missing.length > 0) {
    log(`issuing ${missing.length} credentials (${count - missing.length} cached), ${concurrency} at a time`);
    const tls = new Agent({ connect: { ca: hub.caPem }, connections: concurrency });
    const started = performance.now();
    let done = 0;
    const progress = setInterval(() => {
      const seconds = (performance.now() - started) / 1000;
      log(`  ${done}/${missing.length} issued, ${(done / seconds).toFixed(0)}/s`);
    }, 5000);
    try {
      let next = 0;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next < missing.length) {
            const id = missing[next++]!;
            journal.record(await enrol(hub, tls, id));
            done++;
          }
        }),
      );
    } finally {
      clearInterval(progress);
      await tls.close();
    }
    const seconds = (performance.now() - started) / 1000;
    log(`  ${done} issued in ${seconds.toFixed(1)} s (${(done / seconds).toFixed(0)}/s)`);
  }
  return Array.from({ length: count }, (_, n) => journal.get(spokeId(n))!);
}
