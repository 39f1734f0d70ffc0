/** The readiness chain (docs/renewal.md#connection-upkeep): the credential must be usable and the hub must accept it. */
import t from "tap";
import { readiness } from "../../src/policy/readiness.ts";
import { DAY, credentialState as healthy, notAfter, notBefore } from "./support.ts";

t.test("readiness chain", async (t) => {
  const now = new Date(notBefore.getTime() + DAY);
  const ok = { ok: true as const, at: now };
  t.equal(readiness({ credential: healthy(), sync: ok, now }).reason, "Connected");
  t.match(readiness({ credential: healthy(), sync: ok, now }).message, /valid until 2026-01-31/);
  t.equal(
    readiness({ credential: { ...healthy(), secretFound: false }, sync: ok, now }).reason,
    "SecretMissing",
  );
  t.equal(
    readiness({ credential: { ...healthy(), missingKeys: ["tls.crt"] }, sync: ok, now }).reason,
    "SecretMissingData",
  );
  t.equal(
    readiness({ credential: { ...healthy(), keyMatches: false }, sync: ok, now }).reason,
    "KeyMismatch",
  );
  t.equal(
    readiness({ credential: healthy(), sync: ok, now: new Date(notBefore.getTime() - 1) }).reason,
    "NotYetValid",
  );
  t.equal(readiness({ credential: healthy(), sync: ok, now: notAfter }).reason, "Expired");
  t.equal(readiness({ credential: healthy(), sync: undefined, now }).reason, "SyncPending");
  const revoked = readiness({
    credential: healthy(),
    sync: { ok: false, at: now, reason: "Revoked", message: "Certificate has been revoked." },
    now,
  });
  t.same(revoked, { reason: "Revoked", message: "Certificate has been revoked." });
  const down = readiness({
    credential: healthy(),
    sync: { ok: false, at: now, reason: "HubUnreachable", message: "ECONNREFUSED" },
    now,
  });
  t.equal(down.reason, "HubUnreachable");
});
