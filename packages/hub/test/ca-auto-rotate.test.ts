import { Writable } from "node:stream";
import t from "tap";
import { createSelfSignedCa, loadCa } from "@tether/shared/pki";
import { FakeClock } from "@tether/shared/time";
import { Audit } from "../src/audit.ts";
import { decideRotation, type RotationCa, type RotationInput } from "../src/ca/auto-rotate.ts";
import { parseKek } from "../src/ca/kek.ts";
import { CaRotation } from "../src/ca/rotation.ts";
import { createLogger } from "../src/logger.ts";
import { openSqliteStore } from "../src/store/sqlite.ts";

const DAY = 86_400_000;
const HOUR = 3_600_000;
const T0 = new Date("2026-06-01T00:00:00Z");
const at = (ms: number) => new Date(T0.getTime() + ms);
const ca = (sha: string, phase: RotationCa["phase"], notAfterDays: number, createdDays = 0): RotationCa => ({
  sha256: sha.repeat(64),
  phase,
  notAfter: at(notAfterDays * DAY),
  createdAt: at(createdDays * DAY),
});
const input = (overrides: Partial<RotationInput>): RotationInput => ({
  now: T0,
  cas: [ca("a", "active", 400)],
  liveCertificates: {},
  rotateBeforeMs: 180 * DAY,
  preparePeriodMs: 7 * DAY,
  ...overrides,
});

t.test("decideRotation: one action with its reason", async (t) => {
  t.match(decideRotation(input({})), { action: "none", reason: "Stable" });
  t.match(decideRotation(input({ now: at(221 * DAY) })), { action: "prepare", reason: "ActiveExpiring" });
  const prepared = [ca("a", "active", 400), ca("b", "next", 4000, 221)];
  t.match(decideRotation(input({ now: at(227 * DAY), cas: prepared })), {
    action: "none",
    reason: "Preparing",
  });
  t.match(decideRotation(input({ now: at(228 * DAY), cas: prepared })), {
    action: "activate",
    sha256: "b".repeat(64),
    reason: "PreparePeriodOver",
  });
  t.match(
    decideRotation(input({ now: at(401 * DAY), cas: [ca("a", "active", 400), ca("b", "next", 4000, 399)] })),
    { action: "activate", reason: "ActiveExpired" },
    "an expired active CA does not wait for the prepare period",
  );
  const activated = [ca("a", "retiring", 400), ca("b", "active", 4000, 221)];
  t.match(
    decideRotation(input({ now: at(230 * DAY), cas: activated, liveCertificates: { ["a".repeat(64)]: 3 } })),
    { action: "none", reason: "RetiringInUse" },
  );
  t.match(decideRotation(input({ now: at(230 * DAY), cas: activated })), {
    action: "retire",
    sha256: "a".repeat(64),
    reason: "NoLiveCertificates",
  });
  t.match(
    decideRotation(input({ now: at(400 * DAY), cas: activated, liveCertificates: { ["a".repeat(64)]: 3 } })),
    { action: "retire", reason: "Expired" },
    "an expired CA goes whatever it issued",
  );
  t.match(
    decideRotation(input({ now: at(230 * DAY), cas: [...activated, ca("c", "retired", 100)] })),
    { action: "retire", sha256: "a".repeat(64) },
    "retired CAs are ignored",
  );
});

t.test("automatic mode on the fake clock: prepare, activate and retire at the right times", async (t) => {
  const clock = new FakeClock(T0);
  const store = openSqliteStore(":memory:");
  await store.migrate();
  t.teardown(() => store.close());
  const logger = createLogger({
    level: "info",
    destination: new Writable({ write: (_c, _e, done) => done() }),
  });
  const first = await createSelfSignedCa({ commonName: "first", validityMs: 30 * DAY, clock });
  const initial = await loadCa(first.certPem, first.keyPem);
  const rotation = await CaRotation.open({
    store,
    kek: parseKek("k".repeat(43) + "=", "test"),
    clock,
    audit: new Audit(store, clock, logger),
    log: logger,
    settings: {
      refreshMs: DAY,
      autoRotate: true,
      rotateBeforeMs: 10 * DAY,
      preparePeriodMs: 2 * DAY,
      renewalWindowMs: HOUR,
      supersededGraceMs: HOUR,
      autoCheckMs: HOUR,
    },
    initial: () => Promise.resolve(initial),
  });
  t.teardown(() => rotation.stop());
  // One runtime still holds a certificate of the first CA until day 25.
  await store.createRuntime({
    id: "rt",
    tenant: "t",
    group: "g",
    labels: {},
    createdAt: T0,
    lastSeenAt: null,
    deletedAt: null,
  });
  await store.recordCertificate({
    runtimeId: "rt",
    serial: "01",
    sha256: "c".repeat(64),
    notBefore: T0,
    notAfter: at(25 * DAY),
    issuerSha256: initial.sha256,
    kind: "initial",
    issuedAt: T0,
    pem: "pem",
    parentSha256: null,
  });
  rotation.start();
  const until = async (ms: number) => {
    while (clock.now().getTime() < T0.getTime() + ms) {
      await clock.advance(HOUR);
      await rotation.settled();
    }
  };
  const phases = async () => (await store.listCas()).map((c) => c.phase).sort();

  await until(20 * DAY - HOUR);
  t.same(await phases(), ["active"], "19d23h: 10d+1h left, nothing prepared");
  await until(20 * DAY + HOUR);
  t.same(await phases(), ["active", "next"], "less than 10d left: the next CA is prepared");
  const next = (await store.listCas()).find((c) => c.phase === "next")!;
  t.ok(next.createdAt.getTime() > at(20 * DAY).getTime() - HOUR, "prepared within the hour it became due");
  t.equal(rotation.keyring.trusted.length, 2, "and trusted by this replica");
  t.equal(rotation.keyring.active.sha256, initial.sha256, "but the first CA still signs");

  await until(22 * DAY - 2 * HOUR);
  t.same(await phases(), ["active", "next"], "within the prepare period: not activated");
  await until(22 * DAY + 2 * HOUR);
  t.equal(rotation.keyring.active.sha256, next.sha256, "2d after preparing: the next CA signs");
  const activated = (await store.listCas()).find((c) => c.sha256 === next.sha256)!;
  t.ok(
    activated.activatedAt!.getTime() - next.createdAt.getTime() >= 2 * DAY &&
      activated.activatedAt!.getTime() - next.createdAt.getTime() <= 2 * DAY + HOUR,
    "activated within the hour the prepare period ended",
  );

  await until(25 * DAY - HOUR);
  t.same(await phases(), ["active", "retiring"], "the old CA stays while its last certificate lives");
  await until(25 * DAY + HOUR);
  t.same(await phases(), ["active", "retired"], "retired once that certificate expired");
  t.equal(rotation.keyring.trusted.length, 1, "and gone from this replica's trust");
  t.same(
    (await store.listAudit()).map((e) => [e.type, e.detail.by ?? null]).reverse(),
    [
      ["ca.added", null],
      ["ca.prepared", "auto"],
      ["ca.activated", "auto"],
      ["ca.retired", "auto"],
    ],
    "every step audited",
  );
});
