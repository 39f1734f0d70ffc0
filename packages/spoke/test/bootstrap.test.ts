/**
 * The bootstrap flow (docs/renewal.md#bootstrap) on the fake clock, the in-memory Kubernetes and the fake hub: the
 * flags, the health checker's period and verdicts, the bootstrap controller's four start-up cases,
 * and the agent ending `run` with a restart reason. The hub kubeconfig validity chain has its own
 * file, policy/hub-kubeconfig.test.ts.
 * e2e/test/bootstrap.test.ts shows the same against a real control plane and real hubs.
 */
import t from "tap";
import { pino } from "pino";
import { buildBootstrapKubeconfig } from "@tether/shared/kubeconfig";
import { createSelfSignedCa } from "@tether/shared/pki";
import { FakeClock } from "@tether/shared/time";
import { BootstrapController } from "../src/bootstrap/controller.ts";
import { CertificateHealthChecker, healthVerdict, type HealthFacts } from "../src/bootstrap/health-check.ts";
import { readBootstrapKubeconfig } from "../src/bootstrap/bootstrap-kubeconfig.ts";
import { type BootstrapConfig, parseConfig } from "../src/config.ts";
import { type HeldCredential, inspectSecret } from "../src/credential/secret.ts";
import { kubeEventRecorder } from "../src/runtime/events.ts";
import { FakeKube } from "../src/kube/fake.ts";
import { buildAgent } from "../src/agent.ts";
import { FakeHub, hubOrigin, unreachable } from "./support/fake-hub.ts";

const namespace = "tether-system";
const logger = pino({ level: "silent" });
const SECOND = 1_000;
const DAY = 86_400_000;

t.test("flags: the bootstrap flow is on with --bootstrap-kubeconfig and needs --cluster-name", async (t) => {
  t.equal(parseConfig([], {}).bootstrap, undefined, "off by default");
  t.same(
    parseConfig(
      ["--bootstrap-kubeconfig", "/etc/tether/bootstrap/kubeconfig", "--cluster-name", "edge-1"],
      {},
    ).bootstrap,
    {
      kubeconfigFile: "/etc/tether/bootstrap/kubeconfig",
      kubeconfigSecret: "bootstrap-hub-kubeconfig",
      clusterName: "edge-1",
      hubKubeconfigSecret: "hub-kubeconfig-secret",
      certHealthPeriodMs: 30 * SECOND,
    },
  );
  t.match(
    parseConfig([], {
      TETHER_SPOKE_BOOTSTRAP_KUBECONFIG: "/b",
      TETHER_SPOKE_CLUSTER_NAME: "edge-2",
      TETHER_SPOKE_HUB_KUBECONFIG_SECRET: "hub-creds",
      TETHER_SPOKE_BOOTSTRAP_KUBECONFIG_SECRET: "boot",
      TETHER_SPOKE_CERT_HEALTH_PERIOD: "5s",
    }).bootstrap,
    {
      kubeconfigFile: "/b",
      clusterName: "edge-2",
      hubKubeconfigSecret: "hub-creds",
      kubeconfigSecret: "boot",
      certHealthPeriodMs: 5_000,
    },
    "every flag from the environment",
  );
  t.throws(
    () => parseConfig(["--bootstrap-kubeconfig", "/b"], {}),
    /--bootstrap-kubeconfig needs --cluster-name/,
  );
  t.throws(
    () => parseConfig(["--cluster-name", "edge-1"], {}),
    /--cluster-name needs --bootstrap-kubeconfig/,
  );
  for (const bad of ["Edge_1", "-edge", "edge-", "", "a".repeat(254)]) {
    t.throws(
      () => parseConfig(["--bootstrap-kubeconfig", "/b", "--cluster-name", bad], {}),
      /--cluster-name|--bootstrap-kubeconfig needs/,
      `cluster name ${JSON.stringify(bad.slice(0, 12))}`,
    );
  }
  t.throws(
    () =>
      parseConfig(
        ["--bootstrap-kubeconfig", "/b", "--cluster-name", "c", "--hub-kubeconfig-secret", "No/Slash"],
        {},
      ),
    /--hub-kubeconfig-secret: "No\/Slash" is not a valid Secret name/,
  );
  t.throws(
    () =>
      parseConfig(["--bootstrap-kubeconfig", "/b", "--cluster-name", "c", "--cert-health-period", "0s"], {}),
    /--cert-health-period: must be positive/,
  );
});

const hubCa = await createSelfSignedCa({ commonName: "hub serving CA" });
const notBefore = new Date("2026-05-01T00:00:00Z");
const notAfter = new Date(notBefore.getTime() + 30 * DAY);

// ---- the health checker ------------------------------------------------------------------------

function facts(over: Partial<HealthFacts> = {}): HealthFacts {
  return {
    certificateNotAfter: notAfter,
    fileAtStart: "f1",
    fileNow: "f1",
    secretAtStart: undefined,
    secretNow: undefined,
    issuerRetired: false,
    now: notBefore,
    ...over,
  };
}

t.test("health verdict: expiry and bootstrap changes restart; nothing else does", async (t) => {
  t.equal(healthVerdict(facts()), undefined, "healthy");
  t.match(healthVerdict(facts({ now: notAfter })), {
    reason: "CertificateExpired",
    message: /expired at 2026-05-31/,
  });
  t.equal(
    healthVerdict(facts({ certificateNotAfter: undefined, now: notAfter })),
    undefined,
    "no certificate yet: nothing expires",
  );
  t.match(healthVerdict(facts({ fileNow: "f2" })), {
    reason: "BootstrapKubeconfigChanged",
    message: /file changed/,
  });
  t.match(
    healthVerdict(facts({ fileAtStart: undefined, fileNow: "f2" })),
    { reason: "BootstrapKubeconfigChanged" },
    "a file that appears",
  );
  t.equal(
    healthVerdict(facts({ fileNow: undefined })),
    undefined,
    "a file that vanishes is not a new bootstrap",
  );
  t.match(
    healthVerdict(facts({ secretNow: "s1" })),
    { reason: "BootstrapKubeconfigChanged", message: /Secret changed/ },
    "a Secret that appears",
  );
  t.match(healthVerdict(facts({ secretAtStart: "s1", secretNow: "s2" })), {
    reason: "BootstrapKubeconfigChanged",
  });
  t.equal(
    healthVerdict(facts({ secretAtStart: "s1", secretNow: undefined })),
    undefined,
    "a deleted Secret is not a change",
  );
  t.equal(
    healthVerdict(facts({ now: notAfter, fileNow: "f2" }))?.reason,
    "CertificateExpired",
    "expiry is named first",
  );
});

function checker(clock: FakeClock, periodMs = 30 * SECOND) {
  const state = {
    file: "f1" as string | undefined,
    secret: undefined as string | undefined,
    notAfter: undefined as Date | undefined,
    reads: 0,
    fail: undefined as Error | undefined,
  };
  const health = new CertificateHealthChecker({
    clock,
    periodMs,
    sources: {
      file: () => {
        state.reads++;
        return state.fail ? Promise.reject(state.fail) : Promise.resolve(state.file);
      },
      secret: () => Promise.resolve(state.secret),
      certificateNotAfter: () => Promise.resolve(state.notAfter),
    },
  });
  return { state, health };
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Waits (real time, for the crypto the controllers do) until `check` holds; fails after 5 s. */
async function until(check: () => boolean): Promise<void> {
  for (const start = Date.now(); !check(); await new Promise((resolve) => setTimeout(resolve, 5))) {
    if (Date.now() - start > 5_000) throw new Error("timed out waiting");
  }
}

t.test("health checker: checks once per period and stops at the first failure", async (t) => {
  const clock = new FakeClock(notBefore);
  const { state, health } = checker(clock);
  const stop = new AbortController();
  const errors: unknown[] = [];
  let result: unknown = "running";
  const running = health.run(stop.signal, (error) => errors.push(error)).then((r) => (result = r));
  await flush();
  t.equal(state.reads, 1, "the baseline is taken at once");
  await clock.advance(29 * SECOND);
  await flush();
  t.equal(state.reads, 1, "no check before the period has passed");
  await clock.advance(SECOND);
  await flush();
  t.equal(state.reads, 2, "one check at 30 s");
  await clock.advance(60 * SECOND);
  await flush();
  t.equal(state.reads, 4, "one per period");
  t.equal(result, "running");

  health.track(new Date(notBefore.getTime() + 100 * SECOND));
  state.notAfter = new Date(notBefore.getTime() + 200 * SECOND);
  await clock.advance(30 * SECOND);
  await flush();
  t.equal(result, "running", "a renewed certificate in the Secret moves the expiry");
  state.notAfter = undefined;
  await clock.advance(30 * SECOND);
  await flush();
  t.equal(result, "running", "a Secret missing for a moment keeps the last certificate");
  t.equal(health.problem(), undefined, "/livez is fine");

  state.fail = new Error("the API server is unreachable");
  await clock.advance(30 * SECOND);
  await flush();
  t.equal(result, "running", "a check that cannot run is not a verdict");
  t.match(errors, [{ message: "the API server is unreachable" }]);
  state.fail = undefined;

  await clock.advance(30 * SECOND);
  await flush();
  t.match(
    result,
    { reason: "CertificateExpired", message: /expired at 2026-05-01T00:03:20\.000Z/ },
    "expired at the first check after notAfter",
  );
  t.match(health.problem(), /expired/, "/livez fails");
  await running;
  stop.abort();
});

t.test("health checker: a changed bootstrap kubeconfig ends the run; abort ends it quietly", async (t) => {
  const clock = new FakeClock(notBefore);
  const { state, health } = checker(clock, 5 * SECOND);
  const stop = new AbortController();
  const running = health.run(stop.signal, () => undefined);
  await flush();
  state.file = "f2";
  await clock.advance(5 * SECOND);
  t.match(await running, { reason: "BootstrapKubeconfigChanged" });

  const second = checker(clock, 5 * SECOND);
  const stopped = new AbortController();
  const quiet = second.health.run(stopped.signal, () => undefined);
  await flush();
  stopped.abort();
  t.equal(await quiet, undefined, "aborted: no verdict");
  stop.abort();
});

// ---- the bootstrap controller: the four start-up cases and the failures --------------------------

const config: BootstrapConfig = {
  kubeconfigFile: "/etc/tether/bootstrap/kubeconfig",
  kubeconfigSecret: "bootstrap-hub-kubeconfig",
  clusterName: "edge-1",
  hubKubeconfigSecret: "hub-kubeconfig-secret",
  certHealthPeriodMs: 30 * SECOND,
};

async function world() {
  const clock = new FakeClock(notBefore);
  const kube = new FakeKube();
  const hub = await new FakeHub(clock).init();
  const file = { text: undefined as string | undefined };
  const joined: HeldCredential[] = [];
  const controller = (over: Partial<BootstrapConfig> = {}) =>
    new BootstrapController({
      kube,
      hub,
      clock,
      logger,
      events: kubeEventRecorder({ kube, clock, logger, instance: "test" }),
      namespace,
      config: { ...config, ...over },
      readBootstrapFile: () => Promise.resolve(file.text),
      backoff: { baseMs: SECOND, capMs: 8 * SECOND },
      onJoined: (held) => joined.push(held),
    });
  const bootstrapFor = (runtime: string, server = hubOrigin, caPem: string = hubCa.certPem) =>
    buildBootstrapKubeconfig({ server, caPem, token: hub.bootstrapToken(runtime) });
  const secret = (name = config.hubKubeconfigSecret) => kube.secrets.get(namespace, name);
  const inspect = async (name = config.hubKubeconfigSecret) =>
    inspectSecret({ namespace, name }, await secret(name), clock.now());
  return { clock, kube, hub, file, joined, controller, bootstrapFor, secret, inspect };
}

t.test("case 1: a valid bootstrap kubeconfig and no hub kubeconfig: the cluster joins", async (t) => {
  const w = await world();
  w.file.text = w.bootstrapFor("edge-1");
  const controller = w.controller();
  t.match(await controller.decide(), { verdict: { valid: false, reason: "SecretMissing" } });
  await controller.run(new AbortController().signal);

  t.same(w.hub.calls, ["info", "issue"], "CSR info with the bootstrap token, then the CSR");
  t.equal(
    w.hub.infoCalls[0]?.url,
    `${hubOrigin}/v1/runtimes/signingRequests/info`,
    "the info route under the bootstrap server",
  );
  t.match(
    w.hub.infoCalls[0],
    { bearerToken: /^bootstrap-/, caPem: hubCa.certPem },
    "Bearer token and the bootstrap CA",
  );
  const { state, kubeconfig } = await w.inspect();
  t.match(state, {
    secretFound: true,
    missingKeys: [],
    keyMatches: true,
    certificate: { subject: { CN: "edge-1" } },
  });
  t.match(
    kubeconfig,
    { server: hubOrigin, caPem: hubCa.certPem, clientCertificatePem: /BEGIN CERTIFICATE/ },
    "the hub kubeconfig names the bootstrap hub",
  );
  t.equal(kubeconfig?.token, undefined, "and carries no bootstrap token");
  t.match((await w.secret())?.metadata?.labels, {
    "app.kubernetes.io/managed-by": "tether-spoke",
    "tether.dev/connection": "edge-1",
  });
  const connection = await w.kube.centralConnections.get("edge-1");
  t.match(connection?.spec, {
    managementInfoUrl: `${hubOrigin}/v1/runtimes/management/info`,
    secretRef: { name: "hub-kubeconfig-secret", namespace },
    renewal: { enabled: true },
  });
  t.match(w.kube.recordedEvents, [
    { reason: "Issued", involvedObject: { name: "edge-1" }, message: /joined the hub/ },
  ]);
  t.equal(controller.problem(), undefined, "ready");
  t.equal(controller.joined, true);
  t.equal(w.joined.length, 1, "the health checker is told which certificate to watch");
  t.match(
    await controller.decide(),
    { verdict: { valid: true, reason: "Valid" } },
    "afterwards the hub kubeconfig is valid",
  );
});

t.test("case 2: both valid: no new certificate is requested", async (t) => {
  const w = await world();
  w.file.text = w.bootstrapFor("edge-1");
  await w.controller().run(new AbortController().signal);
  const serial = (await w.inspect()).state.certificate?.serial;
  const calls = w.hub.calls.length;

  const restarted = w.controller();
  await restarted.run(new AbortController().signal);
  t.equal(w.hub.calls.length, calls, "the hub is not called");
  t.equal((await w.inspect()).state.certificate?.serial, serial, "same certificate");
  t.equal(restarted.joined, true);
  t.equal(w.joined.at(-1)?.certificate.serial, serial, "the health checker watches the certificate kept");

  await w.kube.centralConnections.delete("edge-1");
  await w.controller().run(new AbortController().signal);
  t.match(
    (await w.kube.centralConnections.get("edge-1"))?.spec,
    {
      managementInfoUrl: `${hubOrigin}/v1/runtimes/management/info`,
      secretRef: { name: "hub-kubeconfig-secret" },
    },
    "a deleted CentralConnection is made again from the valid hub kubeconfig",
  );
  t.equal(w.hub.calls.length, calls, "still without a call to the hub");
});

t.test("case 3: the bootstrap token expired, the hub kubeconfig is valid: it keeps working", async (t) => {
  const w = await world();
  const token = w.hub.bootstrapToken("edge-1");
  w.file.text = buildBootstrapKubeconfig({ server: hubOrigin, caPem: hubCa.certPem, token });
  await w.controller().run(new AbortController().signal);
  w.hub.expireBootstrapToken(token);
  const calls = w.hub.calls.length;

  const restarted = w.controller();
  await restarted.run(new AbortController().signal);
  t.equal(w.hub.calls.length, calls, "the expired token is never presented");
  t.equal(restarted.problem(), undefined, "ready");
});

t.test("case 4: neither valid: unready with the reason, retried with backoff", async (t) => {
  const w = await world();
  const token = w.hub.bootstrapToken("edge-1");
  w.hub.expireBootstrapToken(token);
  w.file.text = buildBootstrapKubeconfig({ server: hubOrigin, caPem: hubCa.certPem, token });
  const controller = w.controller();
  const stop = new AbortController();
  const running = controller.run(stop.signal);
  await flush();
  t.match(
    controller.problem(),
    /^BootstrapTokenRefused: the hub refused the bootstrap token \(hub: Invalid token\.\).*tether-hub bootstrap-kubeconfig --runtime/,
  );
  t.equal(await w.secret(), undefined, "nothing written");
  t.equal(controller.joined, false);
  t.equal(w.hub.infoCalls.length, 1);
  await w.clock.advance(SECOND);
  await flush();
  t.equal(w.hub.infoCalls.length, 2, "tried again after the backoff");
  stop.abort();
  await running;
  t.equal(w.joined.length, 0);
});

t.test(
  "a hub kubeconfig issued for another cluster name is not valid: the cluster joins as itself",
  async (t) => {
    const w = await world();
    w.file.text = w.bootstrapFor("edge-1");
    await w.controller().run(new AbortController().signal);

    w.file.text = w.bootstrapFor("edge-2");
    const other = w.controller({ clusterName: "edge-2" });
    t.match(await other.decide(), {
      verdict: {
        valid: false,
        reason: "OtherCluster",
        message: /for runtime "edge-1", not for --cluster-name "edge-2"/,
      },
    });
    await other.run(new AbortController().signal);
    t.equal((await w.inspect()).state.certificate?.subject.CN, "edge-2", "re-bootstrapped as edge-2");
    t.ok(await w.kube.centralConnections.get("edge-2"));
  },
);

t.test("a bootstrap kubeconfig made for another runtime is refused before a CSR is sent", async (t) => {
  const w = await world();
  w.file.text = w.bootstrapFor("edge-9");
  const controller = w.controller();
  const stop = new AbortController();
  const running = controller.run(stop.signal);
  await flush();
  t.match(
    controller.problem(),
    /^OtherCluster: the bootstrap kubeconfig is for runtime "edge-9", but --cluster-name is "edge-1"/,
  );
  t.notOk(w.hub.calls.includes("issue"), "no CSR token spent, no certificate issued");
  stop.abort();
  await running;
});

t.test(
  "a bootstrap kubeconfig that changed hubs: the hub kubeconfig is not valid, the cluster re-joins",
  async (t) => {
    const w = await world();
    w.file.text = w.bootstrapFor("edge-1");
    await w.controller().run(new AbortController().signal);
    w.file.text = w.bootstrapFor("edge-1", "https://hub-2.test:8443");
    const moved = w.controller();
    t.match(await moved.decide(), { verdict: { reason: "ServerDiffers" } });
    await moved.run(new AbortController().signal);
    t.equal(
      (await w.inspect()).kubeconfig?.server,
      "https://hub-2.test:8443",
      "the new hub kubeconfig names the new server",
    );
    t.equal(w.hub.infoCalls.at(-1)?.url, "https://hub-2.test:8443/v1/runtimes/signingRequests/info");
  },
);

t.test("bootstrap kubeconfig missing or broken: unready, with what to do", async (t) => {
  const w = await world();
  const stop = new AbortController();
  const controller = w.controller();
  const running = controller.run(stop.signal);
  await flush();
  t.match(
    controller.problem(),
    /^BootstrapKubeconfigMissing: the bootstrap kubeconfig \/etc\/tether\/bootstrap\/kubeconfig cannot be read: mount Secret bootstrap-hub-kubeconfig there/,
  );
  w.file.text = "clusters: [";
  await w.clock.advance(SECOND);
  await flush();
  t.match(controller.problem(), /^BootstrapKubeconfigInvalid: .*not a usable kubeconfig: .*not valid YAML/);
  w.file.text = buildBootstrapKubeconfig({ server: hubOrigin, caPem: hubCa.certPem, token: "t" }).replace(
    /token: t/,
    "client-certificate: /x",
  );
  t.match(readBootstrapKubeconfig("bootstrap kubeconfig f", w.file.text), {
    problem: /not a usable kubeconfig|has no token/,
  });
  t.equal(w.hub.calls.length, 0, "the hub is not called without a usable bootstrap kubeconfig");
  stop.abort();
  await running;
});

t.test("a network failure after the info call retries the CSR with what was already obtained", async (t) => {
  const w = await world();
  w.file.text = w.bootstrapFor("edge-1");
  w.hub.failNext("issue", unreachable());
  const controller = w.controller();
  const running = controller.run(new AbortController().signal);
  await until(() => controller.problem()?.startsWith("BootstrapFailed") === true);
  t.match(controller.problem(), /^BootstrapFailed: having the hub sign the CSR: could not reach the hub/);
  await w.clock.advance(SECOND);
  await running;
  t.same(w.hub.calls, ["info", "issue", "issue"], "the same CSR token again, no second info call");
  t.equal(controller.joined, true);
});

// ---- the agent: probes and the restart outcome ---------------------------------------------------

/** An agent with the bootstrap flow on the fakes; `file.text` is the bootstrap kubeconfig file. */
async function bootstrapAgent(...flags: string[]) {
  const clock = new FakeClock(notBefore);
  const kube = new FakeKube();
  const hub = await new FakeHub(clock).init();
  const file = { text: undefined as string | undefined };
  const bootstrapFor = (server = hubOrigin) =>
    buildBootstrapKubeconfig({ server, caPem: hubCa.certPem, token: hub.bootstrapToken("edge-1") });
  const config = parseConfig(
    ["--no-leader-elect", "--bootstrap-kubeconfig", "/b", "--cluster-name", "edge-1", ...flags],
    {},
  );
  const deps = { kube, hub, logger, namespace, identity: "test", clock };
  const build = () => buildAgent(config, { ...deps, readBootstrapFile: () => Promise.resolve(file.text) });
  return { clock, kube, hub, file, bootstrapFor, build };
}

t.test("agent: joins, serves the connection, and ends run() with CertificateExpired", async (t) => {
  const w = await bootstrapAgent();
  w.hub.validityMs = 10 * 60 * SECOND;
  w.file.text = w.bootstrapFor();
  const agent = w.build();
  t.ok(agent.bootstrap, "the bootstrap parts are built");
  const stop = new AbortController();
  const running = agent.run(stop.signal);
  await until(() => agent.bootstrap?.controller.joined === true);
  t.same(agent.probes.ready(), [], "ready once joined");
  const connection = (await w.kube.centralConnections.get("edge-1"))!;
  await w.kube.centralConnections.update({
    ...connection,
    spec: { ...connection.spec, renewal: { enabled: false } },
  });
  t.same(agent.probes.live(), [], "live");
  await w.clock.advance(11 * 60 * SECOND);
  t.match(await running, { restart: { reason: "CertificateExpired" } });
  t.match(agent.probes.live(), [/^certificate: the client certificate expired/], "/livez fails");
  stop.abort();
});

t.test("agent: a bootstrap Secret that appears ends run() with BootstrapKubeconfigChanged", async (t) => {
  const w = await bootstrapAgent("--cert-health-period", "5s");
  const agent = w.build();
  const running = agent.run(new AbortController().signal);
  await flush();
  t.match(agent.probes.ready(), [/^bootstrap: BootstrapKubeconfigMissing/], "unready, with the reason");
  await w.kube.secrets.create({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "bootstrap-hub-kubeconfig", namespace },
    data: { kubeconfig: Buffer.from(w.bootstrapFor()).toString("base64") },
  });
  await w.clock.advance(5 * SECOND);
  t.match(await running, { restart: { reason: "BootstrapKubeconfigChanged", message: /Secret changed/ } });
});

t.test("agent: on a re-join the connection is not synced with the Secret the join replaces", async (t) => {
  const w = await bootstrapAgent();
  w.file.text = w.bootstrapFor();
  const stop = new AbortController();
  const running = w.build().run(stop.signal);
  await until(() => w.hub.calls.includes("management"));
  stop.abort();
  await running;

  w.file.text = w.bootstrapFor("https://hub-2.test:8443");
  w.hub.calls.length = 0;
  const again = new AbortController();
  const rejoining = w.build().run(again.signal);
  await until(() => w.hub.calls.includes("management"));
  t.same(
    w.hub.calls.slice(0, 3),
    ["info", "issue", "management"],
    "join first, then the first sync, with the new certificate",
  );
  again.abort();
  await rejoining;
});
