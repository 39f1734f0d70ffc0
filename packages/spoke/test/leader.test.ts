import t from "tap";
import { FakeClock } from "@tether/shared/time";
import { pino } from "pino";
import { FakeKube } from "../src/kube/fake.ts";
import type { Leases } from "../src/kube/port.ts";
import { KubeError } from "../src/kube/port.ts";
import { LeaderElector } from "../src/leader/lease.ts";

const namespace = "tether-system";

/** One replica: an elector whose API access can be cut, and a record of when it led. */
function replica(kube: FakeKube, clock: FakeClock, identity: string) {
  const state = {
    cut: false,
    leading: false,
    terms: 0,
    stop: new AbortController(),
    done: Promise.resolve(),
  };
  const fail = () => Promise.reject(new KubeError("connection refused"));
  const leases: Leases = {
    get: (ns, name) => (state.cut ? fail() : kube.leases.get(ns, name)),
    create: (lease) => (state.cut ? fail() : kube.leases.create(lease)),
    replace: (lease) => (state.cut ? fail() : kube.leases.replace(lease)),
  };
  const elector = new LeaderElector({
    leases,
    clock,
    random: () => 0,
    logger: pino({ level: "silent" }),
    namespace,
    name: "tether-spoke",
    identity,
  });
  state.done = elector.run(state.stop.signal, async (leading) => {
    state.leading = true;
    state.terms++;
    await new Promise((resolve) => leading.addEventListener("abort", resolve, { once: true }));
    state.leading = false;
  });
  return Object.assign(state, { elector });
}

async function tick(clock: FakeClock, ms: number, step = 500): Promise<void> {
  for (let passed = 0; passed < ms; passed += step) await clock.advance(step);
}

t.test("one leader at a time; a crashed leader is replaced after the lease duration", async (t) => {
  const kube = new FakeKube();
  const clock = new FakeClock();
  const a = replica(kube, clock, "a");
  await tick(clock, 1_000);
  const b = replica(kube, clock, "b");
  await tick(clock, 20_000);
  t.ok(a.leading && a.elector.isLeader, "a leads");
  t.notOk(b.leading, "b waits");
  const lease = await kube.leases.get(namespace, "tether-spoke");
  t.equal(lease?.spec?.holderIdentity, "a");
  t.equal(lease?.spec?.leaseDurationSeconds, 15);

  // a stops renewing (crash or partition): it steps down after the renew deadline, and b takes over
  // once the lease it last saw change is a full lease duration old.
  a.cut = true;
  await tick(clock, 10_500);
  t.notOk(a.leading, "a stopped its controllers after the renew deadline");
  t.notOk(b.leading, "b not yet: the lease is not expired");
  await tick(clock, 7_000);
  t.ok(b.leading, "b leads within lease duration + retry period of a's last renewal");
  t.equal((await kube.leases.get(namespace, "tether-spoke"))?.spec?.leaseTransitions, 1);

  a.cut = false;
  await tick(clock, 30_000);
  t.ok(b.leading && !a.leading, "a comes back as a standby");
  t.equal(a.terms + b.terms, 2);

  b.stop.abort();
  a.stop.abort();
  await tick(clock, 3_000);
  await Promise.all([a.done, b.done]);
});

t.test("a graceful shutdown releases the lease and a standby takes over at once", async (t) => {
  const kube = new FakeKube();
  const clock = new FakeClock();
  const a = replica(kube, clock, "a");
  await tick(clock, 1_000);
  const b = replica(kube, clock, "b");
  await tick(clock, 5_000);
  t.ok(a.leading);
  a.stop.abort();
  await tick(clock, 500);
  await a.done;
  t.notOk(a.leading);
  t.equal((await kube.leases.get(namespace, "tether-spoke"))?.spec?.holderIdentity, "", "released");
  await tick(clock, 3_000);
  t.ok(b.leading, "b took over within a retry period");
  b.stop.abort();
  await tick(clock, 3_000);
  await b.done;
});

t.test("a lease held by someone else is left alone until it expires", async (t) => {
  const kube = new FakeKube();
  const clock = new FakeClock();
  await kube.leases.create({
    metadata: { name: "tether-spoke", namespace },
    spec: {
      holderIdentity: "ghost",
      leaseDurationSeconds: 15,
      renewTime: clock.now(),
      acquireTime: clock.now(),
    },
  });
  const a = replica(kube, clock, "a");
  await tick(clock, 14_000);
  t.notOk(a.leading);
  await tick(clock, 4_000);
  t.ok(a.leading);
  a.stop.abort();
  await tick(clock, 3_000);
  await a.done;
});
