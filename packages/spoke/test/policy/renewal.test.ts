/** The renewal chain (docs/renewal.md#connection-upkeep): every reason in order, renewal.enabled: false, the jittered renewal time. */
import t from "tap";
import { grantedFrom } from "@tether/shared/renewal";
import { sequenceRandom } from "@tether/shared/time";
import type { CentralConnectionSpec } from "../../src/kube/types.ts";
import {
  certificateRandom,
  needsRenewal,
  plannedRenewalTime,
  renewalJitter,
  type RenewalInput,
} from "../../src/policy/renewal.ts";
import { DAY, credentialState as healthy, notAfter, notBefore, subject } from "./support.ts";

function input(over: Partial<RenewalInput> & { at?: number } = {}): RenewalInput {
  const spec: CentralConnectionSpec = {
    managementInfoUrl: "https://hub/x",
    establishedAt: notBefore.toISOString(),
  };
  return {
    spec,
    credential: healthy(),
    expectedSubject: subject,
    now: new Date(notBefore.getTime() + (over.at ?? DAY)),
    random: sequenceRandom([0]),
    ...over,
  };
}

t.test("a fresh, matching certificate needs nothing", async (t) => {
  t.equal(needsRenewal(input()), undefined);
});

t.test("every reason of the chain, in order", async (t) => {
  const reason = (i: RenewalInput) => needsRenewal(i)?.reason;
  t.equal(reason(input({ credential: { ...healthy(), secretFound: false } })), "SecretMissing");
  const missing = needsRenewal(
    input({ credential: { ...healthy(), missingKeys: ["tls.key", "kubeconfig"] } }),
  );
  t.equal(missing?.reason, "SecretMissingData");
  t.match(missing?.message, /lacks tls\.key, kubeconfig/);
  const unreadable = needsRenewal(
    input({
      credential: {
        ...healthy(),
        certificate: undefined,
        unreadable: "tls.crt holds no readable certificate",
      },
    }),
  );
  t.equal(unreadable?.reason, "SecretMissingData");
  t.match(unreadable?.message, /no readable certificate/);
  t.equal(reason(input({ credential: { ...healthy(), keyMatches: false } })), "KeyMismatch");
  const wrong = needsRenewal(input({ expectedSubject: { ...subject, CN: "rt-2", OU: "dev" } }));
  t.equal(wrong?.reason, "WrongIdentity");
  t.match(wrong?.message, /CN=rt-1, OU=prod.*assigned CN=rt-2, OU=dev/);
  t.equal(reason(input({ expectedSubject: undefined })), undefined, "identity unknown: not judged");
  const untrusted = needsRenewal(
    input({ credential: { ...healthy(), chain: { ok: false, message: "not issued by a trusted CA" } } }),
  );
  t.equal(untrusted?.reason, "IssuerNotTrusted");
  t.match(untrusted?.message, /not issued by a trusted CA/);
  t.equal(reason(input({ at: 30 * DAY })), "Expired");
  t.equal(reason(input({ spec: { ...input().spec, renewNow: true } })), "RenewNowRequested");
  t.equal(reason(input({ at: 20 * DAY })), "RenewalTimeReached", "past 66% of 30 days");
  const interval = input({ at: 8 * DAY });
  interval.spec.renewal = { renewIntervalDays: 7 };
  t.equal(reason(interval), "IntervalReached");
  interval.now = new Date(notBefore.getTime() + 6 * DAY);
  t.equal(reason(interval), undefined, "not yet 7 days old");
});

t.test("the first violation wins", async (t) => {
  const many = input({ at: 31 * DAY, credential: { ...healthy(), keyMatches: false } });
  many.spec.renewNow = true;
  t.equal(needsRenewal(many)?.reason, "KeyMismatch");
  const missingAndExpired = input({ at: 31 * DAY, credential: { ...healthy(), secretFound: false } });
  t.equal(needsRenewal(missingAndExpired)?.reason, "SecretMissing");
});

t.test("renewal.enabled: false leaves only renewNow and the missing Secret", async (t) => {
  const off = (over: Partial<RenewalInput> & { at?: number }) => {
    const i = input(over);
    i.spec = { ...i.spec, renewal: { enabled: false, renewIntervalDays: 1 } };
    return needsRenewal(i)?.reason;
  };
  t.equal(off({ at: 29 * DAY }), undefined, "no RenewalTimeReached or IntervalReached");
  t.equal(off({ at: 31 * DAY }), undefined, "not even Expired");
  t.equal(off({ credential: { ...healthy(), keyMatches: false } }), undefined, "nor KeyMismatch");
  t.equal(off({ expectedSubject: { ...subject, CN: "x" } }), undefined, "nor WrongIdentity");
  t.equal(off({ credential: { ...healthy(), secretFound: false } }), "SecretMissing");
  t.equal(off({ credential: { ...healthy(), missingKeys: ["ca.crt"] } }), "SecretMissingData");
  const manual = input();
  manual.spec = { ...manual.spec, renewNow: true, renewal: { enabled: false } };
  t.equal(needsRenewal(manual)?.reason, "RenewNowRequested");
  t.equal(
    plannedRenewalTime(manual.spec, healthy().certificate!, () => 0),
    undefined,
    "no planned time",
  );
});

t.test(
  "jitter keeps the renewal time between fraction*(1-jitter) and fraction of the lifetime",
  async (t) => {
    const spec: CentralConnectionSpec = {
      managementInfoUrl: "https://hub/x",
      establishedAt: "",
      renewal: { renewAfterFraction: 0.5 },
    };
    const cert = healthy().certificate!;
    const start = grantedFrom(notBefore, notAfter);
    const lifetime = notAfter.getTime() - start;
    const latest = start + lifetime * 0.5;
    const earliest = start + lifetime * 0.5 * (1 - renewalJitter);
    for (const r of [0, 0.25, 0.5, 0.999999]) {
      const at = plannedRenewalTime(spec, cert, () => r)!.getTime();
      t.ok(at >= Math.floor(earliest) && at <= latest, `random ${r}: within bounds`);
    }
    t.equal(plannedRenewalTime(spec, cert, () => 0)!.getTime(), latest, "no jitter at random 0");
    t.ok(Math.abs(plannedRenewalTime(spec, cert, () => 0.999999)!.getTime() - earliest) < 10_000);
    const justBefore = { ...input({ random: () => 0 }), spec, now: new Date(latest - 1) };
    t.equal(needsRenewal(justBefore), undefined);
    t.equal(needsRenewal({ ...justBefore, now: new Date(latest) })?.reason, "RenewalTimeReached");
    t.equal(
      needsRenewal({ ...justBefore, now: new Date(earliest + 1000), random: () => 0.999999 })?.reason,
      "RenewalTimeReached",
    );
  },
);

t.test("the jitter source is fixed per certificate and spread over [0, 1)", async (t) => {
  const a = certificateRandom("ffffffffffff" + "0".repeat(52));
  t.equal(a(), a(), "same value every time");
  t.ok(a() < 1 && a() > 0.99);
  t.equal(certificateRandom("0".repeat(64))(), 0);
  t.equal(certificateRandom("")(), 0, "no fingerprint: no jitter");
  t.not(
    certificateRandom("1234567890ab" + "0".repeat(52))(),
    certificateRandom("ba0987654321" + "0".repeat(52))(),
  );
});

t.test("the interval in days renews earlier than the fraction when it is shorter", async (t) => {
  const spec: CentralConnectionSpec = {
    managementInfoUrl: "https://hub/x",
    establishedAt: "",
    renewal: { renewAfterFraction: 0.9, renewIntervalDays: 3 },
  };
  t.equal(
    plannedRenewalTime(spec, healthy().certificate!, () => 0)?.getTime(),
    notBefore.getTime() + 3 * DAY,
  );
  spec.renewal = { renewAfterFraction: 0.1, renewIntervalDays: 20 };
  const start = grantedFrom(notBefore, notAfter);
  t.equal(
    plannedRenewalTime(spec, healthy().certificate!, () => 0)?.getTime(),
    start + (notAfter.getTime() - start) * 0.1,
    "the fraction, of the lifetime the hub granted",
  );
});
