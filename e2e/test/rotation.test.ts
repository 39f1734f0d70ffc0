/**
 * CA rotation across a fleet (docs/renewal.md#ca-rotation) on real control planes with a real hub:
 * two spoke agents, each in a cluster of its own (a CentralConnection is cluster-scoped, so two agents
 * on one API server would both tend every connection) and in different namespaces. `tether-hub ca
 * rotate` → `ca activate` → `ca retire`, run as an operator runs them: every CentralConnection goes
 * CertificateAuthorityRotating=True then False, every Secret ends on the new CA, a certificate of the
 * retired CA gets 403 from curl, and throughout Ready never turns False and no sync fails (sampled
 * every 200 ms). Then a spoke offline past retirement, token-joined (Ready=False IssuerRetired) and
 * bootstrap-joined (it restarts and joins again by itself, with a bootstrap kubeconfig older than the
 * rotation).
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { connect } from "node:tls";
import { promisify } from "node:util";
import t from "tap";
import { repoRoot, startControlPlane } from "@tether/e2e/harness";
import { ErrorMessages } from "@tether/shared/contract";
import { parseKubeconfig } from "@tether/shared/kubeconfig";
import { certificateInfo, splitPemBundle, verifyChain } from "@tether/shared/pki";
import { pemFingerprints } from "../../packages/spoke/src/credential/secret.ts";
import { clientNodeKube } from "../../packages/spoke/src/kube/client-node.ts";
import type { KubePort } from "../../packages/spoke/src/kube/port.ts";
import type { CentralConnection } from "../../packages/spoke/src/kube/types.ts";
import { createLogger } from "../../packages/spoke/src/serve.ts";
import { startAgent } from "./bootstrap/agent.ts";
import { bootstrapKubeconfig, hubCli, startHubWith } from "./bootstrap/hub.ts";
import {
  type Spoke,
  certificateRequest,
  cluster,
  decode,
  eventually,
  namespace,
  readyCondition,
  startSpoke,
} from "./spoke-helpers.ts";

const run = promisify(execFile);
const dir = await mkdtemp(join(tmpdir(), "tether-rotation-e2e-"));
t.teardown(() => rm(dir, { recursive: true, force: true }));

// Cluster A: the shared control plane, agent in tether-system. Cluster B: a second one, agent in tether-edge.
const a = await cluster(t);
const planeB = await startControlPlane();
t.teardown(() => planeB.stop());
const namespaceB = "tether-edge";
await planeB.installCrds();
await planeB.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespaceB } });
const rbac = await readFile(join(repoRoot, "packages/spoke/test/fixtures/rbac.yaml"), "utf8");
await planeB.apply(rbac.replaceAll("namespace: tether-system", `namespace: ${namespaceB}`));
const b = {
  plane: planeB,
  agentKubeconfig: (await planeB.serviceAccount(namespaceB, "tether-spoke")).kubeconfigPath,
  kube: clientNodeKube(planeB.clientConfig(), createLogger("silent")),
};

// A short renewal window so the fleet moves within seconds; a short grace so that replaced
// certificates stop counting as live and `ca retire` needs no --force once every spoke renewed.
const hub = await startHubWith(t, [
  ...["--ca-renewal-window", "8s", "--ca-refresh", "500ms", "--superseded-grace", "1s"],
]);
const hubCaPem = await readFile(hub.caFile, "utf8");
const adminToken = (await readFile(join(dirname(hub.caFile), "admin-token"), "utf8")).trim();

/** `tether-hub ca ...` as an operator types it, against the hub's internal API. */
async function ca(...args: string[]): Promise<string> {
  const { stdout } = await run(
    process.execPath,
    [hubCli, "ca", ...args, "--internal-url", hub.internalUrl, "--data-dir", dirname(hub.caFile)],
    { cwd: repoRoot, timeout: 60_000 },
  );
  return stdout;
}

async function tokenUrl(): Promise<string> {
  const response = await fetch(`${hub.internalUrl}/v1/runtimes/tokens`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${adminToken}`,
      "content-type": "application/json",
      tenant: "e2e",
      group: "rotation",
    },
    body: "{}",
  });
  if (!response.ok) throw new Error(`token: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { url: string }).url;
}

const spokeArgs = ["--sync-period", "2s", "--log-level", "warn"];
const startB = () =>
  startSpoke(t, {
    kubeconfig: b.agentKubeconfig,
    hub,
    identity: "spoke-b",
    namespace: namespaceB,
    args: spokeArgs,
    uninstrumented: true,
  });
const spokeA = await startSpoke(t, {
  kubeconfig: a.agentKubeconfig,
  hub,
  identity: "spoke-a",
  args: spokeArgs,
  uninstrumented: true,
});
let spokeB = await startB();

interface Member {
  name: string;
  kube: KubePort;
  secretNamespace: string;
  spoke: () => Spoke;
}
const fleet: Member[] = [
  { name: "a1", kube: a.kube, secretNamespace: namespace, spoke: () => spokeA },
  { name: "b1", kube: b.kube, secretNamespace: namespaceB, spoke: () => spokeB },
];

const rotating = (connection: CentralConnection | undefined) =>
  connection?.status?.conditions?.find((c) => c.type === "CertificateAuthorityRotating");

/** What a Secret holds, by CA fingerprint. */
async function secretOf(member: Member, name = `${member.name}-hub-credentials`) {
  const secret = await member.kube.secrets.get(member.secretNamespace, name);
  const chain = splitPemBundle(decode(secret?.data?.["tls.crt"]));
  return {
    chain,
    keyPem: decode(secret?.data?.["tls.key"]),
    caPem: decode(secret?.data?.["ca.crt"]),
    issuer: pemFingerprints(chain[1])[0],
    trust: pemFingerprints(decode(secret?.data?.["ca.crt"])),
    serverCa: pemFingerprints(parseKubeconfig(decode(secret?.data?.kubeconfig)).caPem),
  };
}

async function failedSyncs(member: Member): Promise<number> {
  const text = await (await fetch(member.spoke().metricsUrl)).text();
  const match = new RegExp(
    `^tether_spoke_sync_total\\{connection="${member.name}",result="failure"\\} (\\d+)`,
    "m",
  ).exec(text);
  return Number(match?.[1] ?? 0);
}

/** Samples Ready, CertificateAuthorityRotating and the failed-sync counters until stopped. */
function sampler(members: Member[]) {
  const ready: string[] = [];
  const rotations = new Map<string, string[]>(members.map((m) => [m.name, []]));
  const failures = new Map<string, number[]>(members.map((m) => [m.name, []]));
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      for (const member of members) {
        const connection = await member.kube.centralConnections.get(member.name);
        const r = readyCondition(connection);
        if (r?.status !== "True")
          ready.push(`${member.name}: Ready=${r?.status} ${r?.reason}: ${r?.message}`);
        const seen = rotations.get(member.name)!;
        const now = `${rotating(connection)?.status}/${rotating(connection)?.reason}`;
        if (seen.at(-1) !== now) seen.push(now);
        failures.get(member.name)!.push(await failedSyncs(member));
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { ready, rotations, failures };
    },
  };
}

function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  return eventually(what, probe, timeoutMs);
}

/** The issuer of the hub's serving certificate, by SHA-256 like the trust bundle names CAs. */
function servingIssuer(): Promise<string> {
  const url = new URL(hub.publicUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false }, () => {
      const issuer = socket.getPeerCertificate(true).issuerCertificate;
      socket.end();
      resolve(issuer.fingerprint256.replaceAll(":", "").toLowerCase());
    });
    socket.on("error", reject);
  });
}

/** curl the management info with a client certificate; answers the HTTP status and body. */
async function curlWith(
  chainPem: string,
  keyPem: string,
  caPem: string,
): Promise<{ status: number; body: string }> {
  const files = await mkdtemp(join(dir, "curl-"));
  await writeFile(join(files, "tls.crt"), chainPem);
  await writeFile(join(files, "tls.key"), keyPem, { mode: 0o600 });
  await writeFile(join(files, "ca.crt"), caPem);
  const { stdout } = await run("curl", [
    ...["-sS", "--max-time", "10", "-o", "-", "-w", "\n%{http_code}"],
    ...["--cert", join(files, "tls.crt"), "--key", join(files, "tls.key"), "--cacert", join(files, "ca.crt")],
    `${hub.publicUrl}/v1/runtimes/management/info`,
  ]);
  const lines = stdout.trimEnd().split("\n");
  return { status: Number(lines.at(-1)), body: lines.slice(0, -1).join("\n") };
}

const sha = (output: string) => /\b([0-9a-f]{64})\b/.exec(output)?.[1] ?? "";

t.test("enrol a1 in cluster A and b1 in cluster B", async (t) => {
  await a.plane.apply(certificateRequest("a1", await tokenUrl(), hubCaPem));
  await b.plane.apply(certificateRequest("b1", await tokenUrl(), hubCaPem));
  for (const member of fleet) {
    const connection = await waitFor(`${member.name} Ready`, async () => {
      const found = await member.kube.centralConnections.get(member.name);
      return readyCondition(found)?.status === "True" && rotating(found) ? found : undefined;
    });
    t.match(rotating(connection), { status: "False", reason: "NoRotation" }, `${member.name}: one CA`);
  }
});

t.test("rotate → activate → retire: the fleet moves with no failed sync and Ready never False", async (t) => {
  const oldCa = (await secretOf(fleet[0]!)).issuer!;
  const failedBefore = await Promise.all(fleet.map(failedSyncs));
  const sampling = sampler(fleet);
  const oldCredentials = await secretOf(fleet[0]!);

  const started = performance.now();
  const newCa = sha(await ca("rotate"));
  t.match(newCa, /^[0-9a-f]{64}$/, "ca rotate names the next CA");
  for (const member of fleet) {
    await waitFor(`${member.name} trusts the next CA`, async () => {
      const secret = await secretOf(member);
      return secret.trust.includes(newCa) && secret.serverCa.includes(newCa) ? true : undefined;
    });
  }
  t.comment(`every spoke trusts the next CA after ${Math.round(performance.now() - started)} ms`);

  const activated = performance.now();
  await ca("activate", newCa);
  for (const member of fleet) {
    await waitFor(`${member.name} on the new CA`, async () => {
      const secret = await secretOf(member);
      const connection = await member.kube.centralConnections.get(member.name);
      return secret.issuer === newCa && rotating(connection)?.reason === "RotationComplete"
        ? true
        : undefined;
    });
  }
  t.comment(
    `every spoke holds a certificate of the new CA ${Math.round(performance.now() - activated)} ms after activation`,
  );
  for (const member of fleet) {
    const secret = await secretOf(member);
    const chain = await verifyChain(secret.chain[0]!, [secret.chain[1]!], new Date());
    t.ok(chain.ok, `${member.name}: tls.crt chains to its issuer`);
    t.equal(secret.issuer, newCa, `${member.name}: the issuer is the new CA`);
    t.ok(secret.trust.includes(newCa), `${member.name}: ca.crt holds the new CA`);
  }

  t.equal(await servingIssuer(), newCa, "the hub serves a certificate of the new CA");
  const servedAt = Date.now();
  for (const member of fleet) {
    await waitFor(`${member.name} syncs with the new serving certificate`, async () => {
      const connection = await member.kube.centralConnections.get(member.name);
      const last = Date.parse(connection?.status?.synchronizationStatus?.lastSuccess ?? "");
      return last > servedAt + 1000 && readyCondition(connection)?.status === "True" ? true : undefined;
    });
  }

  // Replaced certificates stop counting as live after --superseded-grace: no --force needed.
  const retired = await waitFor(
    "ca retire accepted",
    () => ca("retire", oldCa).catch(() => undefined),
    30_000,
  );
  t.match(retired, /retired/);
  for (const member of fleet) {
    await waitFor(`${member.name}: the retired CA leaves the Secret`, async () => {
      const secret = await secretOf(member);
      const connection = await member.kube.centralConnections.get(member.name);
      return secret.trust.join() === newCa &&
        secret.serverCa.join() === newCa &&
        rotating(connection)?.reason === "NoRotation"
        ? true
        : undefined;
    });
  }
  const refused = await curlWith(
    oldCredentials.chain.join(""),
    oldCredentials.keyPem,
    (await secretOf(fleet[0]!)).caPem,
  );
  t.equal(refused.status, 403, "curl with a certificate of the retired CA: 403");
  t.match(refused.body, ErrorMessages.issuerRetired);

  const { ready, rotations, failures } = await sampling.stop();
  t.same(ready, [], "Ready never False");
  for (const member of fleet) {
    const seen = rotations.get(member.name)!;
    const up = seen.findIndex((s) => s.startsWith("True/"));
    t.ok(
      up >= 0 && seen.slice(up + 1).some((s) => s.startsWith("False/")),
      `${member.name}: ${seen.join(" → ")}`,
    );
  }
  fleet.forEach((member, i) => {
    t.same(
      [...new Set(failures.get(member.name))],
      [failedBefore[i]],
      `${member.name}: failed syncs did not move`,
    );
  });
  const events = JSON.parse(
    (await a.plane.kubectl(["get", "events", "-n", "default", "-o", "json"])).stdout,
  ) as {
    items: { reason: string; involvedObject: { name: string } }[];
  };
  const reasons = events.items.filter((e) => e.involvedObject.name === "a1").map((e) => e.reason);
  for (const reason of ["TrustUpdated", "RotationRenewalScheduled", "Renewed", "RotationComplete"])
    t.ok(reasons.includes(reason), `a1 Event ${reason}`);
  const metrics = await (await fetch(spokeA.metricsUrl)).text();
  t.match(metrics, `tether_spoke_certificate_issuer{connection="a1",issuer_sha256="${newCa}"} 1`);
});

t.test("offline past retirement, token-joined: Ready=False IssuerRetired, and no hot loop", async (t) => {
  const member = fleet[1]!;
  const nextCa = sha(await ca("rotate"));
  await waitFor("b1 trusts the next CA", async () =>
    (await secretOf(member)).trust.includes(nextCa) ? true : undefined,
  );
  await spokeB.process.stop();
  const held = await secretOf(member);
  await ca("activate", nextCa);
  await waitFor("a1 on the new CA", async () =>
    (await secretOf(fleet[0]!)).issuer === nextCa ? true : undefined,
  );
  const retired = await ca("retire", held.issuer!, "--force");
  t.match(retired, /retired/);
  t.equal(
    (await curlWith(held.chain.join(""), held.keyPem, (await secretOf(fleet[0]!)).caPem)).status,
    403,
    "b1's certificate is refused",
  );

  spokeB = await startB();
  const refused = await waitFor("b1 Ready=False IssuerRetired", async () => {
    const connection = await member.kube.centralConnections.get("b1");
    return readyCondition(connection)?.reason === "IssuerRetired" ? connection : undefined;
  });
  t.match(readyCondition(refused), {
    status: "False",
    message: /retired the CA.*enrol the cluster again: apply a new CertificateRequest with a fresh token URL/,
  });
  await new Promise((resolve) => setTimeout(resolve, 12_000));
  const later = await member.kube.centralConnections.get("b1");
  t.ok(
    (later?.status?.failedAttempts ?? 0) <= 3,
    `backs off: ${later?.status?.failedAttempts} attempts in ~12 s`,
  );
  await spokeB.process.stop();
});

t.test("offline past retirement, bootstrap-joined: the agent restarts and joins again", async (t) => {
  // Cluster A's agent makes way: one agent per cluster tends its connections.
  await spokeA.process.stop();
  await a.kube.centralConnections.delete("a1");
  const clusterName = "edge-d";
  const secretName = `hub-kubeconfig-${clusterName}`;
  const bootstrapFile = join(dir, "edge-d.kubeconfig");
  // Made before the rotation: it trusts only the CA that serves now.
  await writeFile(bootstrapFile, await bootstrapKubeconfig(hub, clusterName), { mode: 0o600 });
  const options = {
    kubeconfig: a.agentKubeconfig,
    clusterName,
    bootstrapFile,
    bootstrapSecret: "bootstrap-hub-kubeconfig-edge-d",
    hubKubeconfigSecret: secretName,
  };
  const member: Member = { name: clusterName, kube: a.kube, secretNamespace: namespace, spoke: () => spokeA };
  const first = await startAgent(t, options);
  await waitFor("edge-d Ready", async () =>
    readyCondition(await a.kube.centralConnections.get(clusterName))?.status === "True" ? true : undefined,
  );
  const nextCa = sha(await ca("rotate"));
  await waitFor("edge-d trusts the next CA", async () => {
    const secret = await secretOf(member, secretName);
    return secret.trust.includes(nextCa) && secret.serverCa.includes(nextCa) ? true : undefined;
  });
  await first.stop();
  const held = await secretOf(member, secretName);
  await ca("activate", nextCa);
  await ca("retire", held.issuer!, "--force");
  t.equal(await servingIssuer(), nextCa, "the hub serves from a CA the bootstrap kubeconfig does not know");

  const second = await startAgent(t, options);
  const restart = await second.waitForEntry(
    "the restart for a retired issuer",
    (entry) => entry.msg.startsWith("restarting: ") && entry.reason === "IssuerRetired",
    90_000,
  );
  t.equal(restart.run, 1);
  const decided = await second.waitForEntry(
    "the start-up decision of run 2",
    (e) => e.run === 2 && /^hub kubeconfig is/.test(e.msg),
  );
  t.match(decided, { reason: "IssuerRetired", msg: /not valid, bootstrapping/ });
  await second.waitForEntry("joined again", (e) => e.run === 2 && e.msg.startsWith("joined the hub "));
  await waitFor("edge-d Ready on the new CA", async () => {
    const connection = await a.kube.centralConnections.get(clusterName);
    return readyCondition(connection)?.status === "True" &&
      (await secretOf(member, secretName)).issuer === nextCa
      ? true
      : undefined;
  });
  t.equal(certificateInfo((await secretOf(member, secretName)).chain[0]!).subject.CN, clusterName);
  await second.stop();
});
