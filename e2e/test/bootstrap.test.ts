/**
 * The bootstrap kubeconfig flow (docs/renewal.md#bootstrap) against a real control plane and real hub processes: the
 * agent runs as its service account under a supervisor that, like the kubelet, starts it again when
 * it exits non-zero. The four start-up cases (bootstrap kubeconfig valid or not × hub kubeconfig valid
 * or not); the restart triggers (an expired certificate; a changed bootstrap kubeconfig file pointing
 * at a second hub, or at the same URL served with new CAs; a changed bootstrap Secret); credentials
 * made for another cluster. Each case has its own cluster name, hub kubeconfig Secret, bootstrap file
 * and bootstrap Secret, and deletes its CentralConnections when it ends, so that a later agent's
 * connection controller does not tend them. */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { promisify } from "node:util";
import t, { type Test } from "tap";
import type { V1Secret } from "@kubernetes/client-node";
import { repoRoot } from "@tether/e2e/harness";
import { parseKubeconfig } from "@tether/shared/kubeconfig";
import { certificateInfo } from "@tether/shared/pki";
import type { CentralConnection } from "../../packages/spoke/src/kube/types.ts";
import { type Agent, startAgent } from "./bootstrap/agent.ts";
import {
  bootstrapKubeconfig,
  csrInfoWith,
  group,
  hubCli,
  runtime,
  startHubWith,
  tenant,
} from "./bootstrap/hub.ts";
import type { LogEntry } from "./bootstrap/supervisor.ts";
import { cluster, decode, eventually, namespace, readyCondition, startHub } from "./spoke-helpers.ts";

const run = promisify(execFile);
const fileStarted = performance.now();
const c = await cluster(t);
const hub = await startHub(t, "bundle");
// The expired-bootstrap case needs a token past its expiry and the hub's 60 s leeway: made first,
// used by the case that runs last, which then waits only for what is left of that minute.
const expiringKubeconfig = await bootstrapKubeconfig(hub, "c3", { ttl: "1s" });
const expiringMadeAt = Date.now();
const expiringAtFirst = await csrInfoWith(expiringKubeconfig);
const dir = await mkdtemp(join(tmpdir(), "tether-bootstrap-e2e-"));
t.teardown(() => rm(dir, { recursive: true, force: true }));
t.comment(`control plane, CRDs, RBAC and hub: ${seconds(fileStarted)}`);

const managementInfoUrl = (publicUrl: string) => `${publicUrl}/v1/runtimes/management/info`;
const secretName = (clusterName: string) => `hub-kubeconfig-${clusterName}`;
const bootstrapFile = (clusterName: string) => join(dir, `${clusterName}.kubeconfig`);
const bootstrapSecret = (clusterName: string) => `bootstrap-hub-kubeconfig-${clusterName}`;

/** Like kubelet updates a mounted Secret: the new content appears at once, never half-written. */
async function writeBootstrap(clusterName: string, text: string): Promise<string> {
  const path = bootstrapFile(clusterName);
  await writeFile(`${path}.tmp`, text, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
  return path;
}

function agentFor(t: Test, clusterName: string, options: { leaseName?: string } = {}): Promise<Agent> {
  return startAgent(t, {
    kubeconfig: c.agentKubeconfig,
    clusterName,
    bootstrapFile: bootstrapFile(clusterName),
    bootstrapSecret: bootstrapSecret(clusterName),
    hubKubeconfigSecret: secretName(clusterName),
    ...options,
  });
}

const hubSecret = (clusterName: string) => c.kube.secrets.get(namespace, secretName(clusterName));
const leafOf = (secret: V1Secret | undefined) => certificateInfo(decode(secret?.data?.["tls.crt"]));

/** The CentralConnection once it is Ready and `also` holds (the agents' logs show on a failure). */
async function readyConnection(
  name: string,
  also: (connection: CentralConnection) => boolean = () => true,
): Promise<CentralConnection> {
  try {
    return await eventually(`CentralConnection ${name} Ready`, async () => {
      const found = await c.kube.centralConnections.get(name);
      return found && readyCondition(found)?.status === "True" && also(found) ? found : undefined;
    });
  } catch (error) {
    const found = await c.kube.centralConnections.get(name);
    throw new Error(`${(error as Error).message}; last seen: ${JSON.stringify(found)}`, { cause: error });
  }
}

const decision = (entry: LogEntry) => /^hub kubeconfig is (not )?valid/.test(entry.msg);
const joined = (entry: LogEntry) => entry.msg.startsWith("joined the hub ");
const failed = (entry: LogEntry) => entry.msg.startsWith("bootstrap failed: ");
const restarting = (entry: LogEntry) => entry.msg.startsWith("restarting: ");
const exiting = (entry: LogEntry) => entry.msg.startsWith("exiting to be restarted: ");
const inRun = (n: number, match: (entry: LogEntry) => boolean) => (entry: LogEntry) =>
  entry.run === n && match(entry);

/** The first run's start-up decision and join. */
async function joinedFirstRun(agent: Agent): Promise<{ decided: LogEntry; joined: LogEntry }> {
  return {
    decided: await agent.waitForEntry("the start-up decision", decision),
    joined: await agent.waitForEntry("joined the hub", joined),
  };
}

function readyzWhen(agent: Agent, match: (answer: { status: number; body: string }) => boolean) {
  return eventually(`${agent.healthUrl}/readyz`, async () => {
    const answer = await agent.probe("/readyz");
    return match(answer) ? answer : undefined;
  });
}

/** A case with its duration in the output; its CentralConnections go when it ends. */
function scenario(name: string, connections: string[], body: (t: Test) => Promise<void>): void {
  t.test(name, async (t) => {
    const started = performance.now();
    t.teardown(async () => {
      for (const connection of connections) await c.kube.centralConnections.delete(connection);
    });
    await body(t);
    t.comment(`${name}: ${seconds(started)}`);
  });
}

scenario("bootstrap kubeconfig valid, no hub kubeconfig: the agent joins the hub", ["c1"], async (t) => {
  // As docs/hub.md has the operator make it.
  const { stdout } = await run(
    process.execPath,
    [
      ...[hubCli, "bootstrap-kubeconfig", "--runtime", "c1", "--tenant", tenant, "--group", group],
      ...["--internal-url", hub.internalUrl, "--data-dir", dirname(hub.caFile)],
    ],
    { cwd: repoRoot, timeout: 30_000 },
  );
  await writeBootstrap("c1", stdout);
  const agent = await agentFor(t, "c1");

  const first = await joinedFirstRun(agent);
  t.match(
    first.decided,
    { msg: /^hub kubeconfig is not valid, bootstrapping: /, reason: "SecretMissing" },
    "the log says why it bootstraps",
  );
  const secret = await hubSecret("c1");
  t.same(
    Object.keys(secret?.data ?? {}).sort(),
    ["ca.crt", "kubeconfig", "tls.crt", "tls.key"],
    "the Secret holds the whole credential",
  );
  const leaf = leafOf(secret);
  t.equal(leaf.subject.CN, "c1", "the certificate is for the cluster name");
  t.equal(first.joined.serial, leaf.serial, "the log names the certificate in the Secret");

  const hubKubeconfig = parseKubeconfig(decode(secret?.data?.kubeconfig));
  const bootstrap = parseKubeconfig(stdout);
  t.equal(hubKubeconfig.server, bootstrap.server, "hub kubeconfig: the bootstrap kubeconfig's server");
  t.equal(hubKubeconfig.caPem, bootstrap.caPem, "and its CA");
  t.equal(hubKubeconfig.token, undefined, "and a client certificate instead of the token");
  t.equal(certificateInfo(hubKubeconfig.clientCertificatePem ?? "").serial, leaf.serial, "tls.crt's");

  const connection = await readyConnection("c1", (found) => found.status?.certificateStatus !== undefined);
  t.equal(connection.spec.managementInfoUrl, managementInfoUrl(hub.publicUrl), "CentralConnection: the hub");
  t.equal(connection.spec.secretRef?.name, secretName("c1"), "the hub kubeconfig Secret");
  t.equal(connection.status?.certificateStatus?.serialNumber, leaf.serial, "its certificate");
  t.equal(
    (await runtime(hub, "c1"))?.currentCertificate?.serial.toUpperCase(),
    leaf.serial,
    "the hub knows it",
  );
  t.equal((await readyzWhen(agent, (a) => a.status === 200)).body, "ok\n", "/readyz ok");
  t.equal(agent.restarts(), 0, "never restarted");
  const token = bootstrap.token ?? "";
  t.ok(token.length > 16, "the bootstrap kubeconfig carries a token");
  t.notOk(agent.logs().includes(token), "the bootstrap token never appears in the agent's log");
  t.notOk(hub.process().logs().includes(token), "nor in the hub's");
  t.notOk(
    agent.logs().includes(decode(secret?.data?.["tls.key"]).split("\n")[1] ?? "-"),
    "nor the private key",
  );
});

scenario("both kubeconfigs valid: a restarted agent keeps its certificate", ["c2"], async (t) => {
  await writeBootstrap("c2", await bootstrapKubeconfig(hub, "c2"));
  const first = await agentFor(t, "c2");
  await joinedFirstRun(first);
  await readyConnection("c2");
  const serial = leafOf(await hubSecret("c2")).serial;
  const issuedBefore = (await runtime(hub, "c2"))?.certificates.length;
  await first.stop();
  t.same(
    first.exits().map((s) => s.code),
    [0],
    "a SIGTERM ends the agent with 0: no restart",
  );

  const restartedAt = Date.now();
  const second = await agentFor(t, "c2");
  await keptAtStart(t, second, "c2", restartedAt, "the log says it skips bootstrap");
  t.equal(leafOf(await hubSecret("c2")).serial, serial, "same certificate in the Secret");
  const after = await runtime(hub, "c2");
  t.equal(after?.certificates.length, issuedBefore, "the hub issued no certificate");
  t.equal(after?.currentCertificate?.serial.toUpperCase(), serial, "and counts the same one as current");
  t.notOk(second.entries().some(joined), "no bootstrap");
});

scenario(
  "neither valid (refused bootstrap token, no hub kubeconfig): unready until a good bootstrap kubeconfig arrives",
  ["c4"],
  async (t) => {
    const good = await bootstrapKubeconfig(hub, "c4");
    const goodToken = parseKubeconfig(good).token ?? "";
    // A token the hub never issued: refused like an expired or revoked one, without waiting a minute.
    await writeBootstrap("c4", good.replace(goodToken, "not-a-token-the-hub-issued"));
    const agent = await agentFor(t, "c4");

    t.match(
      await agent.waitForEntry("the start-up decision", decision),
      { reason: "SecretMissing" },
      "no hub kubeconfig: bootstrap",
    );
    t.match(
      await agent.waitForEntry("a failed bootstrap", failed),
      {
        reason: "BootstrapTokenRefused",
        msg: /the hub refused the bootstrap token \(hub: Invalid token\.\)/,
      },
      "the hub refuses the token",
    );
    const unready = await readyzWhen(agent, (a) => a.status === 503);
    t.match(
      unready.body,
      /^\[-\] bootstrap: BootstrapTokenRefused: the hub refused the bootstrap token \(hub: Invalid token\.\): .*make a new bootstrap kubeconfig with `tether-hub bootstrap-kubeconfig --runtime <cluster name>`/m,
      "/readyz says why and what to do",
    );
    t.equal(
      (await agent.probe("/livez")).status,
      200,
      "alive: waiting for a bootstrap kubeconfig is no reason to restart",
    );
    t.equal(await hubSecret("c4"), undefined, "no hub kubeconfig Secret written");
    t.equal(await c.kube.centralConnections.get("c4"), undefined, "no CentralConnection");
    t.same((await runtime(hub, "c4"))?.certificates, [], "no certificate issued");

    await writeBootstrap("c4", good);
    t.match(
      await agent.waitForEntry("a restart", inRun(1, restarting)),
      { reason: "BootstrapKubeconfigChanged" },
      "the new bootstrap kubeconfig ends the agent",
    );
    t.match(
      await agent.waitForEntry("the second run's decision", inRun(2, decision)),
      { reason: "SecretMissing" },
      "the restarted agent decides again",
    );
    const rejoined = await agent.waitForEntry("the second run's join", inRun(2, joined));
    t.same(
      agent.exits().map((s) => s.code),
      [1],
      "the first run exited with 1",
    );
    await readyConnection("c4");
    await readyzWhen(agent, (a) => a.status === 200);
    const leaf = leafOf(await hubSecret("c4"));
    t.equal(leaf.subject.CN, "c4", "joined as c4");
    t.equal(rejoined.serial, leaf.serial, "with the certificate in the Secret");
  },
);

scenario(
  "an expired certificate: the agent exits 1, is restarted and bootstraps again",
  ["c5"],
  async (t) => {
    const shortHub = await startHubWith(t, ["--cert-validity", "15s"]);
    // Renewal off: the hub backdates notBefore by 5 minutes, so a 15 s certificate is past any
    // renewal fraction at once and would be renewed instead of expiring.
    await c.plane.apply({
      apiVersion: "tether.dev/v1alpha1",
      kind: "CentralConnection",
      metadata: { name: "c5" },
      spec: {
        managementInfoUrl: managementInfoUrl(shortHub.publicUrl),
        establishedAt: new Date().toISOString(),
        renewal: { enabled: false },
        secretRef: { name: secretName("c5"), namespace },
      },
    });
    await writeBootstrap("c5", await bootstrapKubeconfig(shortHub, "c5"));
    const agent = await agentFor(t, "c5", { leaseName: "bootstrap-c5" });

    const first = await joinedFirstRun(agent);
    const connection = await readyConnection(
      "c5",
      (found) => found.status?.certificateStatus?.serialNumber === first.joined.serial,
    );
    t.equal(
      connection.spec.renewal?.enabled,
      false,
      "the existing CentralConnection keeps its renewal settings",
    );

    t.match(
      await agent.waitForEntry("the certificate to expire", inRun(1, restarting), 45_000),
      { reason: "CertificateExpired", msg: /the client certificate expired at / },
      "the health check sees the expiry",
    );
    t.match(
      await agent.waitForEntry("the exit", inRun(1, exiting)),
      { reason: "CertificateExpired" },
      "and ends the agent",
    );
    t.match(
      await agent.waitForEntry("the second run's decision", inRun(2, decision)),
      { msg: /^hub kubeconfig is not valid, bootstrapping: the certificate expired at /, reason: "Expired" },
      "the restarted agent bootstraps because the certificate expired",
    );
    const second = await agent.waitForEntry("the second run's join", inRun(2, joined));
    t.equal(agent.exits()[0]?.code, 1, "the first run exited with 1");
    t.not(second.serial, first.joined.serial, "a new certificate");
    await readyConnection("c5", (found) => found.status?.certificateStatus?.serialNumber === second.serial);
    const issued = (await runtime(shortHub, "c5"))?.certificates ?? [];
    t.same(
      issued.map((cert) => cert.serial.toUpperCase()).sort(),
      [first.joined.serial, second.serial].sort(),
      "the hub issued exactly the two",
    );
    await agent.stop();
  },
);

scenario(
  "a bootstrap kubeconfig changed to another hub: exit 1, restart, join the new hub",
  ["c6"],
  async (t) => {
    const secondHub = await startHub(t, "bundle");
    await writeBootstrap("c6", await bootstrapKubeconfig(hub, "c6"));
    const agent = await agentFor(t, "c6");
    const first = await joinedFirstRun(agent);
    await readyConnection("c6");

    const changedAt = Date.now();
    await writeBootstrap("c6", await bootstrapKubeconfig(secondHub, "c6"));
    t.match(
      await agent.waitForEntry("a restart", inRun(1, restarting)),
      { reason: "BootstrapKubeconfigChanged", msg: /bootstrap kubeconfig file changed/ },
      "the changed file ends the agent",
    );
    t.match(
      await agent.waitForEntry("the second run's decision", inRun(2, decision)),
      {
        msg: /^hub kubeconfig is not valid, bootstrapping: the hub kubeconfig names another hub/,
        reason: "ServerDiffers",
      },
      "the restarted agent sees that its hub kubeconfig is for the first hub",
    );
    const second = await agent.waitForEntry("the second run's join", inRun(2, joined));
    t.equal(second.server, secondHub.publicUrl, "and joins the second");
    t.equal(agent.exits()[0]?.code, 1, "the first run exited with 1");

    const connection = await readyConnection(
      "c6",
      (found) =>
        found.spec.managementInfoUrl === managementInfoUrl(secondHub.publicUrl) &&
        found.status?.certificateStatus?.serialNumber === second.serial &&
        synced(found, changedAt),
    );
    t.ok(connection, "the CentralConnection points at the second hub and is Ready");
    const secret = await hubSecret("c6");
    t.equal(leafOf(secret).serial, second.serial, "the Secret holds the new certificate");
    t.equal(decode(secret?.data?.["ca.crt"]).trim(), secondHub.caPem.trim(), "the second hub's CA");
    t.equal(parseKubeconfig(decode(secret?.data?.kubeconfig)).server, secondHub.publicUrl, "and server");
    t.equal(
      (await runtime(secondHub, "c6"))?.currentCertificate?.serial.toUpperCase(),
      second.serial,
      "the second hub lists c6 with that certificate",
    );
    t.same(
      (await runtime(hub, "c6"))?.certificates.map((cert) => cert.serial.toUpperCase()),
      [first.joined.serial],
      "the first hub issued nothing more",
    );
  },
);

scenario(
  "the hub reinstalled behind the same URL with new CAs: exit 1, restart, join it again",
  ["c9"],
  async (t) => {
    const before = await startHubWith(t, []);
    await writeBootstrap("c9", await bootstrapKubeconfig(before, "c9"));
    const agent = await agentFor(t, "c9");
    await joinedFirstRun(agent);
    await readyConnection("c9");

    await before.stop();
    const after = await startHubWith(t, [], before.ports);
    t.equal(after.publicUrl, before.publicUrl, "same URL");
    const changedAt = Date.now();
    await writeBootstrap("c9", await bootstrapKubeconfig(after, "c9"));
    t.match(
      await agent.waitForEntry("a restart", inRun(1, restarting)),
      { reason: "BootstrapKubeconfigChanged" },
      "the new bootstrap kubeconfig ends the agent",
    );
    t.match(
      await agent.waitForEntry("the second run's decision", inRun(2, decision)),
      {
        msg: /^hub kubeconfig is not valid, bootstrapping: .*certificate-authority-data differs/,
        reason: "CADiffers",
      },
      "the restarted agent sees that the hub's CA changed",
    );
    const second = await agent.waitForEntry("the second run's join", inRun(2, joined));
    await readyConnection(
      "c9",
      (found) => found.status?.certificateStatus?.serialNumber === second.serial && synced(found, changedAt),
    );
    const secret = await hubSecret("c9");
    t.equal(
      decode(secret?.data?.["ca.crt"]).trim(),
      (await readFile(after.caFile, "utf8")).trim(),
      "the Secret trusts the new hub CA",
    );
    t.equal(
      (await runtime(after, "c9"))?.currentCertificate?.serial.toUpperCase(),
      second.serial,
      "the reinstalled hub lists c9 with the new certificate",
    );
  },
);

scenario(
  "a hub kubeconfig Secret of another cluster is not valid: the agent bootstraps its own",
  ["a7", "b7"],
  async (t) => {
    await writeBootstrap("a7", await bootstrapKubeconfig(hub, "a7"));
    const a = await agentFor(t, "a7");
    await joinedFirstRun(a);
    await a.stop();
    const ofA = await hubSecret("a7");
    await c.plane.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: secretName("b7"), namespace, labels: ofA?.metadata?.labels },
      type: ofA?.type,
      data: ofA?.data,
    });

    await writeBootstrap("b7", await bootstrapKubeconfig(hub, "b7"));
    const b = await agentFor(t, "b7");
    t.match(
      await b.waitForEntry("the start-up decision", decision),
      {
        msg: /^hub kubeconfig is not valid, bootstrapping: the certificate in Secret .* is for runtime "a7", not for --cluster-name "b7"/,
        reason: "OtherCluster",
      },
      "a7's certificate is not b7's",
    );
    const joinedB = await b.waitForEntry("joined the hub", joined);
    await readyConnection("b7");
    const leaf = leafOf(await hubSecret("b7"));
    t.equal(leaf.subject.CN, "b7", "the Secret now holds b7's certificate");
    t.equal(joinedB.serial, leaf.serial, "the one it joined with");
    t.equal(leafOf(await hubSecret("a7")).serial, leafOf(ofA).serial, "a7's Secret is untouched");
  },
);

scenario(
  "a bootstrap kubeconfig made for another runtime: unready, no certificate issued",
  ["x7", "y7"],
  async (t) => {
    await writeBootstrap("y7", await bootstrapKubeconfig(hub, "x7"));
    const agent = await agentFor(t, "y7");
    t.match(
      await agent.waitForEntry("a failed bootstrap", failed),
      { reason: "OtherCluster" },
      "the agent refuses to join as x7",
    );
    const unready = await readyzWhen(agent, (a) => a.status === 503);
    t.match(
      unready.body,
      /^\[-\] bootstrap: OtherCluster: the bootstrap kubeconfig is for runtime "x7", but --cluster-name is "y7": make one with `tether-hub bootstrap-kubeconfig --runtime y7`$/m,
      "/readyz says why and what to do",
    );
    t.same((await runtime(hub, "x7"))?.certificates, [], "no certificate for x7");
    t.equal(await runtime(hub, "y7"), undefined, "no runtime y7");
    t.equal(await hubSecret("y7"), undefined, "no hub kubeconfig Secret");
    t.equal(await c.kube.centralConnections.get("y7"), undefined, "no CentralConnection");
  },
);

scenario(
  "the bootstrap kubeconfig Secret changes (a new token for the same hub): restart, and the certificate is kept",
  ["c8"],
  async (t) => {
    await writeBootstrap("c8", await bootstrapKubeconfig(hub, "c8"));
    const agent = await agentFor(t, "c8");
    const first = await joinedFirstRun(agent);
    await readyConnection("c8");

    // Only the Secret: kubelet updates the mounted file a minute later, the agent must not wait for it.
    const restartedAt = Date.now();
    await c.plane.apply({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: bootstrapSecret("c8"), namespace },
      data: { kubeconfig: Buffer.from(await bootstrapKubeconfig(hub, "c8")).toString("base64") },
    });
    t.match(
      await agent.waitForEntry("a restart", inRun(1, restarting)),
      { reason: "BootstrapKubeconfigChanged", msg: /bootstrap kubeconfig Secret changed/ },
      "the Secret's new data ends the agent",
    );
    await keptAtStart(t, agent, "c8", restartedAt, "same hub, same CA: the hub kubeconfig stays valid", 2);
    t.equal(agent.exits()[0]?.code, 1, "the first run exited with 1");
    t.equal(leafOf(await hubSecret("c8")).serial, first.joined.serial, "same certificate");
    t.equal((await runtime(hub, "c8"))?.certificates.length, 1, "the hub issued no other");
    t.equal(agent.runs(), 2, "restarted once: the restarted agent takes the Secret as it is now");
  },
);

// Last: by now most of the expiring token's minute of leeway has passed.
scenario("bootstrap kubeconfig expired, hub kubeconfig valid: the agent keeps working", ["c3"], async (t) => {
  t.equal(expiringAtFirst.status, 200, "the short-lived bootstrap token worked when it was made");
  await writeBootstrap("c3", await bootstrapKubeconfig(hub, "c3"));
  const first = await agentFor(t, "c3");
  await joinedFirstRun(first);
  await readyConnection("c3");
  await first.stop();
  const serial = leafOf(await hubSecret("c3")).serial;
  const issuedBefore = (await runtime(hub, "c3"))?.certificates.length;

  // Expiry is a moment in time, not a state to poll: wait out the ttl and the leeway.
  const left = expiringMadeAt + 1_000 + 60_000 + 1_000 - Date.now();
  if (left > 0) {
    t.comment(`waiting ${Math.ceil(left / 1000)} s for the bootstrap token to expire`);
    await delay(left);
  }
  t.same(
    await csrInfoWith(expiringKubeconfig),
    { status: 403, body: { code: 403, error: "Invalid token." } },
    "the hub refuses the expired bootstrap token",
  );

  await writeBootstrap("c3", expiringKubeconfig);
  const restartedAt = Date.now();
  const second = await agentFor(t, "c3");
  await keptAtStart(t, second, "c3", restartedAt, "the hub kubeconfig is kept");
  t.equal(leafOf(await hubSecret("c3")).serial, serial, "same certificate");
  t.equal((await runtime(hub, "c3"))?.certificates.length, issuedBefore, "the hub issued no certificate");
  t.notOk(
    second.entries().some((e) => joined(e) || failed(e)),
    "no bootstrap attempt",
  );
  t.equal(second.restarts(), 0, "never restarted");
});

/**
 * The start-up decision (of run `run`) keeps the hub kubeconfig, and the connection is Ready from a
 * sync of the process started at `since`, not from the condition an earlier one left behind.
 */
async function keptAtStart(
  t: Test,
  agent: Agent,
  name: string,
  since: number,
  message: string,
  run?: number,
): Promise<void> {
  t.match(
    await agent.waitForEntry("the start-up decision", run === undefined ? decision : inRun(run, decision)),
    { msg: /^hub kubeconfig is valid, skipping bootstrap: /, reason: "Valid" },
    message,
  );
  await readyConnection(name, (found) => synced(found, since));
  await readyzWhen(agent, (a) => a.status === 200);
}

/** Whether a sync succeeded after `since` (a process started then). */
function synced(connection: CentralConnection, since: number): boolean {
  const lastSuccess = connection.status?.synchronizationStatus?.lastSuccess;
  return lastSuccess !== undefined && Date.parse(lastSuccess) > since;
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`;
}
