/**
 * Two spoke replicas against a real control plane and hub: only the Lease holder acts; killing it
 * (SIGKILL: no release) hands over once its term has run out, never before; no certificate is issued twice.
 * Prints the hand-over time.
 */
import t from "tap";
import { certificateInfo } from "@tether/shared/pki";
import {
  certificateRequest,
  cluster,
  decode,
  eventually,
  namespace,
  readyCondition,
  startHub,
  startSpoke,
} from "./spoke-helpers.ts";

const c = await cluster(t);
const hub = await startHub(t);
const holder = async () => (await c.kube.leases.get(namespace, "tether-spoke"))?.spec?.holderIdentity;
const replica = (identity: string) =>
  startSpoke(t, { kubeconfig: c.agentKubeconfig, hub, identity, args: ["--sync-period", "5s"] });

interface RuntimeView {
  certificates: { serial: string; kind: string }[];
}

t.test(
  "only the leader acts; killing it hands over once its term has run out; nothing is issued twice",
  async (t) => {
    const a = await replica("spoke-a");
    await eventually(
      "spoke-a holds the Lease",
      async () => ((await holder()) === "spoke-a" ? true : undefined),
      30_000,
    );
    const b = await replica("spoke-b");
    await b.process.waitForLog(/tether spoke agent started/);

    await c.plane.apply(certificateRequest("ha", await hub.tokenUrl(), hub.caPem));
    const ready = await eventually("ha Ready", async () => {
      const found = await c.kube.centralConnections.get("ha");
      return readyCondition(found)?.status === "True" ? found : undefined;
    });
    t.match(a.process.logs(), /controllers started/, "a runs the controllers");
    t.notMatch(b.process.logs(), /controllers started/, "b only waits");
    t.notMatch(b.process.logs(), /certificate issued/);

    const secret = await c.kube.secrets.get(namespace, "ha-hub-credentials");
    const runtimeId = certificateInfo(decode(secret?.data?.["tls.crt"])).subject.CN;
    const runtime = async () => (await hub.admin("GET", `/v1/runtimes/${runtimeId}`)) as RuntimeView;
    t.equal((await runtime()).certificates.length, 1, "issued once");

    const killedAt = performance.now();
    await a.process.stop({ signal: "SIGKILL" });
    // A's last word: the renewTime it wrote before it died (nothing writes the Lease until B takes it).
    const lastRenewal = (await c.kube.leases.get(namespace, "tether-spoke"))?.spec;
    await eventually(
      "spoke-b holds the Lease",
      async () => ((await holder()) === "spoke-b" ? true : undefined),
      40_000,
      b.process,
    );
    console.log(
      `# leader killed → standby holds the Lease: ${((performance.now() - killedAt) / 1000).toFixed(1)} s (lease duration 15 s)`,
    );
    // Safety, not speed: B may take the Lease only once A's term has run out, or two leaders act.
    const taken = (await c.kube.leases.get(namespace, "tether-spoke"))?.spec;
    t.equal(lastRenewal?.holderIdentity, "spoke-a");
    t.equal(taken?.leaseTransitions, (lastRenewal?.leaseTransitions ?? 0) + 1, "one transition");
    const termEnd =
      new Date(lastRenewal?.renewTime ?? 0).getTime() + (lastRenewal?.leaseDurationSeconds ?? 0) * 1000;
    t.ok(
      new Date(taken?.acquireTime ?? 0).getTime() >= termEnd,
      "b acquired the Lease no earlier than a's last renewal + the lease duration",
    );

    await c.plane.kubectl([
      "patch",
      "centralconnection",
      "ha",
      "--type",
      "merge",
      "-p",
      '{"spec":{"renewNow":true}}',
    ]);
    await eventually("renewal by the new leader", async () => {
      const found = await c.kube.centralConnections.get("ha");
      return found?.spec.renewNow === false &&
        found.status?.certificateStatus?.serialNumber !== ready.status?.certificateStatus?.serialNumber
        ? true
        : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const certificates = (await runtime()).certificates;
    t.same(
      certificates.map((cert) => cert.kind).sort(),
      ["initial", "renewal"],
      "one initial, one renewal: nothing twice",
    );
    t.equal(new Set(certificates.map((cert) => cert.serial)).size, 2);

    const stopped = await b.process.stop({ timeoutMs: 15_000 });
    t.same(stopped, { code: 0, signal: null }, "graceful shutdown");
    t.equal(await holder(), "", "the Lease is released for the next replica");
    for (const r of [a, b]) {
      t.equal(r.process.logs().match(/became the leader/g)?.length, 1, `${r.identity} led one term`);
    }
  },
);
