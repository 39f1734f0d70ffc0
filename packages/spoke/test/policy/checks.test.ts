/**
 * The Chain type and the shared checks: the first violation wins, `except` leaves one finding out,
 * and expiry is judged by one check with one message in all three chains.
 */
import t from "tap";
import { type Chain, evaluate, except } from "../../src/policy/chain.ts";
import { credentialPresent, validity } from "../../src/policy/checks.ts";
import { judgeHubKubeconfig } from "../../src/policy/hub-kubeconfig.ts";
import { readiness } from "../../src/policy/readiness.ts";
import { needsRenewal } from "../../src/policy/renewal.ts";
import { credentialState, notAfter, notBefore } from "./support.ts";

const credential = credentialState();

t.test("a chain answers its first violation, or nothing", async (t) => {
  const seen: string[] = [];
  const pass = (name: string) => () => void seen.push(name);
  const fail = (name: string) => () => (seen.push(name), { reason: name, message: `${name} failed` });
  const chain: Chain<unknown, string> = [pass("a"), fail("b"), fail("c")];
  t.same(evaluate(chain, {}), { reason: "b", message: "b failed" });
  t.same(seen, ["a", "b"], "stops at the first violation");
  t.equal(evaluate([pass("x")], {}), undefined);
  t.equal(evaluate([], {}), undefined, "an empty chain passes");
});

t.test("except leaves one finding of a check out, and keeps the others", async (t) => {
  const expiredOnly = except(validity, "NotYetValid");
  t.equal(expiredOnly({ credential, now: new Date(notBefore.getTime() - 1) }), undefined);
  t.equal(expiredOnly({ credential, now: notAfter })?.reason, "Expired");
  t.equal(expiredOnly({ credential, now: notBefore }), undefined);
});

t.test("the credential checks, in order", async (t) => {
  t.equal(credentialPresent({ credential }), undefined);
  t.equal(
    credentialPresent({ credential: { ...credential, secretFound: false, keyMatches: false } })?.reason,
    "SecretMissing",
  );
  t.equal(
    credentialPresent({ credential: { ...credential, missingKeys: ["ca.crt"], keyMatches: false } })?.reason,
    "SecretMissingData",
  );
  t.equal(credentialPresent({ credential: { ...credential, keyMatches: false } })?.reason, "KeyMismatch");
});

t.test("validity is judged by one check, with one message in every chain", async (t) => {
  t.equal(validity({ credential, now: notBefore }), undefined, "valid from notBefore");
  t.equal(validity({ credential, now: new Date(notAfter.getTime() - 1) }), undefined, "to notAfter");
  t.equal(validity({ credential: { ...credential, certificate: undefined }, now: notAfter }), undefined);
  const early = new Date(notBefore.getTime() - 1);
  const notYet = validity({ credential, now: early });
  t.same(notYet, {
    reason: "NotYetValid",
    message: "the certificate is valid only from 2026-01-01T00:00:00.000Z (check the clocks)",
  });
  const expired = validity({ credential, now: notAfter });
  t.same(expired, { reason: "Expired", message: "the certificate expired at 2026-01-31T00:00:00.000Z" });

  const hub = (now: Date) =>
    judgeHubKubeconfig({
      credential,
      hubKubeconfig: undefined,
      bootstrap: undefined,
      clusterName: "rt-1",
      now,
    });
  const ready = (now: Date) => readiness({ credential, sync: { ok: true, at: now }, now });
  const renewal = (now: Date) =>
    needsRenewal({
      spec: { managementInfoUrl: "https://hub/x", establishedAt: "", renewal: { renewAfterFraction: 0.95 } },
      credential,
      now,
      random: () => 0,
    });
  for (const [chain, answer] of [
    ["hub kubeconfig", hub(notAfter)],
    ["readiness", ready(notAfter)],
    ["renewal", renewal(notAfter)],
  ] as const) {
    t.match(answer, expired!, `${chain}: the same Expired`);
  }
  t.match(hub(early), notYet!, "hub kubeconfig: the same NotYetValid");
  t.match(ready(early), notYet!, "readiness: the same NotYetValid");
  t.equal(
    renewal(early),
    undefined,
    "a certificate not yet valid is not renewed: a new one would not be either",
  );
});
