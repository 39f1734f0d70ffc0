/**
 * The Helm charts in charts/ as an operator meets them: they lint and render with every interesting
 * value set, refuse the combinations that cannot work with a reason, validate offline, carry a value
 * for every hub and spoke flag (which the real config parsers accept), install and upgrade on a real
 * kube-apiserver (the generated CA and admin token survive the upgrade), pass a server-side dry run
 * with strict field validation, and give the spoke exactly the permissions it needs (impersonation).
 * The chart's own CA, admin token, arguments and NODE_OPTIONS start a real hub from the bundle the
 * image ships. Last, the Dockerfiles run here (no Docker engine on this machine): the build stage
 * bundles, and the runtime stage's bundle alone, with no node_modules, starts.
 */
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { parseAllDocuments } from "yaml";
import { freePorts, programPath, repoRoot, sharedControlPlane, startProcess } from "@tether/e2e/harness";
import { parseConfig as parseHubConfig } from "../../packages/hub/src/config.ts";
import { parseConfig as parseSpokeConfig } from "../../packages/spoke/src/config.ts";
import {
  container,
  find,
  flagsFromHelp,
  helm,
  helmWithValues,
  render,
  secretValue,
  type KubeObject,
} from "./charts/helm.ts";
import { performBuildStage, performRuntimeStage, readDockerfile } from "./charts/dockerfile.ts";
import { validateOffline } from "./charts/validate.ts";

type Chart = "hub" | "spoke";

const hubValueSets: Record<string, object> = {
  "defaults (SQLite, generated CA and admin token)": {},
  "3 replicas on PostgreSQL, every credential from an existing Secret": {
    replicaCount: 3,
    store: { postgres: { existingSecret: "hub-db" } },
    ca: { existingSecret: "hub-ca" },
    adminToken: { existingSecret: "hub-admin" },
    caKek: { existingSecret: "hub-kek", mount: "env" },
    servingCertificate: { existingSecret: "hub-tls", caKey: "ca.crt" },
    hub: { publicUrl: "https://hub.example.com", logLevel: "warn" },
    service: { type: "LoadBalancer", loadBalancerSourceRanges: ["10.0.0.0/8"] },
  },
  "2 replicas, PostgreSQL URL as a value, extra SANs": {
    replicaCount: 2,
    store: { postgres: { url: "postgres://tether:secret@db:5432/tether" } },
    hub: { sans: ["hub.internal", "10.1.2.3"] },
  },
  "SQLite on a PersistentVolumeClaim": { persistence: { enabled: true, storageClass: "fast", size: "5Gi" } },
};

const bootstrapKubeconfig = "apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n";
const spokeValueSets: Record<string, object> = {
  "defaults (token flow only)": {},
  "bootstrap kubeconfig from a value, hub CA as PEM, 2 replicas": {
    replicaCount: 2,
    bootstrap: { enabled: true, clusterName: "cluster-1", kubeconfig: bootstrapKubeconfig },
    hubCa: { pem: "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----" },
  },
  "bootstrap from an existing Secret, a kubeconfig for the cluster, hub CA ConfigMap": {
    bootstrap: { enabled: true, clusterName: "cluster-2", secretName: "my-bootstrap" },
    kubeconfig: { existingSecret: "target-cluster" },
    hubCa: { existingConfigMap: "hub-ca" },
    spoke: { leaderElect: true, syncPeriod: "5m" },
    rollout: { namespaces: ["team-a", "team-b"] },
  },
};

const valueSets: Record<Chart, Record<string, object>> = { hub: hubValueSets, spoke: spokeValueSets };
const hubNamespace = "tether-hub";
const spokeNamespace = "tether-system";
const namespaceOf = (chart: Chart) => (chart === "hub" ? hubNamespace : spokeNamespace);

const renders = new Map<string, KubeObject[]>();
async function rendered(chart: Chart, set: string): Promise<KubeObject[]> {
  const key = `${chart}/${set}`;
  let objects = renders.get(key);
  if (!objects) {
    const values = valueSets[chart][set] ?? {};
    objects = (await render(chart, values, namespaceOf(chart))).objects;
    renders.set(key, objects);
  }
  return objects;
}

/** `--name=value` arguments as a map; repeated flags keep every value. */
function argMap(args: string[]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const arg of args) {
    const match = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(arg);
    if (match?.[1]) map.set(match[1], [...(map.get(match[1]) ?? []), match[2] ?? ""]);
  }
  return map;
}

/** The flags a container receives as arguments or as environment (`TETHER_HUB_STORE` is --store). */
function flagsGiven(objects: KubeObject[], envPrefix: string): Set<string> {
  const c = container(objects);
  const fromEnv = (c.env ?? [])
    .map((e) => e.name)
    .filter((name) => name.startsWith(envPrefix))
    .map((name) => name.slice(envPrefix.length).toLowerCase().replaceAll("_", "-"));
  return new Set([...argMap(c.args).keys(), ...fromEnv]);
}

/** The container's environment with Secret references replaced by stand-ins, as the pod would see it. */
function containerEnv(objects: KubeObject[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container(objects).env ?? []) {
    env[e.name] = e.value ?? (e.name.endsWith("STORE") ? "postgres://tether:x@db/tether" : "from-a-secret");
  }
  return env;
}

t.test("helm lint --strict passes for both charts with every value set", async (t) => {
  for (const chart of ["hub", "spoke"] as const) {
    for (const [set, values] of Object.entries(valueSets[chart])) {
      const result = await helmWithValues(["lint", "--strict"], chart, values);
      t.equal(result.code, 0, `${chart}: ${set}`, { output: result.stdout + result.stderr });
    }
  }
});

t.test("every value set renders manifests that validate offline and run locked down", async (t) => {
  for (const chart of ["hub", "spoke"] as const) {
    for (const set of Object.keys(valueSets[chart])) {
      const objects = await rendered(chart, set);
      t.same(validateOffline(objects), [], `${chart}: ${set}: valid against the Kubernetes schemas`);
      const pod = find(objects, "Deployment").spec.template.spec;
      const c = container(objects);
      t.match(
        { pod: pod.securityContext, container: c.securityContext },
        {
          pod: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: "RuntimeDefault" } },
          container: {
            readOnlyRootFilesystem: true,
            allowPrivilegeEscalation: false,
            capabilities: { drop: ["ALL"] },
          },
        },
        `${chart}: ${set}: non-root, read-only root, no capabilities, RuntimeDefault seccomp`,
      );
      t.ok(c.resources?.requests?.memory && c.resources?.limits?.memory, `${chart}: ${set}: resources`);
    }
  }
  const offline = await render("spoke", {}, spokeNamespace);
  t.notOk(
    offline.objects.some((o) => o.kind === "CustomResourceDefinition"),
    "CRDs stay in crds/ (installed by helm install, not templated)",
  );
});

t.test("the charts refuse value combinations that cannot work, and say why", async (t) => {
  const refusals: [Chart, object, RegExp][] = [
    [
      "hub",
      { replicaCount: 3 },
      /replicaCount is 3, but more than one hub replica needs the PostgreSQL store/,
    ],
    [
      "hub",
      { store: { postgres: { url: "postgres://a@b/c", existingSecret: "db" } } },
      /store\.postgres\.existingSecret and store\.postgres\.url are both set/,
    ],
    [
      "hub",
      { store: { postgres: { url: "mysql://a@b/c" } } },
      /must be a postgres:\/\/ or postgresql:\/\/ URL/,
    ],
    [
      "hub",
      { replicaCount: 2, store: { postgres: { existingSecret: "db" } }, persistence: { enabled: true } },
      /a ReadWriteOnce volume cannot be shared by several hub pods/,
    ],
    ["hub", { hub: { publicUrl: "http://hub.example.com" } }, /hub\.publicUrl must start with https:\/\//],
    ["spoke", { bootstrap: { enabled: true } }, /bootstrap\.enabled needs bootstrap\.clusterName/],
    [
      "spoke",
      { bootstrap: { kubeconfig: "x" } },
      /bootstrap\.kubeconfig is set but bootstrap\.enabled is false/,
    ],
    [
      "spoke",
      { replicaCount: 2, spoke: { leaderElect: false } },
      /replicaCount is 2 with spoke\.leaderElect=false/,
    ],
  ];
  for (const [chart, values, message] of refusals) {
    const result = await helmWithValues(["template", `tether-${chart}`], chart, values);
    t.not(result.code, 0, `${chart} ${JSON.stringify(values)} is refused`);
    t.match(result.stderr, message);
  }
});

t.test("every hub flag has a value, and the hub's own parser accepts what the chart renders", async (t) => {
  const flags = await flagsFromHelp("packages/hub/src/cli.ts", /^serve flags:/m);
  t.ok(
    flags.includes("public-url") && flags.includes("subject-country"),
    `--help lists ${flags.length} flags`,
  );
  const given = new Set<string>();
  for (const set of Object.keys(hubValueSets)) {
    const objects = await rendered("hub", set);
    for (const flag of flagsGiven(objects, "TETHER_HUB_")) given.add(flag);
    const args = container(objects).args;
    t.equal(args[0], "serve");
    t.doesNotThrow(
      () => parseHubConfig(args.slice(1), containerEnv(objects)),
      `${set}: parseConfig accepts it`,
    );
  }
  t.same(
    flags.filter((flag) => !given.has(flag)),
    [],
    "no serve flag is left without a value in charts/hub",
  );

  const changed = await render(
    "hub",
    {
      hub: {
        publicUrl: "https://hub.example.com:9443",
        keyAlgorithm: "ecdsa-p384",
        certValidity: "7d",
        tokenTtl: "5m",
        rateLimit: 5,
        internalAuth: "none",
        subject: { locality: "Paris", province: "IDF", country: "FR" },
      },
    },
    hubNamespace,
  );
  const config = parseHubConfig(container(changed.objects).args.slice(1), containerEnv(changed.objects));
  t.match(
    config,
    {
      publicUrl: "https://hub.example.com:9443",
      keyAlgorithm: "ecdsa-p384",
      certValidityMs: 7 * 86_400_000,
      tokenTtlMs: 5 * 60_000,
      rateLimit: { max: 5 },
      internalAuth: "none",
      subject: { locality: "Paris", province: "IDF", country: "FR" },
      listen: { host: "0.0.0.0", port: 8443 },
      internalListen: { host: "0.0.0.0", port: 8080 },
      caCert: "/etc/tether-hub/ca/tls.crt",
      adminToken: "from-a-secret",
    },
    "values reach the hub's configuration",
  );

  const ha = await rendered("hub", "3 replicas on PostgreSQL, every credential from an existing Secret");
  const haConfig = parseHubConfig(container(ha).args.slice(1), containerEnv(ha));
  t.match(haConfig, {
    store: /^postgres:\/\//,
    tlsCert: "/etc/tether-hub/tls/tls.crt",
    tlsCa: "/etc/tether-hub/tls/ca.crt",
  });
  t.equal(find(ha, "Deployment").spec.replicas, 3);
  t.equal(find(ha, "Deployment").spec.strategy.type, "RollingUpdate");
  t.notOk(
    ha.some((o) => o.kind === "Secret"),
    "existing Secrets only: the chart creates none",
  );
  const volumes = find(ha, "Deployment").spec.template.spec.volumes as { name: string; secret?: object }[];
  t.match(volumes, [
    { name: "data", emptyDir: {} },
    { name: "ca", secret: { secretName: "hub-ca" } },
    { name: "tls", secret: { secretName: "hub-tls" } },
  ]);
  const sqlite = await rendered("hub", "defaults (SQLite, generated CA and admin token)");
  t.equal(find(sqlite, "Deployment").spec.strategy.type, "Recreate", "one SQLite writer at a time");
  t.match(container(sqlite), {
    livenessProbe: { httpGet: { path: "/healthz", port: "internal" } },
    readinessProbe: { httpGet: { path: "/readyz", port: "internal" } },
  });
  const pvc = await rendered("hub", "SQLite on a PersistentVolumeClaim");
  t.match(find(pvc, "PersistentVolumeClaim").spec, {
    storageClassName: "fast",
    resources: { requests: { storage: "5Gi" } },
  });
});

t.test(
  "every spoke flag has a value, and the spoke's own parser accepts what the chart renders",
  async (t) => {
    const flags = await flagsFromHelp("packages/spoke/src/cli.ts", /^flags/m);
    t.ok(
      flags.includes("cluster-name") && flags.includes("cert-health-period"),
      `--help lists ${flags.length} flags`,
    );
    const given = new Set<string>();
    for (const set of Object.keys(spokeValueSets)) {
      const objects = await rendered("spoke", set);
      for (const flag of flagsGiven(objects, "TETHER_SPOKE_")) given.add(flag);
      const args = container(objects).args;
      t.equal(args[0], "run");
      t.doesNotThrow(() => parseSpokeConfig(args.slice(1), {}), `${set}: parseConfig accepts it`);
    }
    t.same(
      flags.filter((flag) => !given.has(flag)),
      [],
      "no run flag is left without a value in charts/spoke",
    );

    const objects = await rendered("spoke", "bootstrap kubeconfig from a value, hub CA as PEM, 2 replicas");
    const c = container(objects);
    const config = parseSpokeConfig(c.args.slice(1), {});
    t.match(config, {
      namespace: spokeNamespace,
      leaderElect: true,
      healthAddr: ":8081",
      metricsAddr: ":8080",
      hubCaFile: "/etc/tether-spoke/hub-ca/ca.crt",
      bootstrap: {
        kubeconfigFile: "/etc/tether-spoke/bootstrap/kubeconfig",
        kubeconfigSecret: "bootstrap-hub-kubeconfig",
        clusterName: "cluster-1",
        hubKubeconfigSecret: "hub-kubeconfig-secret",
        certHealthPeriodMs: 30_000,
      },
    });
    t.equal(secretValue(objects, "bootstrap-hub-kubeconfig", "kubeconfig"), bootstrapKubeconfig);
    t.match(c.volumeMounts, [
      {},
      { name: "hub-ca", readOnly: true },
      { name: "bootstrap-kubeconfig", readOnly: true },
    ]);
    t.match(find(objects, "Deployment").spec.template.spec.volumes, [
      {},
      { configMap: {} },
      { name: "bootstrap-kubeconfig", secret: { secretName: "bootstrap-hub-kubeconfig" } },
    ]);
    t.match(c.env, [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }]);
    t.match(c, {
      livenessProbe: { httpGet: { path: "/livez", port: "health" } },
      readinessProbe: { httpGet: { path: "/readyz", port: "health" } },
      ports: [
        { name: "metrics", containerPort: 8080 },
        { name: "health", containerPort: 8081 },
      ],
    });
    t.match(find(objects, "Service").spec.ports, [{ name: "metrics", port: 8080, targetPort: "metrics" }]);

    const existing = await rendered(
      "spoke",
      "bootstrap from an existing Secret, a kubeconfig for the cluster, hub CA ConfigMap",
    );
    t.notOk(
      existing.some((o) => o.kind === "Secret"),
      "an existing bootstrap Secret is used, not created",
    );
    t.match(parseSpokeConfig(container(existing).args.slice(1), {}), {
      kubeconfig: "/etc/tether-spoke/kubeconfig/kubeconfig",
      bootstrap: { kubeconfigSecret: "my-bootstrap", clusterName: "cluster-2" },
    });
  },
);

t.test("the spoke chart's RBAC is the agent's reference RBAC", async (t) => {
  const fixture = parseAllDocuments(
    await readFile(join(repoRoot, "packages/spoke/test/fixtures/rbac.yaml"), "utf8"),
  ).map((doc) => doc.toJS() as KubeObject);
  const objects = await rendered("spoke", "defaults (token flow only)");
  const rules = (list: KubeObject[], kind: string, namespace?: string, suffix = "") =>
    list.find(
      (o) =>
        o.kind === kind &&
        o.metadata.namespace === namespace &&
        o.metadata.name.endsWith(`tether-spoke${suffix}`),
    )?.rules as object[];
  t.same(rules(objects, "ClusterRole"), rules(fixture, "ClusterRole"), "ClusterRole: the CRs");
  t.same(
    rules(objects, "Role", spokeNamespace),
    rules(fixture, "Role", "tether-system"),
    "Role: Secrets, Leases",
  );
  t.same(
    rules(objects, "Role", spokeNamespace, "-rollout"),
    rules(fixture, "Role", "tether-system", "-rollout"),
    "Role: the workloads that opt in to a rollout, and their Events",
  );
  const withRollout = await rendered(
    "spoke",
    "bootstrap from an existing Secret, a kubeconfig for the cluster, hub CA ConfigMap",
  );
  t.same(
    withRollout
      .filter((o) => o.kind === "Role" && o.metadata.name.endsWith("-rollout"))
      .map((o) => o.metadata.namespace)
      .sort(),
    ["team-a", "team-b", spokeNamespace],
    "a rollout Role in the release namespace and in each of rollout.namespaces",
  );
  t.match(parseSpokeConfig(container(withRollout).args.slice(1), {}), {
    rolloutNamespaces: ["team-a", "team-b"],
  });
  t.match(parseSpokeConfig(container(objects).args.slice(1), {}), { rolloutNamespaces: [] });
  const events = rules(objects, "Role", "default", "-events");
  for (const rule of rules(fixture, "Role", "default", "-events"))
    t.match(events, [rule], "Role in default: Events");
});

const plane = await sharedControlPlane(t);

t.test("on a real kube-apiserver", async (t) => {
  await plane.installCrds();
  await plane.kubectl(["create", "namespace", hubNamespace]);
  await plane.kubectl(["create", "namespace", spokeNamespace]);
  // The spoke value set with rollout.namespaces puts Roles there.
  for (const namespace of ["team-a", "team-b"]) await plane.kubectl(["create", "namespace", namespace]);

  t.test("every rendered value set passes a server-side dry run with strict field validation", async (t) => {
    for (const chart of ["hub", "spoke"] as const) {
      for (const set of Object.keys(valueSets[chart])) {
        const { yaml } = await render(chart, valueSets[chart][set] ?? {}, namespaceOf(chart));
        const result = await plane.kubectl(["apply", "--dry-run=server", "--validate=strict", "-f", "-"], {
          input: yaml,
          allowFailure: true,
        });
        t.equal(result.code, 0, `${chart}: ${set}`, { stderr: result.stderr });
      }
    }
  });

  t.test(
    "helm install and upgrade keep the generated CA and admin token; uninstall keeps the CA",
    async (t) => {
      const namespace = "tether-hub-release";
      const release = [
        "hub",
        join(repoRoot, "charts/hub"),
        "-n",
        namespace,
        "--kubeconfig",
        plane.kubeconfigPath,
      ];
      const install = await helm(["install", ...release, "--create-namespace"]);
      t.equal(install.code, 0, "helm install", { stderr: install.stderr });
      t.match(install.stdout, /node src\/cli\.ts token create/, "NOTES say how to make a token");
      const secrets = async () => {
        const read = async (name: string) =>
          (
            JSON.parse(
              (await plane.kubectl(["get", "secret", name, "-n", namespace, "-o", "json"])).stdout,
            ) as KubeObject
          ).data as Record<string, string>;
        return { ca: await read("hub-tether-hub-ca"), admin: await read("hub-tether-hub-admin-token") };
      };
      const before = await secrets();
      t.ok(before.ca["tls.crt"] && before.ca["tls.key"] && before.admin["admin-token"]);
      const upgrade = await helm(["upgrade", ...release, "--set", "hub.logLevel=debug"]);
      t.equal(upgrade.code, 0, "helm upgrade", { stderr: upgrade.stderr });
      t.same(await secrets(), before, "the same CA and admin token after the upgrade");
      const uninstall = await helm([
        "uninstall",
        "hub",
        "-n",
        namespace,
        "--kubeconfig",
        plane.kubeconfigPath,
      ]);
      t.equal(uninstall.code, 0, "helm uninstall", { stderr: uninstall.stderr });
      const left = await plane.kubectl(["get", "secrets", "-n", namespace, "-o", "name"]);
      t.match(left.stdout, /secret\/hub-tether-hub-ca/, "the CA outlives the release");
      t.notMatch(left.stdout, /admin-token/);
    },
  );

  t.test("the spoke's service account may do exactly what the agent needs", async (t) => {
    const objects = await rendered("spoke", "defaults (token flow only)");
    await plane.apply(
      objects.filter((o) =>
        /^(ServiceAccount|ClusterRole|ClusterRoleBinding|Role|RoleBinding)$/.test(o.kind),
      ),
    );
    const as = `system:serviceaccount:${spokeNamespace}:tether-spoke`;
    const can = async (args: string[]) =>
      (await plane.kubectl(["auth", "can-i", ...args], { as, allowFailure: true })).stdout.trim();
    const allowed: string[][] = [
      ...["get", "list", "watch", "delete"].map((v) => [v, "certificaterequests.tether.dev"]),
      ["update", "certificaterequests.tether.dev", "--subresource=status"],
      ...["get", "list", "watch", "create", "update"].map((v) => [v, "centralconnections.tether.dev"]),
      ["update", "centralconnections.tether.dev", "--subresource=status"],
      ...["get", "list", "watch", "create", "update"].map((v) => [v, "secrets", "-n", spokeNamespace]),
      ...["get", "create", "update"].map((v) => [v, "leases.coordination.k8s.io", "-n", spokeNamespace]),
      ["create", "events", "-n", "default"],
      ["patch", "events", "-n", "default"],
      ["create", "events.events.k8s.io", "-n", "default"],
    ];
    const denied: string[][] = [
      ["get", "secrets", "-n", "kube-system"],
      ["get", "secrets", "-n", "default"],
      ["list", "secrets", "--all-namespaces"],
      ["delete", "secrets", "-n", spokeNamespace],
      ["delete", "namespaces"],
      ["get", "nodes"],
      ["create", "pods", "-n", spokeNamespace],
      ["create", "certificaterequests.tether.dev"],
      ["update", "certificaterequests.tether.dev"],
      ["delete", "centralconnections.tether.dev"],
      ["create", "events", "-n", "kube-system"],
      ["delete", "leases.coordination.k8s.io", "-n", spokeNamespace],
      ["create", "clusterrolebindings"],
      ["*", "*"],
    ];
    for (const args of allowed) t.equal(await can(args), "yes", `can ${args.join(" ")}`);
    for (const args of denied) t.equal(await can(args), "no", `cannot ${args.join(" ")}`);
  });

  t.test("rolling workloads: exactly get/list/watch/patch on the three kinds, where allowed", async (t) => {
    const release = "rollout-rbac";
    const objects = (await render("spoke", { rollout: { namespaces: ["team-a"] } }, release)).objects;
    for (const namespace of [release, "team-a", "team-b"])
      await plane.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });
    await plane.apply(
      objects.filter((o) =>
        /^(ServiceAccount|ClusterRole|ClusterRoleBinding|Role|RoleBinding)$/.test(o.kind),
      ),
    );
    const as = `system:serviceaccount:${release}:tether-spoke`;
    const can = async (args: string[]) =>
      (await plane.kubectl(["auth", "can-i", ...args], { as, allowFailure: true })).stdout.trim();
    const kinds = ["deployments.apps", "statefulsets.apps", "daemonsets.apps"];
    const allowed: string[][] = [];
    for (const namespace of [release, "team-a"]) {
      for (const kind of kinds)
        for (const verb of ["get", "list", "watch", "patch"]) allowed.push([verb, kind, "-n", namespace]);
      allowed.push(["create", "events", "-n", namespace]);
    }
    const denied: string[][] = [
      ...kinds.flatMap((kind) =>
        ["get", "list", "watch", "patch"].map((verb) => [verb, kind, "-n", "team-b"]),
      ),
      ...kinds.flatMap((kind) =>
        ["create", "update", "delete", "deletecollection"].map((verb) => [verb, kind, "-n", "team-a"]),
      ),
      ["patch", "deployments.apps", "--all-namespaces"],
      ["list", "deployments.apps", "-n", "kube-system"],
      ["update", "deployments.apps", "-n", "team-a", "--subresource=scale"],
      ["patch", "deployments.apps", "-n", "team-a", "--subresource=status"],
      ["get", "replicasets.apps", "-n", "team-a"],
      ["get", "controllerrevisions.apps", "-n", "team-a"],
      ["get", "pods", "-n", "team-a"],
      ["get", "secrets", "-n", "team-a"],
      ["create", "events", "-n", "team-b"],
    ];
    for (const args of allowed) t.equal(await can(args), "yes", `can ${args.join(" ")}`);
    for (const args of denied) t.equal(await can(args), "no", `cannot ${args.join(" ")}`);
  });
});

t.test("the chart's generated CA, admin token and arguments run a real hub", async (t) => {
  const objects = await rendered("hub", "defaults (SQLite, generated CA and admin token)");
  const dir = await mkdtemp(join(tmpdir(), "tether-chart-hub-"));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, "ca"));
  for (const key of ["tls.crt", "tls.key"]) {
    await writeFile(join(dir, "ca", key), secretValue(objects, "tether-hub-ca", key), { mode: 0o600 });
  }
  // The CA keys' key-encryption key, as the pod gets it: the chart's generated Secret as a file.
  await mkdir(join(dir, "ca-kek"));
  await writeFile(join(dir, "ca-kek", "kek"), secretValue(objects, "tether-hub-ca-kek", "kek"), {
    mode: 0o600,
  });
  const adminToken = secretValue(objects, "tether-hub-admin-token", "admin-token");
  const [external, internal] = await freePorts(2);
  // The pod's paths and ports, moved to this machine.
  const args = container(objects).args.map((arg) =>
    arg
      .replace("/etc/tether-hub/ca-kek", join(dir, "ca-kek"))
      .replace("/etc/tether-hub/ca/", `${join(dir, "ca")}/`)
      .replace("/var/lib/tether-hub", join(dir, "data"))
      .replace(/^--listen=0\.0\.0\.0:8443$/, `--listen=127.0.0.1:${external}`)
      .replace(/^--internal-listen=0\.0\.0\.0:8080$/, `--internal-listen=127.0.0.1:${internal}`),
  );
  const env = Object.fromEntries(
    Object.keys(process.env)
      .filter((k) => k.startsWith("TETHER_"))
      .map((k) => [k, undefined]),
  );
  // The program the image ships, with the Node options the chart gives it.
  const nodeOptions = container(objects).env?.find((e) => e.name === "NODE_OPTIONS")?.value;
  t.match(nodeOptions, /--max-semi-space-size=1/, "the chart sets the memory flag");
  const hub = startProcess({
    name: "hub",
    cmd: process.execPath,
    args: [await programPath("hub"), ...args],
    env: {
      ...env,
      NODE_OPTIONS: nodeOptions,
      TETHER_HUB_ADMIN_TOKEN: adminToken,
      TETHER_HUB_STORE: "sqlite",
    },
    t,
  });
  t.teardown(() => hub.stop());
  const internalUrl = `http://127.0.0.1:${internal}`;
  const deadline = Date.now() + 30_000;
  while (!(await fetch(`${internalUrl}/readyz`).catch(() => undefined))?.ok) {
    if (Date.now() > deadline) throw new Error(`the hub never got ready:\n${hub.logs()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const response = await fetch(`${internalUrl}/v1/runtimes/tokens`, {
    method: "POST",
    headers: { authorization: `Bearer ${adminToken}`, tenant: "acme", group: "prod" },
  });
  t.equal(response.status, 201, "the chart's admin token creates a token");
  const { url } = (await response.json()) as { url: string };
  t.match(url, /^https:\/\/tether-hub\.tether-hub\.svc:8443\/v1\/runtimes\/signingRequests\/info\?token=/);
  const refused = await fetch(`${internalUrl}/v1/runtimes/tokens`, {
    method: "POST",
    headers: { authorization: "Bearer wrong", tenant: "acme", group: "prod" },
  });
  t.ok([401, 403].includes(refused.status), `another token is refused (${refused.status})`);
});

for (const [dockerfile, pkg, cli] of [
  ["Dockerfile.hub", "hub", "tether-hub"],
  ["Dockerfile.spoke", "spoke", "tether-spoke"],
] as const) {
  t.test(`${dockerfile}: the build stage bundles, the runtime stage holds the bundle alone`, async (t) => {
    const stages = await readDockerfile(dockerfile);
    t.equal(stages.length, 2, "a build stage and a runtime stage");
    const [build, runtime] = stages;
    if (!build || !runtime) return;
    const steps = (op: string) => runtime.instructions.filter((i) => i.op === op).map((i) => i.args);
    t.match(stages[0]?.from, /^\$\{NODE_IMAGE\} AS build$/);
    t.same(steps("USER"), ["65532:65532"], "runs as non-root");
    const bundle = `tether-${pkg}.mjs`;
    t.same(steps("COPY"), [
      `--from=build /app/dist/${bundle} /app/dist/${bundle}.map /app/dist/${bundle}.LEGAL.txt /app/`,
    ]);
    t.same(steps("ENTRYPOINT"), [`["node", "${bundle}"]`]);
    const dockerfileText = await readFile(join(repoRoot, dockerfile), "utf8");
    t.match(dockerfileText, /^ARG NODE_IMAGE=node:24-bookworm-slim$/m, "Node 24");
    t.match(dockerfileText, new RegExp(`pnpm install --frozen-lockfile --filter @tether/${pkg}\\.\\.\\. `));

    const app = await mkdtemp(join(tmpdir(), `tether-image-${pkg}-build-`));
    const root = await mkdtemp(join(tmpdir(), `tether-image-${pkg}-`));
    t.teardown(() => rm(app, { recursive: true, force: true }));
    t.teardown(() => rm(root, { recursive: true, force: true }));
    const performed = await performBuildStage(build, app);
    t.ok(
      performed.some((step) => step === `RUN node scripts/bundle.ts ${pkg}`),
      performed.join("\n"),
    );

    const image = await performRuntimeStage(runtime, app, root);
    t.same(
      (await readdir(root, { recursive: true })).sort(),
      ["app", `app/${bundle}`, `app/${bundle}.LEGAL.txt`, `app/${bundle}.map`],
      "the image adds the bundle, its source map and licences, no node_modules",
    );
    t.match(image.env.NODE_OPTIONS, /--max-semi-space-size=1/, "the image sets the memory flag");
    const [node, ...args] = image.entrypoint;
    t.equal(node, "node");
    const child = startProcess({
      name: cli,
      cmd: process.execPath,
      args: [...args, "--help"],
      cwd: image.workdir,
      env: { ...image.env, NODE_PATH: undefined },
    });
    const { code } = await child.exited;
    const stdout = child.logs();
    t.equal(code, 0, `${image.entrypoint.join(" ")} --help in the image's ${image.workdir}`, {
      output: stdout,
    });
    t.match(stdout, new RegExp(`usage: ${cli}`));
  });
}
