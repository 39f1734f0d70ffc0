/** The fleet bench's flags (options.ts): --rate sets the sync period, --workers reaches the hub, bad input is refused. */
import t from "tap";
import { parseFleetOptions } from "./options.ts";

t.test("--rate: the sync period is spokes / rate; the issue's defaults stand without it", async (t) => {
  const soak = parseFleetOptions(["--soak"]);
  t.same(soak.spokes, [100_000], "the soak's default fleet");
  t.equal(soak.syncPeriodMs, 60_000, "at a 60 s sync: the 100k rate");
  t.equal(soak.rate, undefined);
  t.equal(soak.keepAliveTimeout, "120000ms", "the hub keeps a connection for two sync periods");

  const rated = parseFleetOptions(["--soak", "--spokes", "10000", "--rate", "1700/s", "--modes", "resume"]);
  t.equal(rated.syncPeriodMs, Math.round((10_000 / 1700) * 1000), "10k spokes at 1,700/s: every ~5.9 s");
  t.equal(rated.rate, 1700);
  t.equal(rated.soakMode, "resume");
  t.equal(parseFleetOptions(["--spokes", "6000", "--rate", "6000/min"]).syncPeriodMs, 60_000, "per minute");
  t.equal(
    parseFleetOptions(["--spokes", "500", "--rate", "100"]).syncPeriodMs,
    5000,
    "a bare number is per second",
  );
});

t.test("--workers and --hub-flag reach the hub's command line", async (t) => {
  const options = parseFleetOptions(["--quick", "--workers", "2", "--hub-flag=--log-level=info"]);
  t.same(options.hubFlags, ["--log-level=info", "--workers", "2"]);
  t.same(parseFleetOptions(["--quick"]).hubFlags, [], "none unless asked");
});

t.test("--connection-cost: 2,000 spokes for 20 s per mode unless told", async (t) => {
  const options = parseFleetOptions(["--connection-cost"]);
  t.ok(options.connectionCost);
  t.same(options.spokes, [2000]);
  t.equal(options.soakMs, 20_000);
});

t.test("bad input: a clear error", async (t) => {
  t.throws(() => parseFleetOptions(["--rate", "fast", "--spokes", "10"]), /--rate: "fast" is not a rate/);
  t.throws(() => parseFleetOptions(["--rate", "0/s", "--spokes", "10"]), /--rate: "0\/s" is not a rate/);
  t.throws(
    () => parseFleetOptions(["--rate", "1700/s", "--sync-period", "60s", "--spokes", "10"]),
    /--rate and --sync-period: give one of them/,
  );
  t.throws(
    () => parseFleetOptions(["--rate", "1700/s", "--spokes", "10,20"]),
    /--rate: with one fleet size only/,
  );
  t.throws(() => parseFleetOptions(["--modes", "pipelined"]), /--modes: "pipelined" is none of/);
});
