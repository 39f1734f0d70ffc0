import t from "tap";
import { ConfigError, envName, flagsHelp, parseConfig, parseListenAddress } from "../src/config.ts";
import { healthRoutes, metricsRoutes, Probes, serve } from "../src/health/server.ts";
import { createSpokeMetrics } from "../src/health/metrics.ts";
import { FakeKube } from "../src/kube/fake.ts";
import { apiVersion } from "../src/kube/types.ts";
import { buildAgent } from "../src/agent.ts";
import { createLogger } from "../src/serve.ts";
import { FakeHub } from "./support/fake-hub.ts";
import { FakeClock } from "@tether/shared/time";

t.test("configuration: defaults, flags, environment", async (t) => {
  const defaults = parseConfig([], {});
  t.match(defaults, {
    kubeconfig: undefined,
    namespace: undefined,
    syncPeriodMs: 60_000,
    leaderElect: true,
    leaderElection: {
      leaseName: "tether-spoke",
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    },
    metricsAddr: ":8080",
    healthAddr: ":8081",
    hubCaFile: undefined,
    hubTimeoutMs: 15_000,
    logLevel: "info",
  });
  const flags = parseConfig(
    [
      "--kubeconfig",
      "/k",
      "--namespace=ns",
      "--sync-period",
      "5s",
      "--leader-elect=false",
      "--hub-ca-file",
      "/ca.pem",
    ],
    { TETHER_SPOKE_SYNC_PERIOD: "2m", TETHER_SPOKE_LOG_LEVEL: "debug", TETHER_SPOKE_METRICS_ADDR: "" },
  );
  t.match(flags, {
    kubeconfig: "/k",
    namespace: "ns",
    syncPeriodMs: 5_000,
    leaderElect: false,
    hubCaFile: "/ca.pem",
  });
  t.equal(flags.logLevel, "debug", "environment when no flag");
  t.equal(flags.metricsAddr, ":8080", "an empty variable counts as unset");
  t.equal(parseConfig(["--no-leader-elect"], {}).leaderElect, false);
  t.equal(parseConfig(["--leader-elect"], { TETHER_SPOKE_LEADER_ELECT: "false" }).leaderElect, true);
  t.equal(parseConfig([], { TETHER_SPOKE_LEADER_ELECT: "false" }).leaderElect, false);
  t.equal(envName("leader-elect-retry-period"), "TETHER_SPOKE_LEADER_ELECT_RETRY_PERIOD");
  t.match(flagsHelp(), /--sync-period DURATION.*\(default 60s\)\s+\[TETHER_SPOKE_SYNC_PERIOD\]/);

  t.throws(() => parseConfig(["--sync-period", "soon"], {}), ConfigError);
  t.throws(() => parseConfig(["--sync-period", "0s"], {}), /--sync-period: must be positive/);
  t.throws(() => parseConfig(["--leader-elect=maybe"], {}), /expected true or false/);
  t.throws(() => parseConfig(["--nope"], {}), ConfigError);
  t.throws(() => parseConfig(["--health-addr", "8081"], {}), /--health-addr: expected host:port or 0/);
  t.throws(
    () => parseConfig(["--leader-elect-renew-deadline", "20s"], {}),
    /lease duration > renew deadline/,
  );
  t.same(parseListenAddress(":8080"), { host: "0.0.0.0", port: 8080 });
  t.same(parseListenAddress("[::1]:9"), { host: "::1", port: 9 });
  t.equal(parseListenAddress("0"), undefined);
});

t.test("/livez, /readyz and /metrics", async (t) => {
  const probes = new Probes();
  const metrics = createSpokeMetrics();
  metrics.observeReady("c1", true);
  const server = await serve(
    { host: "127.0.0.1", port: 0 },
    { ...healthRoutes(probes), ...metricsRoutes(metrics.registry) },
  );
  t.teardown(() => server.close());
  const get = async (path: string) => {
    const response = await fetch(`http://${server.address}${path}`);
    return { status: response.status, body: await response.text() };
  };
  t.same(await get("/livez"), { status: 200, body: "ok\n" });
  let ready = false;
  probes.addReadiness("controllers", () => (ready ? undefined : "not started"));
  t.same(await get("/readyz"), { status: 503, body: "[-] controllers: not started\n" });
  t.equal((await get("/livez")).status, 200, "readiness does not touch liveness");
  ready = true;
  t.equal((await get("/readyz")).status, 200);
  probes.addLiveness("certificate", () => "expired");
  t.equal((await get("/livez")).status, 503);
  t.equal((await get("/readyz")).status, 503, "not live is not ready");
  t.match((await get("/metrics")).body, 'tether_spoke_certificate_ready_status{connection="c1"} 1');
  t.equal((await get("/nothing")).status, 404);
});

t.test("the agent runs the controllers while it leads, and releases the Lease when stopped", async (t) => {
  const clock = new FakeClock();
  const kube = new FakeKube();
  const hub = await new FakeHub(clock).init();
  const deps = {
    kube,
    hub,
    clock,
    random: () => 0,
    logger: createLogger("silent"),
    namespace: "tether-system",
    identity: "replica-1",
  };
  const agent = buildAgent(parseConfig(["--sync-period", "30s"], {}), deps);
  t.same(agent.probes.ready(), ["started: the agent is starting"]);
  const stop = new AbortController();
  const running = agent.run(stop.signal);
  t.same(agent.probes.ready(), []);
  await clock.advance(10);
  t.ok(agent.isLeader());
  t.equal((await kube.leases.get("tether-system", "tether-spoke"))?.spec?.holderIdentity, "replica-1");
  await kube.certificateRequests.create({
    apiVersion,
    kind: "CertificateRequest",
    metadata: { name: "c1" },
    spec: { csrInfoUrl: hub.tokenUrl() },
  });
  for (let i = 0; i < 50 && (await kube.centralConnections.get("c1"))?.status === undefined; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  t.equal((await kube.centralConnections.get("c1"))?.status?.conditions?.[0]?.status, "True");
  t.match(await agent.metrics.registry.metrics(), /process_cpu_seconds_total/, "process metrics too");
  stop.abort();
  await clock.advance(3_000);
  await running;
  t.notOk(agent.isLeader());
  t.equal((await kube.leases.get("tether-system", "tether-spoke"))?.spec?.holderIdentity, "", "released");

  const solo = buildAgent(parseConfig(["--leader-elect=false"], {}), { ...deps, identity: "solo" });
  const soloStop = new AbortController();
  const soloRun = solo.run(soloStop.signal);
  t.ok(solo.isLeader(), "without election the controllers start at once");
  soloStop.abort();
  await soloRun;
});
