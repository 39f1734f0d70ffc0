import t from "tap";
import {
  FakeClock,
  cryptoRandom,
  formatDuration,
  MAX_DURATION_MS,
  parseDuration,
  sequenceRandom,
  systemClock,
} from "@tether/shared/time";

t.test("parseDuration reads the units operators type", async (t) => {
  t.equal(parseDuration("90s"), 90_000);
  t.equal(parseDuration("10m"), 600_000);
  t.equal(parseDuration("1h30m"), 5_400_000);
  t.equal(parseDuration("30d"), 30 * 86_400_000);
  t.equal(parseDuration("250ms"), 250);
  for (const bad of ["", "10", "-5m", "5 minutes", "1y", "m"]) {
    t.throws(() => parseDuration(bad), /invalid duration/, `refuses ${JSON.stringify(bad)}`);
  }
  t.equal(parseDuration("36500d"), MAX_DURATION_MS);
  for (const long of ["36501d", "99999999999999999999d", `${"9".repeat(400)}h`]) {
    t.throws(
      () => parseDuration(long),
      /at most 36500d/,
      `refuses ${long.slice(0, 24)}: no lifetime is that long`,
    );
  }
});

t.test("formatDuration is the inverse for whole units", async (t) => {
  for (const text of ["2d", "10m", "90s", "5h", "1500ms"]) t.equal(formatDuration(parseDuration(text)), text);
  t.equal(formatDuration(parseDuration("24h")), "1d", "prefers the largest whole unit");
});

t.test("FakeClock wakes sleepers in time order only when advanced", async (t) => {
  const clock = new FakeClock("2026-01-01T00:00:00Z");
  const woke: string[] = [];
  void clock.sleep(2000).then(() => woke.push(`b@${clock.now().toISOString()}`));
  void clock.sleep(1000).then(() => woke.push(`a@${clock.now().toISOString()}`));
  t.equal(clock.pending, 2);
  await clock.advance(999);
  t.same(woke, []);
  await clock.advance(1500);
  t.same(woke, ["a@2026-01-01T00:00:01.000Z", "b@2026-01-01T00:00:02.000Z"]);
  t.equal(clock.now().toISOString(), "2026-01-01T00:00:02.499Z");
});

t.test("sleep rejects when aborted, on both clocks", async (t) => {
  const fake = new FakeClock();
  const ac = new AbortController();
  const p = fake.sleep(1000, ac.signal);
  ac.abort(new Error("stopped"));
  await t.rejects(p, /stopped/);
  t.equal(fake.pending, 0);
  const ac2 = new AbortController();
  const real = systemClock.sleep(60_000, ac2.signal);
  ac2.abort(new Error("stopped"));
  await t.rejects(real, /stopped/);
  await t.resolves(systemClock.sleep(1));
  const pre = new AbortController();
  pre.abort(new Error("already"));
  await t.rejects(systemClock.sleep(1, pre.signal), /already/);
  await t.rejects(fake.sleep(1, pre.signal), /already/);
});

t.test("sequenceRandom repeats its values", async (t) => {
  const r = sequenceRandom([0.1, 0.9]);
  t.same([r(), r(), r()], [0.1, 0.9, 0.1]);
});

t.test("systemClock sleeps longer than setTimeout's 2^31 ms limit without firing early", async (t) => {
  const ac = new AbortController();
  let woke = false;
  const long = systemClock.sleep(30 * 86_400_000, ac.signal).then(() => (woke = true));
  await systemClock.sleep(20);
  t.equal(woke, false, "a 30-day sleep has not fired after 20 ms");
  ac.abort(new Error("done"));
  await t.rejects(long, /done/);
});

t.test("cryptoRandom draws in [0, 1) and does not repeat itself", async (t) => {
  const draws = Array.from({ length: 1000 }, () => cryptoRandom());
  t.ok(draws.every((x) => x >= 0 && x < 1));
  t.equal(new Set(draws).size, 1000);
});
