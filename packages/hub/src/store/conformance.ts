/**
 * One behavioural suite for every Store adapter (STYLE.md §4). It runs unchanged against SQLite and
 * PostgreSQL; what it asserts is what the hub relies on.
 */
import type { Test } from "tap";
import { DuplicateRuntimeError } from "./errors.ts";
import { isDeepStrictEqual as deepEqual } from "node:util";
import type {
  CertificateRecord,
  Runtime,
  RuntimeHistory,
  Store,
  TokenPurpose,
  TokenRecord,
} from "./store.ts";

export interface StoreFactory {
  /** A new, migrated store on an empty database. */
  open(): Promise<Store>;
  /**
   * Another store on the same database as the last `open()`: a second replica or process while the
   * first is open, or the same hub after a restart once it is closed. Omit it for in-memory databases.
   */
  reopen?(): Promise<Store>;
  /**
   * Adds many runtimes to the last `open()`'s database at once, for the 100k paging test; a network
   * round trip per row would make it minutes on PostgreSQL. Without it, `createRuntime` adds them.
   */
  insertRuntimes?(runtimes: Runtime[]): Promise<void>;
}

const T0 = new Date("2026-03-01T12:00:00.123Z");
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
let counter = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`;
// Padded with a character no seed ends in, so that "crt-1" and "crt-10" stay apart.
const hex = (seed: string) => Buffer.from(seed.padEnd(32, "_")).toString("hex").slice(0, 64);

function runtime(id: string, overrides: Partial<Runtime> = {}): Runtime {
  return {
    id,
    tenant: "acme",
    group: "edge",
    labels: { region: "eu-1", "tether.dev/tier": "gold" },
    createdAt: T0,
    lastSeenAt: null,
    deletedAt: null,
    ...overrides,
  };
}

function token(purpose: TokenPurpose, overrides: Partial<TokenRecord> = {}): TokenRecord {
  return {
    hash: hex(unique("tok")),
    purpose,
    runtimeId: "rt-1",
    createdAt: T0,
    expiresAt: at(600),
    usedAt: null,
    labels: null,
    ...overrides,
  };
}

function certificate(runtimeId: string, overrides: Partial<CertificateRecord> = {}): CertificateRecord {
  return {
    runtimeId,
    serial: "7F3A00112233445566778899AABBCCDD",
    sha256: hex(unique("crt")),
    notBefore: at(-300),
    notAfter: at(30 * 86400),
    issuerSha256: hex("issuer"),
    kind: "initial",
    issuedAt: T0,
    pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    parentSha256: null,
    ...overrides,
  };
}

export function runStoreConformance(t: Test, factory: StoreFactory): void {
  const use = async (t: Test) => {
    const store = await factory.open();
    t.teardown(() => store.close());
    return store;
  };

  t.test("migrate is idempotent, also when run concurrently", async (t) => {
    const store = await use(t);
    await store.migrate();
    await t.resolves(Promise.all([store.migrate(), store.migrate(), store.migrate()]));
    await t.resolves(store.ping());
  });

  t.test("runtimes: create, read, list, touch, duplicate refused", async (t) => {
    const store = await use(t);
    const a = runtime(unique("rt"));
    await store.createRuntime(a);
    t.same(await store.getRuntime(a.id), a, "round-trips exactly, labels and ms precision included");
    t.equal(await store.getRuntime("missing"), undefined);
    await t.rejects(store.createRuntime({ ...a, tenant: "other" }), DuplicateRuntimeError);
    t.equal((await store.getRuntime(a.id))?.tenant, "acme", "the refused duplicate changed nothing");
    const b = runtime(unique("rt"), { createdAt: at(1) });
    await store.createRuntime(b);
    t.same(
      (await store.listRuntimes()).map((r) => r.id),
      [a.id, b.id],
    );
    await store.touchRuntime(a.id, at(42));
    t.same((await store.getRuntime(a.id))?.lastSeenAt, at(42));
    await store.setRuntimeLabels(a.id, { region: "us-2" });
    t.same((await store.getRuntime(a.id))?.labels, { region: "us-2" }, "labels replaced, not merged");
    t.same((await store.getRuntime(b.id))?.labels, b.labels, "other runtimes keep theirs");
  });

  t.test("listRuntimePage: page by page, each runtime once, while others come and go", async (t) => {
    const store = await use(t);
    // Zero-padded numbers order the same in every collation, so the expected order is known.
    const id = (n: number) => `page-${String(n).padStart(6, "0")}`;
    // 2,000 keeps a file-backed SQLite (a commit each) quick; the route's test walks 10k.
    const existing = Array.from({ length: 2000 }, (_, i) => id(i * 2));
    for (let i = 0; i < existing.length; i += 50) {
      await Promise.all(existing.slice(i, i + 50).map((name) => store.createRuntime(runtime(name))));
    }
    t.same(await store.listRuntimePage(null, 0), [], "limit 0: nothing");
    t.same(await store.listRuntimePage(id(99_999), 10), [], "after the last id: nothing");
    t.same(
      (await store.listRuntimePage(id(1), 3)).map((r) => r.runtime.id),
      [id(2), id(4), id(6)],
      "after an id that does not exist: the next ones",
    );
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; ; page++) {
      const rows: Runtime[] = (await store.listRuntimePage(after, 197)).map((r) => r.runtime);
      seen.push(...rows.map((r) => r.id));
      if (rows.length < 197) break;
      after = rows.at(-1)!.id;
      // Between pages: a runtime inserted behind the cursor, one ahead of it, and one deleted ahead.
      await store.createRuntime(runtime(id(page * 394 + 1)));
      await store.createRuntime(runtime(id(3999 - page * 2)));
      await store.deleteRuntime(id(3600 - page * 2), at(page));
    }
    const counts = new Map<string, number>();
    for (const name of seen) counts.set(name, (counts.get(name) ?? 0) + 1);
    t.same(
      [...counts].filter(([, n]) => n > 1),
      [],
      "no id twice",
    );
    t.same(
      existing.filter((name) => !counts.has(name)),
      [],
      "every runtime that existed throughout appears, deleted ones included",
    );
    t.same(seen, [...seen].sort(), "in id order");
    t.ok(seen.includes(id(3999)), "a runtime inserted ahead of the cursor appears");
    t.notOk(seen.includes(id(395)), "a runtime inserted behind the cursor does not");
    const deleted = (await store.listRuntimePage(id(3599), 1))[0]?.runtime;
    t.equal(deleted?.id, id(3600));
    t.not(deleted?.deletedAt, null, "a deleted runtime is listed, marked deleted");
  });

  t.test(
    "listRuntimePage: 100k runtimes, page by page, each with its certificates and revocations",
    async (t) => {
      const store = await use(t);
      const id = (n: number) => `fleet-${String(n).padStart(6, "0")}`;
      const total = 100_000;
      const all = Array.from({ length: total }, (_, n) => runtime(id(n)));
      for (let i = 0; i < total; i += 10_000) {
        const chunk = all.slice(i, i + 10_000);
        if (factory.insertRuntimes) await factory.insertRuntimes(chunk);
        else await Promise.all(chunk.map((one) => store.createRuntime(one)));
      }
      // Every 997th runtime has two certificates, the second renewed and revoked; one certificate is
      // recorded for an id between two runtimes and belongs to no page.
      const withHistory = Array.from({ length: Math.ceil(total / 997) }, (_, k) => id(k * 997));
      for (const name of withHistory) {
        const first = certificate(name, { issuedAt: at(1) });
        const second = certificate(name, { issuedAt: at(2), kind: "renewal", parentSha256: first.sha256 });
        await store.recordCertificate(second);
        await store.recordCertificate(first);
        await store.revoke({ sha256: second.sha256, revokedAt: at(3), reason: "admin" });
      }
      await store.recordCertificate(certificate(`${id(5)}-stray`));
      let after: string | null = null;
      let seen = 0;
      let pages = 0;
      let mismatches = 0;
      for (;;) {
        const page: RuntimeHistory[] = await store.listRuntimePage(after, 1000);
        pages += 1;
        for (const history of page) {
          if (history.runtime.id !== id(seen)) mismatches += 1;
          seen += 1;
          const expected =
            history.certificates.length === 0 && history.revocations.length === 0
              ? !withHistory.includes(history.runtime.id)
              : deepEqual(history.certificates, await store.listCertificates(history.runtime.id)) &&
                deepEqual(history.revocations, await store.listRevocations(history.runtime.id)) &&
                history.certificates.length === 2 &&
                history.revocations.length === 1;
          if (!expected) mismatches += 1;
        }
        if (page.length < 1000) break;
        after = page.at(-1)!.runtime.id;
      }
      t.equal(seen, total, "every runtime once");
      t.equal(pages, 101, "a page of 1000 at a time, the last one empty");
      t.equal(mismatches, 0, "in id order, each with exactly what listCertificates and listRevocations say");
      const [one] = await store.listRuntimePage(id(996), 1);
      t.equal(one?.runtime.id, id(997));
      t.same(
        one?.certificates.map((c) => c.kind),
        ["initial", "renewal"],
        "certificates oldest issued first",
      );
    },
  );

  t.test("deleteRuntime marks it deleted and revokes every certificate it has", async (t) => {
    const store = await use(t);
    const r = runtime(unique("rt"));
    await store.createRuntime(r);
    const c1 = certificate(r.id);
    const c2 = certificate(r.id, { kind: "renewal", issuedAt: at(10) });
    const other = certificate(unique("rt"));
    for (const c of [c1, c2, other]) await store.recordCertificate(c);
    await store.revoke({ sha256: c1.sha256, revokedAt: at(5), reason: "admin" });
    t.equal(await store.deleteRuntime(r.id, at(20)), true);
    t.same((await store.getRuntime(r.id))?.deletedAt, at(20));
    t.equal((await store.getRevocation(c1.sha256))?.reason, "admin", "an earlier revocation is kept");
    t.equal((await store.getRevocation(c2.sha256))?.reason, "runtime deleted");
    t.equal(await store.getRevocation(other.sha256), undefined, "other runtimes are untouched");
    t.same((await store.listRevocations(r.id)).map((x) => x.sha256).sort(), [c1.sha256, c2.sha256].sort());
    t.equal(await store.deleteRuntime(r.id, at(30)), false, "deleting twice reports nothing to do");
    t.equal(await store.deleteRuntime("missing", at(30)), false);
  });

  t.test("tokens: peek says why a token cannot be used, and does not use it", async (t) => {
    const store = await use(t);
    const info = token("info");
    await store.putToken(info);
    t.same(await store.peekToken("f".repeat(64), "info", T0), { ok: false, reason: "unknown" });
    t.same(await store.peekToken(info.hash, "csr", T0), { ok: false, reason: "wrong-purpose" });
    t.same(await store.peekToken(info.hash, "info", at(600)), { ok: false, reason: "expired" });
    t.same(await store.peekToken(info.hash.toUpperCase(), "info", T0), { ok: true, token: info });
    t.same(await store.peekToken(info.hash, "info", T0), { ok: true, token: info }, "peeking twice is fine");
    const relabel = token("info", { labels: { region: "eu-2", empty: "" } });
    await store.putToken(relabel);
    t.same(await store.consumeToken(relabel.hash, "info", T0), {
      ok: true,
      token: { ...relabel, usedAt: T0 },
    });
    const clear = token("info", { labels: {} });
    await store.putToken(clear);
    t.same(
      await store.peekToken(clear.hash, "info", T0),
      { ok: true, token: clear },
      "no labels ({}) stays distinct from labels left alone (null)",
    );
  });

  t.test("tokens: a one-time token is used once, never after expiry or for another purpose", async (t) => {
    const store = await use(t);
    const csr = token("csr");
    await store.putToken(csr);
    t.same(await store.consumeToken(csr.hash, "info", T0), { ok: false, reason: "wrong-purpose" });
    const first = await store.consumeToken(csr.hash, "csr", at(1));
    t.same(first, { ok: true, token: { ...csr, usedAt: at(1) } });
    t.same(await store.consumeToken(csr.hash, "csr", at(2)), { ok: false, reason: "used" });
    t.same(await store.peekToken(csr.hash, "csr", at(2)), { ok: false, reason: "used" });
    const late = token("info");
    await store.putToken(late);
    t.same(await store.consumeToken(late.hash, "info", at(600)), { ok: false, reason: "expired" });
    t.same(await store.consumeToken(late.hash, "info", at(601)), { ok: false, reason: "expired" });
  });

  t.test("tokens: bootstrap tokens are reusable until they expire", async (t) => {
    const store = await use(t);
    const boot = token("bootstrap", { expiresAt: at(86400) });
    await store.putToken(boot);
    for (const s of [1, 2, 3]) t.equal((await store.consumeToken(boot.hash, "bootstrap", at(s))).ok, true);
    t.same(await store.consumeToken(boot.hash, "bootstrap", at(86400)), { ok: false, reason: "expired" });
  });

  t.test("tokens: 50 concurrent uses of one token, exactly one wins", async (t) => {
    const store = await use(t);
    const one = token("info");
    await store.putToken(one);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => store.consumeToken(one.hash, "info", at(1))),
    );
    t.equal(results.filter((r) => r.ok).length, 1);
    t.ok(
      results.every((r) => r.ok || r.reason === "used"),
      "every loser is told the token was used",
    );
  });

  t.test("spendToken: the token and what it bought are committed together, or neither is", async (t) => {
    const store = await use(t);
    const info = token("info", { runtimeId: "rt-spend" });
    await store.putToken(info);
    const csr = token("csr", { runtimeId: "rt-spend" });
    const event = { at: at(1), type: "token.used", runtimeId: "rt-spend", detail: { purpose: "info" } };
    const spent = await store.spendToken(info.hash, "info", at(1), { token: csr, audit: [event] });
    t.same(spent, { ok: true, token: { ...info, usedAt: at(1) } });
    t.equal((await store.peekToken(csr.hash, "csr", at(2))).ok, true, "the bought token is stored");
    t.same(await store.listAudit({ runtimeId: "rt-spend" }), [event], "with its audit event");
    const again = token("csr", { runtimeId: "rt-spend" });
    t.same(await store.spendToken(info.hash, "info", at(2), { token: again, audit: [event] }), {
      ok: false,
      reason: "used",
    });
    t.same(
      await store.peekToken(again.hash, "csr", at(2)),
      { ok: false, reason: "unknown" },
      "a refused spend buys nothing",
    );

    // The purchase cannot be written (its certificate's hash exists): the spend is rolled back.
    const existing = certificate("rt-spend");
    await store.recordCertificate(existing);
    await t.rejects(
      store.spendToken(csr.hash, "csr", at(3), {
        certificate: { ...existing, serial: "01" },
        audit: [{ ...event, type: "certificate.issued" }],
      }),
    );
    t.equal(
      (await store.peekToken(csr.hash, "csr", at(3))).ok,
      true,
      "a failed purchase leaves the token usable",
    );
    t.equal((await store.listAudit({ type: "certificate.issued" })).length, 0, "and writes no audit event");
    const fresh = certificate("rt-spend");
    t.equal((await store.spendToken(csr.hash, "csr", at(4), { certificate: fresh, audit: [] })).ok, true);
    t.same(await store.getCertificate(fresh.sha256), fresh, "the retry stores the certificate");
  });

  t.test("writes made at once: each all or nothing on its own; one that fails, fails alone", async (t) => {
    const store = await use(t);
    await store.createRuntime(runtime("rt-once"));
    const existing = certificate("rt-once");
    await store.recordCertificate(existing);
    const [a, b, c] = [token("csr"), token("csr"), token("csr")];
    for (const one of [a, b, c]) await store.putToken(one);
    const event = (type: string) => ({ at: at(1), type, runtimeId: "rt-once", detail: {} });
    const [spendA, spendB, duplicate, spendC, consumeA] = await Promise.allSettled([
      store.spendToken(a.hash, "csr", at(1), { certificate: certificate("rt-once"), audit: [event("a")] }),
      // Its certificate's hash exists: the token use before it in the same transaction is undone.
      store.spendToken(b.hash, "csr", at(1), {
        certificate: { ...existing, serial: "02" },
        audit: [event("b")],
      }),
      store.createRuntime(runtime("rt-once")),
      store.spendToken(c.hash, "csr", at(1), { certificate: certificate("rt-once"), audit: [event("c")] }),
      store.consumeToken(a.hash, "csr", at(1)),
    ]);
    t.equal(spendB.status, "rejected", "the failing write fails");
    t.match(duplicate, { status: "rejected", reason: DuplicateRuntimeError }, "with its own error");
    t.match(spendC, { status: "fulfilled", value: { ok: true } }, "the others succeed");
    const wins = [spendA, consumeA].filter((r) => r.status === "fulfilled" && r.value.ok);
    t.equal(wins.length, 1, "token a is used once, by one of the two");
    t.equal((await store.peekToken(b.hash, "csr", at(2))).ok, true, "the failed write left its token usable");
    t.same(
      (await store.listAudit({ runtimeId: "rt-once" })).map((e) => e.type).sort(),
      spendA.status === "fulfilled" && spendA.value.ok ? ["a", "c"] : ["c"],
      "and wrote no audit event",
    );
    t.equal(
      (await store.listCertificates("rt-once")).length,
      spendA.status === "fulfilled" && spendA.value.ok ? 3 : 2,
    );
  });

  t.test("spendToken: a reusable token is checked, not used, and pays for each purchase", async (t) => {
    const store = await use(t);
    const boot = token("bootstrap", { expiresAt: at(86400) });
    await store.putToken(boot);
    for (const s of [1, 2]) {
      const csr = token("csr");
      t.equal((await store.spendToken(boot.hash, "bootstrap", at(s), { token: csr, audit: [] })).ok, true);
      t.equal((await store.peekToken(csr.hash, "csr", at(s))).ok, true);
    }
    const late = token("csr");
    t.same(await store.spendToken(boot.hash, "bootstrap", at(86400), { token: late, audit: [] }), {
      ok: false,
      reason: "expired",
    });
    t.same(await store.peekToken(late.hash, "csr", at(1)), { ok: false, reason: "unknown" });
  });

  t.test("spendToken: 30 concurrent spends of one token, exactly one purchase stored", async (t) => {
    const store = await use(t);
    const one = token("csr", { runtimeId: "rt-race" });
    await store.putToken(one);
    const results = await Promise.all(
      Array.from({ length: 30 }, () =>
        store.spendToken(one.hash, "csr", at(1), { certificate: certificate("rt-race"), audit: [] }),
      ),
    );
    t.equal(results.filter((r) => r.ok).length, 1);
    t.equal((await store.listCertificates("rt-race")).length, 1);
  });

  if (factory.reopen) {
    const reopen = factory.reopen.bind(factory);
    t.test("tokens: two store instances on one database (two replicas), exactly one wins", async (t) => {
      const a = await use(t);
      const b = await reopen();
      t.teardown(() => b.close());
      const one = token("csr");
      await a.putToken(one);
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => (i % 2 ? a : b).consumeToken(one.hash, "csr", at(1))),
      );
      t.equal(results.filter((r) => r.ok).length, 1);
    });

    t.test("migrate: replicas migrating at once all succeed", async (t) => {
      await use(t);
      const replicas = await Promise.all([reopen(), reopen(), reopen()]);
      t.teardown(() => Promise.all(replicas.map((s) => s.close())));
      await t.resolves(Promise.all(replicas.map((s) => s.migrate())));
    });

    t.test("nothing is lost on restart", async (t) => {
      const first = await factory.open();
      t.teardown(() => first.close());
      const r = runtime(unique("rt"), { lastSeenAt: at(7) });
      const unused = token("csr", { runtimeId: r.id });
      const used = token("info", { runtimeId: r.id });
      const cert = certificate(r.id);
      const event = {
        at: at(3),
        type: "certificate.issued",
        runtimeId: r.id,
        detail: { serial: "01", n: 1 },
      };
      await first.createRuntime(r);
      await first.putToken(unused);
      await first.putToken(used);
      await first.consumeToken(used.hash, "info", at(2));
      await first.recordCertificate(cert);
      await first.revoke({ sha256: cert.sha256, revokedAt: at(4), reason: "admin" });
      await first.appendAudit(event);
      await first.close();

      const again = await reopen();
      t.teardown(() => again.close());
      t.same(await again.getRuntime(r.id), r);
      t.same(await again.peekToken(unused.hash, "csr", at(5)), { ok: true, token: unused });
      t.same(await again.consumeToken(used.hash, "info", at(5)), { ok: false, reason: "used" });
      t.same(await again.getCertificate(cert.sha256), cert);
      t.same(await again.getRevocation(cert.sha256), {
        sha256: cert.sha256,
        revokedAt: at(4),
        reason: "admin",
      });
      t.same(await again.listAudit({ runtimeId: r.id }), [event]);
    });
  }

  t.test("certificates: recorded, read back by hash (any case), listed per runtime", async (t) => {
    const store = await use(t);
    const id = unique("rt");
    const c1 = certificate(id);
    const c2 = certificate(id, { kind: "renewal", issuedAt: at(60), serial: "01" });
    await store.recordCertificate(c2);
    await store.recordCertificate(c1);
    t.same(await store.getCertificate(c1.sha256.toUpperCase()), c1);
    t.equal(await store.getCertificate("0".repeat(64)), undefined);
    t.same(await store.listCertificates(id), [c1, c2], "oldest first");
    t.same(await store.listCertificates("nobody"), []);
  });

  t.test("revocations: idempotent, case-insensitive, also for hashes never issued", async (t) => {
    const store = await use(t);
    const sha = hex(unique("rev"));
    t.equal(await store.revoke({ sha256: sha.toUpperCase(), revokedAt: at(1), reason: "admin" }), true);
    t.equal(await store.revoke({ sha256: sha, revokedAt: at(2), reason: "again" }), false);
    t.same(await store.getRevocation(sha), { sha256: sha, revokedAt: at(1), reason: "admin" });
    t.equal(await store.getRevocation("0".repeat(64)), undefined);
    t.ok((await store.listRevocations()).some((r) => r.sha256 === sha));
    t.same(await store.listRevocations("nobody"), []);
  });

  t.test("revocations for a CRL: counted, listed per issuing CA while unexpired", async (t) => {
    const store = await use(t);
    const issuer = hex(unique("ca"));
    const id = unique("rt");
    const live = certificate(id, { issuerSha256: issuer, serial: "0A01" });
    const later = certificate(id, { issuerSha256: issuer, serial: "0A02" });
    const expired = certificate(id, { issuerSha256: issuer, serial: "0A03", notAfter: at(10) });
    const notRevoked = certificate(id, { issuerSha256: issuer, serial: "0A04" });
    const otherCa = certificate(id, { serial: "0A05" });
    for (const c of [live, later, expired, notRevoked, otherCa]) await store.recordCertificate(c);
    const before = await store.revocationStamp();
    await store.revoke({ sha256: later.sha256, revokedAt: at(5), reason: "admin" });
    await store.revoke({ sha256: live.sha256, revokedAt: at(3), reason: "runtime request" });
    await store.revoke({ sha256: expired.sha256, revokedAt: at(4), reason: "admin" });
    await store.revoke({ sha256: otherCa.sha256, revokedAt: at(4), reason: "admin" });
    const after = await store.revocationStamp();
    t.ok(after > before, "every new revocation moves the stamp");
    await store.revoke({ sha256: live.sha256, revokedAt: at(6), reason: "again" });
    t.equal(await store.revocationStamp(), after, "a repeated one does not");
    t.same(
      await store.listRevokedCertificates(issuer.toUpperCase(), at(20)),
      [
        { serial: "0A01", revokedAt: at(3) },
        { serial: "0A02", revokedAt: at(5) },
      ],
      "this CA's, unexpired, oldest revocation first",
    );
    t.equal((await store.listRevokedCertificates(issuer, at(5))).length, 3, "expired ones until they expire");
    t.same(await store.listRevokedCertificates(hex("nobody"), at(20)), []);
  });

  t.test("audit: appended events come back newest first, filtered and limited", async (t) => {
    const store = await use(t);
    const id = unique("rt");
    await store.appendAudit({ at: at(1), type: "token.issued", runtimeId: id, detail: { purpose: "info" } });
    await store.appendAudit({ at: at(2), type: "token.used", runtimeId: id, detail: { purpose: "info" } });
    await store.appendAudit({
      at: at(3),
      type: "certificate.issued",
      runtimeId: id,
      detail: { serial: "01" },
    });
    await store.appendAudit({ at: at(4), type: "token.issued", runtimeId: null, detail: {} });
    const mine = await store.listAudit({ runtimeId: id });
    t.same(
      mine.map((e) => e.type),
      ["certificate.issued", "token.used", "token.issued"],
    );
    t.same(mine[2], { at: at(1), type: "token.issued", runtimeId: id, detail: { purpose: "info" } });
    t.same(
      (await store.listAudit({ runtimeId: id, type: "token.used" })).map((e) => e.at),
      [at(2)],
    );
    t.equal((await store.listAudit({ limit: 2 })).length, 2);
    t.equal((await store.listAudit({ type: "token.issued" })).length >= 2, true);
  });

  t.test(
    "lineage: revoking a certificate revokes every renewal made from it, and says how many",
    async (t) => {
      const store = await use(t);
      const root = certificate("rt-line");
      const child = certificate("rt-line", { kind: "renewal", parentSha256: root.sha256, issuedAt: at(10) });
      const sibling = certificate("rt-line", {
        kind: "renewal",
        parentSha256: root.sha256,
        issuedAt: at(20),
      });
      const grandchild = certificate("rt-line", {
        kind: "renewal",
        parentSha256: child.sha256,
        issuedAt: at(30),
      });
      const other = certificate("rt-line");
      for (const c of [root, child, sibling, grandchild, other]) await store.recordCertificate(c);
      t.same(await store.getCertificate(child.sha256), child, "the parent is kept");
      t.same(await store.firstRenewal(root.sha256), child, "the first renewal supersedes");
      t.equal(await store.firstRenewal(grandchild.sha256), undefined);

      await store.revoke({ sha256: grandchild.sha256, revokedAt: at(40), reason: "runtime request" });
      const revokedAt = at(50);
      t.equal(
        await store.revokeLineage({ sha256: child.sha256.toUpperCase(), revokedAt, reason: "admin" }),
        1,
      );
      t.equal(
        await store.revokeLineage({ sha256: root.sha256, revokedAt, reason: "admin" }),
        2,
        "root and sibling",
      );
      t.equal(
        await store.revokeLineage({ sha256: root.sha256, revokedAt, reason: "admin" }),
        0,
        "idempotent",
      );
      t.same(
        (await store.listRevocations("rt-line")).map((r) => [r.sha256, r.reason]).sort(),
        [
          [child.sha256, "admin"],
          [grandchild.sha256, "runtime request"],
          [root.sha256, "admin"],
          [sibling.sha256, "admin"],
        ].sort(),
        "earlier revocations are kept; unrelated certificates untouched",
      );
      t.equal(
        await store.revokeLineage({ sha256: "cd".repeat(32), revokedAt, reason: "admin" }),
        1,
        "never issued",
      );
    },
  );
}
