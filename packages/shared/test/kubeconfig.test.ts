import { createHash } from "node:crypto";
import t from "tap";
import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse, stringify } from "yaml";
import {
  KubeconfigError,
  buildBootstrapKubeconfig,
  buildHubKubeconfig,
  compareHubKubeconfigs,
  parseKubeconfig,
} from "@tether/shared/kubeconfig";

// kubectl and the parser only look at PEM armour, so random DER stands in for real certificates.
function fakeCertificate(): string {
  const body = randomBytes(300).toString("base64").replace(/.{64}/g, "$&\n");
  return `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
}
const caPem = fakeCertificate();
const otherCaPem = fakeCertificate();
const clientCertificatePem = fakeCertificate() + caPem;
const clientKeyPem = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({
  type: "pkcs8",
  format: "pem",
}) as string;
const b64 = (text: string) => Buffer.from(text).toString("base64");

const server = "https://hub.example:8443";
const bootstrap = buildBootstrapKubeconfig({ server, caPem, token: "bootstrap-token-1" });
const hub = buildHubKubeconfig({ server, caPem, clientCertificatePem, clientKeyPem });

type Fields = Record<string, unknown>;
interface Parts {
  cluster: Fields;
  user: Fields;
  context: Fields;
}
/** Edits a built kubeconfig as a plain object, to make the broken variants the parser must refuse. */
function edit(text: string, change: (config: Fields, first: Parts) => void): string {
  const config = parse(text) as Fields;
  const first = (list: string, key: string) => ((config[list] as Fields[])[0] as Fields)[key] as Fields;
  change(config, {
    cluster: first("clusters", "cluster"),
    user: first("users", "user"),
    context: first("contexts", "context"),
  });
  return stringify(config);
}

t.test("a bootstrap kubeconfig round-trips", async (t) => {
  t.same(parseKubeconfig(bootstrap), {
    contextName: "hub",
    clusterName: "hub",
    userName: "bootstrap",
    server,
    caPem,
    token: "bootstrap-token-1",
  });
  const named = buildBootstrapKubeconfig({
    server,
    caPem,
    token: "t",
    proxyUrl: "http://proxy.internal:3128",
    names: { cluster: "tether", context: "spoke-1", user: "agent" },
  });
  t.match(parseKubeconfig(named), {
    contextName: "spoke-1",
    clusterName: "tether",
    userName: "agent",
    proxyUrl: "http://proxy.internal:3128",
  });
  const publicCa = parseKubeconfig(buildBootstrapKubeconfig({ server, token: "t" }));
  t.equal(publicCa.caPem, undefined, "no CA: the system trust store");
});

t.test("a hub kubeconfig round-trips", async (t) => {
  t.same(parseKubeconfig(hub), {
    contextName: "hub",
    clusterName: "hub",
    userName: "spoke",
    server,
    caPem,
    clientCertificatePem,
    clientKeyPem,
  });
  t.notMatch(hub, /token/, "no token in a hub kubeconfig");
});

const execFileAsync = promisify(execFile);
interface KubectlView {
  "current-context": string;
  clusters: { name: string; cluster: Fields }[];
  users: { name: string; user: Fields }[];
  contexts: { name: string; context: Fields }[];
}
t.test(
  "kubectl reads the built kubeconfigs",
  { skip: !existsSync("/usr/bin/kubectl") && "no kubectl" },
  async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "tether-kubeconfig-"));
    t.teardown(() => rm(dir, { recursive: true, force: true }));
    const view = async (text: string) => {
      const file = join(dir, "config");
      await writeFile(file, text, { mode: 0o600 });
      const { stdout } = await execFileAsync("/usr/bin/kubectl", [
        "config",
        "view",
        "--kubeconfig",
        file,
        "-o",
        "json",
        "--raw",
      ]);
      return JSON.parse(stdout) as KubectlView;
    };

    const withProxy = buildBootstrapKubeconfig({
      server,
      caPem,
      token: "bootstrap-token-1",
      proxyUrl: "http://proxy:3128",
    });
    const b = await view(withProxy);
    t.equal(b["current-context"], "hub");
    t.same(b.clusters[0], {
      name: "hub",
      cluster: { server, "certificate-authority-data": b64(caPem), "proxy-url": "http://proxy:3128" },
    });
    t.same(b.users[0], { name: "bootstrap", user: { token: "bootstrap-token-1" } });
    t.same(b.contexts[0], { name: "hub", context: { cluster: "hub", user: "bootstrap" } });

    const h = await view(hub);
    t.equal(h.clusters[0]?.cluster.server, server);
    t.same(h.users[0], {
      name: "spoke",
      user: { "client-certificate-data": b64(clientCertificatePem), "client-key-data": b64(clientKeyPem) },
    });
  },
);

t.test("the builders refuse what the parser would refuse", async (t) => {
  const refuses = (fn: () => unknown, code: string, message: RegExp) =>
    t.throws(fn, { name: "KubeconfigError", code, message }, `${code}: ${message.source}`);
  refuses(
    () => buildBootstrapKubeconfig({ server: "http://hub", caPem, token: "t" }),
    "invalid-server",
    /not an https/,
  );
  refuses(
    () => buildBootstrapKubeconfig({ server: "hub:8443", caPem, token: "t" }),
    "invalid-server",
    /not an https/,
  );
  refuses(
    () => buildBootstrapKubeconfig({ server, caPem: "junk", token: "t" }),
    "invalid-data",
    /hub CA holds no PEM/,
  );
  refuses(
    () => buildBootstrapKubeconfig({ server, caPem: clientKeyPem, token: "t" }),
    "invalid-data",
    /"PRIVATE KEY" block/,
  );
  refuses(() => buildBootstrapKubeconfig({ server, token: "" }), "no-credentials", /token is empty/);
  refuses(() => buildBootstrapKubeconfig({ server, token: "a b" }), "no-credentials", /whitespace/);
  refuses(
    () => buildBootstrapKubeconfig({ server, token: "t", proxyUrl: "ftp://proxy" }),
    "invalid-proxy-url",
    /not an http, https or socks5 URL/,
  );
  refuses(
    () => buildHubKubeconfig({ server, clientCertificatePem: clientKeyPem, clientKeyPem }),
    "invalid-data",
    /client certificate holds a malformed or unexpected "PRIVATE KEY" block/,
  );
  refuses(
    () => buildHubKubeconfig({ server, clientCertificatePem, clientKeyPem: caPem }),
    "invalid-data",
    /client key holds a malformed or unexpected "CERTIFICATE" block/,
  );
});

t.test("parse errors name the broken part", async (t) => {
  const cases: [string, string, string, RegExp][] = [
    ["not YAML", "a: [", "invalid-yaml", /not valid YAML/],
    ["a list", "- a\n- b\n", "not-a-kubeconfig", /expected a mapping of kind Config/],
    ["empty", "", "not-a-kubeconfig", /not a kubeconfig/],
    ["another kind", edit(bootstrap, (c) => (c.kind = "Secret")), "not-a-kubeconfig", /kind Config/],
    [
      "no current context",
      edit(bootstrap, (c) => delete c["current-context"]),
      "no-current-context",
      /current-context is not set/,
    ],
    [
      "unknown context",
      edit(bootstrap, (c) => (c["current-context"] = "gone")),
      "missing-context",
      /contexts has no context named "gone"/,
    ],
    [
      "context without cluster",
      edit(bootstrap, (c, p) => delete p.context.cluster),
      "missing-cluster",
      /context "hub" names no cluster/,
    ],
    [
      "context without user",
      edit(bootstrap, (c, p) => delete p.context.user),
      "missing-user",
      /context "hub" names no user/,
    ],
    [
      "missing cluster",
      edit(bootstrap, (c, p) => (p.context.cluster = "other")),
      "missing-cluster",
      /clusters has no cluster named "other"/,
    ],
    [
      "missing user",
      edit(bootstrap, (c) => (c.users = [])),
      "missing-user",
      /users has no user named "bootstrap"/,
    ],
    [
      "no server",
      edit(bootstrap, (c, p) => delete p.cluster.server),
      "invalid-server",
      /cluster has no server/,
    ],
    [
      "http server",
      edit(bootstrap, (c, p) => (p.cluster.server = "http://hub")),
      "invalid-server",
      /"http:\/\/hub" is not an https/,
    ],
    [
      "bad proxy",
      edit(bootstrap, (c, p) => (p.cluster["proxy-url"] = "not a url")),
      "invalid-proxy-url",
      /proxy-url "not a url"/,
    ],
    [
      "CA not base64",
      edit(bootstrap, (c, p) => (p.cluster["certificate-authority-data"] = "%%%")),
      "invalid-data",
      /certificate-authority-data is not base64/,
    ],
    [
      "CA truncated",
      edit(bootstrap, (c, p) => (p.cluster["certificate-authority-data"] = b64(caPem).slice(0, -1))),
      "invalid-data",
      /certificate-authority-data is not base64/,
    ],
    [
      "CA not PEM",
      edit(bootstrap, (c, p) => (p.cluster["certificate-authority-data"] = b64("hello"))),
      "invalid-data",
      /certificate-authority-data holds no PEM block/,
    ],
    [
      "CA a number",
      edit(bootstrap, (c, p) => (p.cluster["certificate-authority-data"] = 42)),
      "invalid-data",
      /not a base64 string/,
    ],
    [
      "CA file",
      edit(bootstrap, (c, p) => (p.cluster["certificate-authority"] = "/etc/ca.crt")),
      "file-reference",
      /cluster "hub" refers to a file with certificate-authority/,
    ],
    [
      "token file",
      edit(bootstrap, (c, p) => (p.user.tokenFile = "/var/token")),
      "file-reference",
      /user "bootstrap" refers to a file with tokenFile/,
    ],
    [
      "client cert file",
      edit(hub, (c, p) => (p.user["client-certificate"] = "/tls.crt")),
      "file-reference",
      /client-certificate/,
    ],
    [
      "insecure",
      edit(bootstrap, (c, p) => (p.cluster["insecure-skip-tls-verify"] = true)),
      "insecure",
      /insecure-skip-tls-verify/,
    ],
    [
      "no credentials",
      edit(bootstrap, (c) => (c.users = [{ name: "bootstrap", user: {} }])),
      "no-credentials",
      /neither a token nor client-certificate-data/,
    ],
    [
      "cert without key",
      edit(hub, (c, p) => delete p.user["client-key-data"]),
      "no-credentials",
      /user "spoke" has no client-key-data/,
    ],
    [
      "key without cert",
      edit(hub, (c, p) => delete p.user["client-certificate-data"]),
      "no-credentials",
      /has no client-certificate-data/,
    ],
    [
      "key is a cert",
      edit(hub, (c, p) => (p.user["client-key-data"] = b64(caPem))),
      "invalid-data",
      /client-key-data holds a malformed or unexpected "CERTIFICATE"/,
    ],
  ];
  for (const [name, text, code, message] of cases) {
    t.throws(() => parseKubeconfig(text), { name: "KubeconfigError", code, message }, name);
  }
  t.ok(
    new KubeconfigError("insecure", "x").message.startsWith("kubeconfig: "),
    "messages say where they come from",
  );
});

t.test("parse takes only what the current context names", async (t) => {
  const multi = edit(bootstrap, (c) => {
    (c.clusters as unknown[]).unshift({ name: "other", cluster: { server: "http://ignored" } });
    (c.users as unknown[]).unshift({ name: "other", user: { exec: { command: "aws" } } });
    (c.contexts as unknown[]).unshift({ name: "other", context: { cluster: "other", user: "other" } });
  });
  t.match(parseKubeconfig(multi), { server, token: "bootstrap-token-1" });
  const json = JSON.stringify(parse(bootstrap));
  t.equal(parseKubeconfig(json).server, server, "JSON kubeconfigs are YAML too");
});

t.test("compareHubKubeconfigs returns the first difference as a reason", async (t) => {
  t.equal(compareHubKubeconfigs(hub, bootstrap), undefined, "same hub, different credentials");
  t.equal(
    compareHubKubeconfigs(
      hub,
      buildBootstrapKubeconfig({ server: "https://HUB.example:8443/", caPem, token: "x" }),
    ),
    undefined,
    "URL spelling does not matter",
  );
  const bundle = buildBootstrapKubeconfig({ server, caPem: caPem + otherCaPem, token: "t" });
  const reordered = buildBootstrapKubeconfig({
    server,
    caPem: otherCaPem + "\n" + caPem.replace(/\n/g, "\r\n"),
    token: "t",
  });
  t.equal(compareHubKubeconfigs(bundle, reordered), undefined, "CA order and line endings do not matter");

  t.same(
    compareHubKubeconfigs(
      hub,
      buildBootstrapKubeconfig({ server: "https://other:8443", caPem: otherCaPem, token: "t" }),
    ),
    {
      reason: "ServerDiffers",
      message: "server https://hub.example:8443 differs from https://other:8443",
    },
  );
  t.same(
    compareHubKubeconfigs(
      hub,
      buildBootstrapKubeconfig({ server, caPem, token: "t", proxyUrl: "http://proxy:3128" }),
    ),
    {
      reason: "ProxyURLDiffers",
      message: "proxy-url (none) differs from http://proxy:3128",
    },
  );
  const proxied = (proxyUrl: string) => buildBootstrapKubeconfig({ server, caPem, token: "t", proxyUrl });
  t.equal(compareHubKubeconfigs(proxied("http://a:1"), proxied("http://b:1"))?.reason, "ProxyURLDiffers");
  t.same(compareHubKubeconfigs(hub, buildBootstrapKubeconfig({ server, caPem: otherCaPem, token: "t" })), {
    reason: "CADiffers",
    message: `certificate-authority-data differs (sha256 ${short(caPem)}… vs sha256 ${short(otherCaPem)}…)`,
  });
  t.match(compareHubKubeconfigs(bundle, buildBootstrapKubeconfig({ server, token: "t" })), {
    reason: "CADiffers",
    message:
      /^certificate-authority-data differs \(2 certificates: sha256 [0-9a-f]{16}…, sha256 [0-9a-f]{16}… vs none\)$/,
  });
  t.equal(
    compareHubKubeconfigs(parseKubeconfig(hub), parseKubeconfig(bootstrap)),
    undefined,
    "takes parsed views",
  );
  t.throws(() => compareHubKubeconfigs(hub, "a: ["), { code: "invalid-yaml" });
});

/** The first 16 hex digits of the SHA-256 of a PEM block's DER, as `openssl x509 -fingerprint -sha256` shows it. */
function short(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64");
  return createHash("sha256").update(der).digest("hex").slice(0, 16);
}
