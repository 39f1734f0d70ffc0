import t from "tap";
import { grantedFrom, intervalRenewalTime, nextRenewalTime, renewalTime } from "@tether/shared/renewal";
import { FakeClock, sequenceRandom } from "@tether/shared/time";

const DAY = 86_400_000;
const MINUTE = 60_000;
const clock = new FakeClock("2026-03-01T00:00:00Z");
/** As the hub issues: notBefore back-dated 5 minutes, the 30 days granted counted from the issue time. */
const issuedAt = clock.now();
const notBefore = new Date(issuedAt.getTime() - 5 * MINUTE);
const notAfter = new Date(issuedAt.getTime() + 30 * DAY);
const at = (days: number) => new Date(issuedAt.getTime() + days * DAY).toISOString();
const fromNotBefore = (days: number) => new Date(notBefore.getTime() + days * DAY).toISOString();

t.test("the lifetime is the one the hub granted, without the back-dated minutes", async (t) => {
  const issued = new Date("2026-03-01T12:00:00Z");
  const short = {
    notBefore: new Date(issued.getTime() - 5 * MINUTE),
    notAfter: new Date(issued.getTime() + 20_000),
    fraction: 0.66,
    jitter: 0,
    random: sequenceRandom([0]),
  };
  t.equal(
    renewalTime(short).toISOString(),
    new Date(issued.getTime() + 13_200).toISOString(),
    "a 20 s certificate is renewed 13.2 s after issue, not at once (which made the spoke renew in a loop)",
  );
  const unbackdated = { ...short, notBefore: issued, notAfter: new Date(issued.getTime() + 4 * MINUTE) };
  t.equal(
    renewalTime(unbackdated).toISOString(),
    new Date(issued.getTime() + 0.66 * 4 * MINUTE).toISOString(),
    "a lifetime of at most the back-dating counts from notBefore",
  );
  t.equal(grantedFrom(notBefore, notAfter), issuedAt.getTime());
});

t.test("renewalTime: the fraction of the lifetime, pulled earlier by at most the jitter", async (t) => {
  t.equal(
    renewalTime({
      notBefore,
      notAfter,
      fraction: 0.8,
      jitter: 0,
      random: sequenceRandom([0.5]),
    }).toISOString(),
    at(24),
  );
  t.equal(
    renewalTime({ notBefore, notAfter, fraction: 0.8, random: sequenceRandom([0]) }).toISOString(),
    at(24),
    "random 0: exactly the fraction (default jitter 0.1)",
  );
  const latest = renewalTime({ notBefore, notAfter, fraction: 0.8, random: sequenceRandom([0.999]) });
  t.ok(
    latest.getTime() > new Date(at(24 * 0.9)).getTime(),
    "random 0.999: just after fraction * (1 - jitter)",
  );
  t.ok(latest.getTime() < new Date(at(24 * 0.9 + 0.01)).getTime());
  const random = sequenceRandom([0.1, 0.5, 0.9, 0.3]);
  for (let i = 0; i < 4; i++) {
    const when = renewalTime({ notBefore, notAfter, fraction: 2 / 3, jitter: 0.2, random }).getTime();
    t.ok(when <= new Date(at(20)).getTime() && when >= new Date(at(16)).getTime(), "within the jitter band");
  }
  t.throws(() => renewalTime({ notBefore, notAfter, fraction: 0, random: Math.random }), RangeError);
  t.throws(() => renewalTime({ notBefore, notAfter, fraction: 1.5, random: Math.random }), RangeError);
  t.throws(
    () => renewalTime({ notBefore, notAfter, fraction: 0.5, jitter: 1, random: Math.random }),
    RangeError,
  );
});

t.test("intervalRenewalTime counts days from notBefore", async (t) => {
  t.equal(intervalRenewalTime({ notBefore, intervalDays: 7 }).toISOString(), fromNotBefore(7));
  t.equal(intervalRenewalTime({ notBefore, intervalDays: 0.5 }).toISOString(), fromNotBefore(0.5));
  t.throws(() => intervalRenewalTime({ notBefore, intervalDays: 0 }), RangeError);
});

t.test("nextRenewalTime takes the earlier of the two", async (t) => {
  const random = sequenceRandom([0]);
  t.equal(
    nextRenewalTime({ notBefore, notAfter, fraction: 0.8, intervalDays: 7, random }).toISOString(),
    fromNotBefore(7),
  );
  t.equal(
    nextRenewalTime({ notBefore, notAfter, fraction: 0.5, intervalDays: 20, random }).toISOString(),
    at(15),
  );
  t.equal(
    nextRenewalTime({ notBefore, notAfter, fraction: 0.5, random }).toISOString(),
    at(15),
    "no interval",
  );
});
