/**
 * The control plane harness against a real etcd + kube-apiserver: the API answers, the spoke's CRDs
 * from charts/ work with their status subresource and validation, Secrets can be watched, RBAC is
 * enforced for service accounts, and nothing is left behind however the test process ends.
 */
import { CoreV1Api, Watch } from "@kubernetes/client-node";
import { existsSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import t from "tap";
import {
  ensureKubeBinaries,
  isAlive,
  sharedControlPlane,
  spokeCrdDir,
  startControlPlane,
  startProcess,
} from "@tether/e2e/harness";
import type { ControlPlane, StartTimings } from "@tether/e2e/harness";

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function describeStart(label: string, timings: StartTimings): string {
  const binaries = timings.binariesCached
    ? "binaries cached"
    : `binaries installed/built in ${seconds(timings.binariesMs)}`;
  return `control plane start: ${seconds(timings.totalMs)} (${label}; ${binaries}; etcd + kube-apiserver ready in ${seconds(timings.readyMs)})`;
}

async function eventually(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return check();
}

// The tests read fields of whatever the API returns; the assertions check them.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function getJson(plane: ControlPlane, args: string[]): Promise<any> {
  return JSON.parse((await plane.kubectl(["get", ...args, "-o", "json"])).stdout);
}

const plane = await sharedControlPlane(t);
console.log(describeStart("cold: first in this process", plane.timings));
// The script again, with everything in place: what every later test file pays for it.
const cachedScript = await ensureKubeBinaries({});
console.log(`ensure-kube-binaries: ${seconds(cachedScript.elapsedMs)} (cached: ${cachedScript.cached})`);

t.test("kubectl talks to the API server", async (t) => {
  const version = await plane.kubectl(["version"]);
  t.match(version.stdout, /Server Version: v1\.33\.\d+/);
  const resources = await plane.kubectl(["api-resources"]);
  t.match(resources.stdout, /^secrets\s+v1\s+true\s+Secret$/m);
  t.match(resources.stdout, /^roles\s+rbac\.authorization\.k8s\.io\/v1\s+true\s+Role$/m);
});

t.test("the spoke's CRDs from charts/ are established and round-trip", async (t) => {
  const names = await plane.installCrds();
  t.same(names.sort(), ["centralconnections.tether.dev", "certificaterequests.tether.dev"]);
  // apply() takes a path too; applying the same CRD again changes nothing.
  const again = await plane.apply(join(spokeCrdDir, "certificaterequests.tether.dev.yaml"));
  t.match(again, /certificaterequests\.tether\.dev unchanged/);
  await plane.waitForCrdsEstablished(names);
  const resources = (await plane.kubectl(["api-resources", "--api-group=tether.dev"])).stdout;
  t.match(resources, /^certificaterequests\s+tcr\s+tether\.dev\/v1alpha1\s+false\s+CertificateRequest$/m);
  t.match(resources, /^centralconnections\s+tcc\s+tether\.dev\/v1alpha1\s+false\s+CentralConnection$/m);

  t.test("CertificateRequest: spec, status subresource, validation", async (t) => {
    const url = "https://hub.example/v1/runtimes/signingRequests/info?token=abc";
    await plane.apply({
      apiVersion: "tether.dev/v1alpha1",
      kind: "CertificateRequest",
      metadata: { name: "cr-one" },
      spec: { csrInfoUrl: url, caBundle: Buffer.from("-----BEGIN CERTIFICATE-----").toString("base64") },
    });
    t.equal((await getJson(plane, ["tcr", "cr-one"])).spec.csrInfoUrl, url);

    await plane.kubectl([
      "patch",
      "tcr",
      "cr-one",
      "--subresource=status",
      "--type=merge",
      "-p",
      '{"status":{"error":"hub unreachable"}}',
    ]);
    t.equal((await getJson(plane, ["tcr", "cr-one"])).status.error, "hub unreachable");
    // Through the main resource, status is ignored: only the status subresource writes it.
    await plane.kubectl([
      "patch",
      "tcr",
      "cr-one",
      "--type=merge",
      "-p",
      '{"status":{"error":"overwritten"}}',
    ]);
    t.equal((await getJson(plane, ["tcr", "cr-one"])).status.error, "hub unreachable");
    // A spec edit keeps the status.
    await plane.kubectl(["patch", "tcr", "cr-one", "--type=merge", "-p", '{"spec":{"caBundle":"Zm9v"}}']);
    const edited = await getJson(plane, ["tcr", "cr-one"]);
    t.same([edited.spec.caBundle, edited.status.error], ["Zm9v", "hub unreachable"]);
    t.match(
      (await plane.kubectl(["get", "tcr", "cr-one"])).stdout,
      /^NAME\s+ERROR\s+AGE\ncr-one\s+hub unreachable\s+\S+$/m,
    );

    const bad = await plane.kubectl(["apply", "-f", "-"], {
      allowFailure: true,
      input: JSON.stringify({
        apiVersion: "tether.dev/v1alpha1",
        kind: "CertificateRequest",
        metadata: { name: "cr-bad" },
        spec: { csrInfoUrl: "http://hub.example/v1/runtimes/signingRequests/info?token=abc" },
      }),
    });
    t.not(bad.code, 0);
    t.match(bad.stderr, /spec\.csrInfoUrl.*should match '\^https:\/\/'/);
    const missing = await plane
      .apply({
        apiVersion: "tether.dev/v1alpha1",
        kind: "CertificateRequest",
        metadata: { name: "cr-empty" },
        spec: {},
      })
      .catch((e: Error) => e.message);
    t.match(missing, /spec\.csrInfoUrl: Required value/);
  });

  t.test("CentralConnection: defaults, status with conditions, printer columns, validation", async (t) => {
    await plane.apply({
      apiVersion: "tether.dev/v1alpha1",
      kind: "CentralConnection",
      metadata: { name: "conn-one" },
      spec: {
        managementInfoUrl: "https://hub.example/v1/runtimes/management/info",
        establishedAt: "2026-11-23T10:00:00Z",
        secretRef: { name: "conn-one-hub-credentials", namespace: "tether-system" },
      },
    });
    const created = await getJson(plane, ["tcc", "conn-one"]);
    t.same(created.spec.renewal, { enabled: true, renewAfterFraction: 0.66 }, "renewal defaults apply");

    const status = {
      certificateStatus: {
        notBefore: "2026-11-23T09:55:00Z",
        notAfter: "2026-12-23T10:00:00Z",
        renewalTime: "2026-12-13T10:00:00Z",
        serialNumber: "0A1B2C3D4E5F6071",
        sha256: "a".repeat(64),
      },
      synchronizationStatus: { lastSync: "2026-11-23T10:01:00Z", lastSuccess: "2026-11-23T10:01:00Z" },
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "Synchronized",
          message: "hub answered",
          lastTransitionTime: "2026-11-23T10:01:00Z",
          observedGeneration: 1,
        },
        {
          type: "Issuing",
          status: "False",
          reason: "UpToDate",
          message: "",
          lastTransitionTime: "2026-11-23T10:01:00Z",
        },
      ],
      failedAttempts: 0,
    };
    await plane.kubectl([
      "patch",
      "tcc",
      "conn-one",
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status }),
    ]);
    t.same((await getJson(plane, ["tcc", "conn-one"])).status, status);
    const table = (await plane.kubectl(["get", "tcc", "conn-one"])).stdout;
    t.match(
      table,
      /^NAME\s+READY\s+NOTAFTER\s+LASTSUCCESS\s+AGE\nconn-one\s+True\s+2026-12-23T10:00:00Z\s+\S+\s+\S+$/m,
    );

    const badStatus = await plane.kubectl(
      [
        "patch",
        "tcc",
        "conn-one",
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"conditions":[{"type":"Ready","status":"Maybe","reason":"X","message":"","lastTransitionTime":"2026-11-23T10:01:00Z"}],"failedAttempts":-1}}',
      ],
      { allowFailure: true },
    );
    t.match(badStatus.stderr, /Unsupported value: "Maybe"/);
    t.match(badStatus.stderr, /failedAttempts: Invalid value: -1/);
    const badSpec = await plane.kubectl(
      [
        "patch",
        "tcc",
        "conn-one",
        "--type=merge",
        "-p",
        '{"spec":{"renewal":{"renewAfterFraction":0.99,"renewIntervalDays":0},"secretRef":{"name":"Not_A_Name","namespace":"ns"}}}',
      ],
      { allowFailure: true },
    );
    t.match(
      badSpec.stderr,
      /renewAfterFraction: Invalid value: 0\.99: spec\.renewal\.renewAfterFraction in body should be less than or equal to 0\.95/,
    );
    t.match(badSpec.stderr, /renewIntervalDays: Invalid value: 0/);
    t.match(badSpec.stderr, /secretRef\.name: Invalid value: "Not_A_Name"/);
  });
});

t.test("a Secret can be created and watched", async (t) => {
  await plane.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: "watch-test" } });
  const config = plane.clientConfig();
  const seen: string[] = [];
  let sawCreated: () => void = () => {};
  const created = new Promise<void>((resolve) => (sawCreated = resolve));
  const controller = await new Watch(config).watch(
    "/api/v1/namespaces/watch-test/secrets",
    {},
    (phase, object: { metadata?: { name?: string } }) => {
      seen.push(`${phase} ${object.metadata?.name}`);
      if (phase === "ADDED" && object.metadata?.name === "watched") sawCreated();
    },
    () => {},
  );
  t.teardown(() => controller.abort());
  await config.makeApiClient(CoreV1Api).createNamespacedSecret({
    namespace: "watch-test",
    body: { metadata: { name: "watched" }, type: "Opaque", stringData: { key: "value" } },
  });
  await created;
  t.same(seen, ["ADDED watched"]);
});

t.test("RBAC: a service account gets what its Role grants and nothing else", async (t) => {
  const sa = await plane.serviceAccount("rbac-test", "agent");
  t.equal(sa.user, "system:serviceaccount:rbac-test:agent");
  await plane.apply([
    { apiVersion: "v1", kind: "Namespace", metadata: { name: "rbac-other" } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: "read-secrets", namespace: "rbac-test" },
      rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"] }],
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: "agent-reads-secrets", namespace: "rbac-test" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "read-secrets" },
      subjects: [{ kind: "ServiceAccount", name: "agent", namespace: "rbac-test" }],
    },
  ]);
  const asAgent = { kubeconfig: sa.kubeconfigPath, allowFailure: true };
  t.equal(
    (await plane.kubectl(["get", "secrets", "-n", "rbac-test"], asAgent)).code,
    0,
    "granted: list secrets",
  );
  const create = await plane.kubectl(["create", "secret", "generic", "x", "-n", "rbac-test"], asAgent);
  t.match(
    create.stderr,
    /secrets is forbidden: User "system:serviceaccount:rbac-test:agent" cannot create resource "secrets"/,
  );
  const other = await plane.kubectl(["get", "secrets", "-n", "rbac-other"], asAgent);
  t.match(other.stderr, /cannot list resource "secrets" in API group "" in the namespace "rbac-other"/);
  // The same answers through impersonation, as chart RBAC checks do it.
  const impersonated = { as: sa.user, allowFailure: true };
  t.equal(
    (
      await plane.kubectl(["auth", "can-i", "watch", "secrets", "-n", "rbac-test"], impersonated)
    ).stdout.trim(),
    "yes",
  );
  const byAccount = { asServiceAccount: { namespace: "rbac-test", name: "agent" }, allowFailure: true };
  t.equal((await plane.kubectl(["auth", "can-i", "list", "secrets", "-n", "rbac-test"], byAccount)).code, 0);
  const secondKubeconfig = await plane.serviceAccountKubeconfig("rbac-test", "agent");
  const denied = await plane.kubectl(["get", "secrets", "-n", "rbac-other"], {
    kubeconfig: secondKubeconfig,
    allowFailure: true,
  });
  t.match(denied.stderr, /forbidden/, "a fresh token kubeconfig is the same account");
  const canI = async (...args: string[]): Promise<string> =>
    (await plane.kubectl(["auth", "can-i", ...args], impersonated)).stdout.trim();
  t.equal(await canI("get", "secrets", "-n", "rbac-test"), "yes");
  t.equal(await canI("delete", "secrets", "-n", "rbac-test"), "no");
  t.equal(await canI("create", "secrets", "-n", "rbac-test"), "no");
  t.equal(await canI("get", "secrets", "-n", "rbac-other"), "no");
  // The service account's own token asks the same question of the API server (SelfSubjectAccessReview).
  t.equal(
    (await plane.kubectl(["auth", "can-i", "create", "secrets", "-n", "rbac-test"], asAgent)).stdout.trim(),
    "no",
  );
  // And through client-node with the service account's own token.
  const core = plane.clientConfig(sa.kubeconfig).makeApiClient(CoreV1Api);
  t.equal((await core.listNamespacedSecret({ namespace: "rbac-test" })).kind, "SecretList");
  await t.rejects(core.listNamespacedSecret({ namespace: "rbac-other" }), { code: 403 });
});

t.test("stop leaves no process and no temp dir (warm start)", async (t) => {
  const second = await startControlPlane();
  console.log(describeStart("warm: second in this process", second.timings));
  t.ok(isAlive(second.pids.etcd) && isAlive(second.pids.kubeApiserver) && existsSync(second.dir));
  await second.stop();
  t.notOk(isAlive(second.pids.etcd), "etcd is gone");
  t.notOk(isAlive(second.pids.kubeApiserver), "kube-apiserver is gone");
  t.notOk(existsSync(second.dir), "temp dir removed");
  await second.stop();
});

t.test("an interrupted or killed test process leaves nothing behind", async (t) => {
  const fixture = join(import.meta.dirname, "fixtures", "hold-control-plane.ts");
  const signals = ["SIGTERM", "SIGKILL"] as const;
  // Both holders start their control planes at once: start-up is most of this test's time.
  const holders = signals.map((signal) =>
    startProcess({ name: `holder-${signal}`, cmd: process.execPath, args: [fixture], t }),
  );
  const ready = await Promise.all(holders.map((h) => h.waitForLog(/^\{"ready":true.*\}$/m, 120_000)));
  signals.forEach((signal, i) => {
    t.test(`${signal} to the test process`, async (t) => {
      const holder = holders[i]!;
      const { pids, dir } = JSON.parse(ready[i]![0]) as { pids: ControlPlane["pids"]; dir: string };
      t.ok(isAlive(pids.etcd) && isAlive(pids.kubeApiserver) && existsSync(dir));
      const exit = await holder.stop({ signal });
      // Re-raised, or (when tap's signal-exit also listens) exit code 128 + signal number.
      const ended = exit.signal === signal || exit.code === 128 + constants.signals[signal];
      t.ok(ended, `ended by ${signal}: ${JSON.stringify(exit)}`);
      // SIGTERM: the handler cleans up at once. SIGKILL: the watchdog notices within a second or two.
      const gone = () => !isAlive(pids.etcd) && !isAlive(pids.kubeApiserver) && !existsSync(dir);
      t.ok(await eventually(gone, 10_000), "etcd, kube-apiserver and the temp dir are gone");
    });
  });
});

t.test("startProcess captures logs, waits for them and reports exits", async (t) => {
  const script =
    'console.log("listening on 8443"); console.error("warn: x"); setTimeout(() => process.exit(3), 300)';
  const proc = startProcess({ name: "child", cmd: process.execPath, args: ["-e", script], t });
  const match = await proc.waitForLog(/listening on (\d+)/);
  t.equal(match[1], "8443");
  t.same(await proc.exited, { code: 3, signal: null });
  t.match(proc.logs(), /warn: x/);
  await t.rejects(proc.waitForLog(/never/), /child exited \(code 3\) before logging \/never\//);

  const sleeper = startProcess({ name: "sleeper", cmd: "sh", args: ["-c", "sleep 60 & wait"] });
  t.ok(sleeper.running());
  t.same(await sleeper.stop(), { code: null, signal: "SIGTERM" });
});

t.test("a failing binaries step says which step failed and why", async (t) => {
  await t.rejects(
    ensureKubeBinaries({
      TETHER_KUBE_VERSION: "v1.33.0",
      TETHER_CACHE_DIR: join(plane.dir, "empty-cache"),
      GOPROXY_BASE: "http://127.0.0.1:1",
    }),
    /ensure-kube-binaries\.sh failed \(exit 1\)[\s\S]*FAILED at step "kube-apiserver": could not download http:\/\/127\.0\.0\.1:1\//,
  );
});
