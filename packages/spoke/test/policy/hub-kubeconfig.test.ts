/** The hub kubeconfig validity chain of the bootstrap flow (docs/renewal.md#bootstrap): one case per reason, in order. */
import t from "tap";
import { buildBootstrapKubeconfig, parseKubeconfig } from "@tether/shared/kubeconfig";
import { createSelfSignedCa } from "@tether/shared/pki";
import { type HubKubeconfigInput, judgeHubKubeconfig } from "../../src/policy/hub-kubeconfig.ts";
import type { CredentialState } from "../../src/policy/state.ts";
import { hubOrigin } from "../support/fake-hub.ts";
import { DAY, certificateFacts, credentialState, subject } from "./support.ts";

const namespace = "tether-system";
const SECOND = 1_000;

const hubCa = await createSelfSignedCa({ commonName: "hub serving CA" });
const otherCa = await createSelfSignedCa({ commonName: "another serving CA" });
const notBefore = new Date("2026-05-01T00:00:00Z");
const notAfter = new Date(notBefore.getTime() + 30 * DAY);

/** The bootstrap flow's credential: its own Secret, a certificate for cluster edge-1 from 2026-05-01. */
function credential(over: Partial<CredentialState> = {}): CredentialState {
  return credentialState({
    secretName: `${namespace}/hub-kubeconfig-secret`,
    certificate: certificateFacts({
      subject: { ...subject, CN: "edge-1" },
      serial: "0A1B",
      notBefore,
      notAfter,
      issuer: "CN=hub CA",
    }),
    ...over,
  });
}

function view(server: string, caPem: string | undefined, proxyUrl?: string) {
  return parseKubeconfig(
    buildBootstrapKubeconfig({
      server,
      token: "t",
      caPem,
      proxyUrl,
    }),
  );
}

function judge(over: Partial<HubKubeconfigInput> = {}) {
  return judgeHubKubeconfig({
    credential: credential(),
    hubKubeconfig: view(hubOrigin, hubCa.certPem),
    bootstrap: view(hubOrigin, hubCa.certPem),
    clusterName: "edge-1",
    now: new Date(notBefore.getTime() + DAY),
    ...over,
  });
}

t.test("validity chain: every reason, the first violation wins", async (t) => {
  const cases: [string, Partial<HubKubeconfigInput>, string, RegExp][] = [
    [
      "no Secret",
      { credential: credential({ secretFound: false }) },
      "SecretMissing",
      /hub-kubeconfig-secret does not exist/,
    ],
    [
      "a key missing",
      { credential: credential({ missingKeys: ["kubeconfig"] }) },
      "SecretMissingData",
      /lacks kubeconfig/,
    ],
    [
      "unreadable data",
      { credential: credential({ unreadable: "tls.crt holds no readable certificate (bad)" }) },
      "SecretMissingData",
      /no usable credential: tls\.crt holds no readable certificate/,
    ],
    [
      "key of another cert",
      { credential: credential({ keyMatches: false }) },
      "KeyMismatch",
      /does not belong/,
    ],
    [
      "issued for another cluster",
      { clusterName: "edge-2" },
      "OtherCluster",
      /for runtime "edge-1", not for --cluster-name "edge-2"/,
    ],
    [
      "not yet valid",
      { now: new Date(notBefore.getTime() - SECOND) },
      "NotYetValid",
      /valid only from 2026-05-01/,
    ],
    ["expired", { now: notAfter }, "Expired", /expired at 2026-05-31T00:00:00\.000Z/],
    [
      "another server",
      { bootstrap: view("https://hub-2.example:8443", hubCa.certPem) },
      "ServerDiffers",
      /another hub.*hub-2\.example/,
    ],
    [
      "another proxy",
      { bootstrap: view(hubOrigin, hubCa.certPem, "http://proxy.corp:3128") },
      "ProxyURLDiffers",
      /proxy-url \(none\) differs from http:\/\/proxy\.corp:3128/,
    ],
    [
      "another CA",
      { bootstrap: view(hubOrigin, otherCa.certPem) },
      "CADiffers",
      /certificate-authority-data differs/,
    ],
    ["CA dropped", { bootstrap: view(hubOrigin, undefined) }, "CADiffers", /sha256 [0-9a-f]{16}… vs none/],
  ];
  for (const [name, over, reason, message] of cases) {
    const verdict = judge(over);
    t.equal(verdict.valid, false, `${name}: not valid`);
    t.equal(verdict.reason, reason, `${name}: ${reason}`);
    t.match(verdict.message, message, `${name}: says what`);
  }
  t.match(judge(), {
    valid: true,
    reason: "Valid",
    message: /certificate 0A1B for "edge-1", valid until 2026-05-31/,
  });
  t.equal(judge({ now: new Date(notAfter.getTime() - 1) }).valid, true, "valid up to the last millisecond");
  t.equal(
    judge({ bootstrap: view(`${hubOrigin}/`, hubCa.certPem) }).valid,
    true,
    "a trailing slash is the same server",
  );
  t.match(
    judge({ bootstrap: undefined }),
    { valid: true },
    "no readable bootstrap kubeconfig: nothing to compare, the hub kubeconfig stands on its own",
  );
  t.equal(
    judge({ credential: credential({ secretFound: false }), clusterName: "edge-2", now: notAfter }).reason,
    "SecretMissing",
    "order: the Secret before the cluster and the expiry",
  );
  t.equal(
    judge({ clusterName: "edge-2", now: notAfter }).reason,
    "OtherCluster",
    "order: the cluster before the expiry",
  );
});
