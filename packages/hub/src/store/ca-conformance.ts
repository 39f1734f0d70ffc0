/**
 * The CA half of the store conformance suite (store/cas.ts): phases, the one-next-one-active rule
 * under concurrency, generations, live-certificate counts and trust reads, unchanged on every adapter.
 */
import type { Test } from "tap";
import type { NewCa } from "./cas.ts";
import type { StoreFactory } from "./conformance.ts";
import type { AuditEvent, CertificateRecord } from "./store.ts";

const T0 = new Date("2026-03-01T12:00:00.123Z");
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const hex = (seed: string) => Buffer.from(seed.padEnd(32, "0")).toString("hex").slice(0, 64);

function ca(seed: string, phase: "active" | "next", overrides: Partial<NewCa> = {}): NewCa {
  return {
    sha256: hex(seed),
    certPem: `-----BEGIN CERTIFICATE-----\n${seed}\n-----END CERTIFICATE-----\n`,
    keyCiphertext: `v1.kek.iv.tag.${seed}`,
    phase,
    notAfter: at(3650 * 86400),
    createdAt: T0,
    activatedAt: phase === "active" ? T0 : null,
    retiringAt: null,
    retiredAt: null,
    ...overrides,
  };
}

const event = (type: string, sha256: string): AuditEvent => ({
  at: T0,
  type,
  runtimeId: null,
  detail: { sha256 },
});

function certificate(
  runtimeId: string,
  seed: string,
  overrides: Partial<CertificateRecord> = {},
): CertificateRecord {
  return {
    runtimeId,
    serial: "0A",
    sha256: hex(seed),
    notBefore: at(-60),
    notAfter: at(30 * 86400),
    issuerSha256: hex("old"),
    kind: "initial",
    issuedAt: T0,
    pem: "pem",
    parentSha256: null,
    ...overrides,
  };
}

export function runCaStoreConformance(t: Test, factory: StoreFactory): void {
  t.test("CAs: the first is active, then one next at a time; each change audited and counted", async (t) => {
    const store = await factory.open();
    t.teardown(() => store.close());
    t.equal(await store.caGeneration(), 0, "no CA yet");
    t.same(
      await store.addCa(ca("old", "next"), []),
      { ok: false, reason: "no-active", message: "The hub has no active CA yet; the first CA is active." },
      "",
    );
    t.match(await store.addCa(ca("old", "active"), [event("ca.added", hex("old"))]), {
      ok: true,
      generation: 1,
    });
    t.match(
      await store.addCa(ca("other", "active"), []),
      { ok: false, reason: "not-first" },
      "a second active",
    );
    t.match(await store.addCa(ca("old", "next"), []), { ok: false, reason: "exists" }, "a known CA");
    t.match(await store.addCa(ca("new", "next", { createdAt: at(10) }), [event("ca.prepared", hex("new"))]), {
      ok: true,
      generation: 2,
    });
    t.match(
      await store.addCa(ca("newer", "next"), []),
      { ok: false, reason: "next-exists" },
      "a second next",
    );
    t.equal(await store.caGeneration(), 2);
    const listed = await store.listCas();
    t.same(
      listed.map((c) => [c.sha256, c.phase, c.publishedGeneration, c.generation]),
      [
        [hex("old"), "active", 1, 1],
        [hex("new"), "next", 2, 2],
      ],
    );
    t.same(listed[1]?.certPem, ca("new", "next").certPem, "the certificate round-trips");
    t.same(listed[1]?.keyCiphertext, ca("new", "next").keyCiphertext, "the encrypted key round-trips");
    t.same(
      (await store.listAudit()).map((e) => e.type),
      ["ca.prepared", "ca.added"],
      "audit events written with the change",
    );
  });

  t.test(
    "CAs: activation swaps both phases at once; a change from the wrong phase changes nothing",
    async (t) => {
      const store = await factory.open();
      t.teardown(() => store.close());
      await store.addCa(ca("old", "active"), []);
      await store.addCa(ca("new", "next"), []);
      const activate = [
        { sha256: hex("new"), from: ["next" as const], to: "active" as const },
        { sha256: hex("old"), from: ["active" as const], to: "retiring" as const },
      ];
      t.match(await store.changeCaPhases(activate, at(60), [event("ca.activated", hex("new"))]), {
        ok: true,
        generation: 3,
      });
      const after = await store.listCas();
      const view = (seed: string) => {
        const c = after.find((row) => row.sha256 === hex(seed));
        return [c?.phase, c?.activatedAt?.getTime() ?? null, c?.retiringAt?.getTime() ?? null];
      };
      t.same(view("old"), ["retiring", T0.getTime(), at(60).getTime()], "the old CA retiring since then");
      t.same(view("new"), ["active", at(60).getTime(), null], "the new CA active since then");
      t.match(
        await store.changeCaPhases(activate, at(70), []),
        { ok: false, reason: "phase" },
        "again: refused",
      );
      t.match(
        await store.changeCaPhases([{ sha256: hex("nope"), from: ["retiring"], to: "retired" }], at(70), []),
        { ok: false, reason: "unknown" },
      );
      t.equal(await store.caGeneration(), 3, "a refused change does not count");
      t.equal((await store.listAudit({ type: "ca.activated" })).length, 1, "nor is it audited");
      t.match(
        await store.changeCaPhases([{ sha256: hex("old"), from: ["retiring"], to: "retired" }], at(80), []),
        { ok: true, generation: 4 },
      );
      t.same((await store.listCas()).find((c) => c.sha256 === hex("old"))?.retiredAt, at(80));
    },
  );

  if (factory.reopen) {
    const reopen = factory.reopen;
    t.test("CAs: two replicas activating or preparing at once, exactly one wins each", async (t) => {
      const a = await factory.open();
      t.teardown(() => a.close());
      const b = await reopen();
      t.teardown(() => b.close());
      await a.addCa(ca("old", "active"), []);
      const prepared = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).addCa(ca(`n${i}`, "next"), [])),
      );
      t.equal(prepared.filter((r) => r.ok).length, 1, "one next CA");
      const next = (await b.listCas()).find((c) => c.phase === "next")!;
      const activate = [
        { sha256: next.sha256, from: ["next" as const], to: "active" as const },
        { sha256: hex("old"), from: ["active" as const], to: "retiring" as const },
      ];
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).changeCaPhases(activate, at(60), [])),
      );
      t.equal(results.filter((r) => r.ok).length, 1, "one activation");
      t.same(
        (await a.listCas()).filter((c) => c.phase === "active").map((c) => c.sha256),
        [next.sha256],
        "exactly one active CA",
      );
      t.equal(await b.caGeneration(), await a.caGeneration(), "both replicas read one generation");
    });
  }

  t.test("CAs: live certificates per issuer leave out expired, revoked and superseded ones", async (t) => {
    const store = await factory.open();
    t.teardown(() => store.close());
    for (const id of ["rt-a", "rt-b", "rt-c"]) {
      await store.createRuntime({
        id,
        tenant: "t",
        group: "g",
        labels: {},
        createdAt: T0,
        lastSeenAt: null,
        deletedAt: null,
      });
    }
    await store.recordCertificate(certificate("rt-a", "a1"));
    await store.recordCertificate(certificate("rt-a", "a2"));
    await store.recordCertificate(certificate("rt-b", "b1", { notAfter: at(100) }));
    await store.recordCertificate(certificate("rt-c", "c1"));
    await store.revoke({ sha256: hex("c1"), revokedAt: at(1), reason: "admin" });
    // a2 renewed at 500 s, by the new CA.
    await store.recordCertificate(
      certificate("rt-a", "a3", {
        issuerSha256: hex("new"),
        kind: "renewal",
        parentSha256: hex("a2"),
        issuedAt: at(500),
      }),
    );
    const counts = async (now: number, supersededBefore: number) =>
      (await store.caCertificateCounts(at(now), at(supersededBefore)))
        .map((c) => [c.issuerSha256, c.certificates, c.runtimes])
        .sort();
    t.same(await counts(50, 0), [
      [hex("new"), 1, 1],
      [hex("old"), 3, 2],
    ]);
    t.same(
      await counts(200, 0),
      [
        [hex("new"), 1, 1],
        [hex("old"), 2, 1],
      ],
      "b1 expired",
    );
    t.same(
      await counts(4000, 600),
      [
        [hex("new"), 1, 1],
        [hex("old"), 1, 1],
      ],
      "a2 superseded before the cut-off",
    );
  });

  t.test("CAs: trust reads per runtime only move forward; deleted runtimes do not count", async (t) => {
    const store = await factory.open();
    t.teardown(() => store.close());
    for (const id of ["rt-a", "rt-b"]) {
      await store.createRuntime({
        id,
        tenant: "t",
        group: "g",
        labels: {},
        createdAt: T0,
        lastSeenAt: null,
        deletedAt: null,
      });
    }
    await store.recordTrustSeen("rt-a", 3, at(1));
    await store.recordTrustSeen("rt-a", 2, at(2));
    await store.recordTrustSeen("rt-b", 2, at(3));
    t.equal(await store.countTrustSeen(3), 1, "rt-a still at 3 after reading 2 late");
    t.equal(await store.countTrustSeen(2), 2);
    await store.deleteRuntime("rt-a", at(4));
    t.equal(await store.countTrustSeen(2), 1, "a deleted runtime no longer counts");
  });
}
