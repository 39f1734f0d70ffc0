/**
 * The CA rotation decisions (docs/renewal.md#ca-rotation), pure: the per-connection jitter, the trust
 * comparison, the CertificateAuthorityRotating condition, the IssuerRotated renewal, and what a
 * retired issuer or a rotated serving CA mean to the bootstrap flow's hub-kubeconfig chain.
 */
import t from "tap";
import { buildBootstrapKubeconfig, parseKubeconfig } from "@tether/shared/kubeconfig";
import { createSelfSignedCa } from "@tether/shared/pki";
import { healthVerdict } from "../../src/bootstrap/health-check.ts";
import { pemFingerprints } from "../../src/credential/secret.ts";
import type { CentralConnectionSpec, TrustBundleStatus } from "../../src/kube/types.ts";
import { judgeHubKubeconfig } from "../../src/policy/hub-kubeconfig.ts";
import { needsRenewal, plannedRenewalTime } from "../../src/policy/renewal.ts";
import {
  connectionJitter,
  rotatingCondition,
  rotationRenewalAt,
  rotationRenewalTime,
  trustDifferences,
} from "../../src/policy/rotation.ts";
import type { CredentialState } from "../../src/policy/state.ts";

const DAY = 86_400_000;
const notBefore = new Date("2026-01-01T00:00:00Z");
const notAfter = new Date(notBefore.getTime() + 30 * DAY);
const subject = { CN: "rt-1", O: "acme", OU: "prod", L: "Berlin", ST: "Berlin", C: "DE" };
const OLD = "a".repeat(64);
const NEW = "b".repeat(64);
const activeSince = new Date(notBefore.getTime() + DAY);

function credential(over: Partial<CredentialState> = {}): CredentialState {
  return {
    secretName: "tether-system/c1-hub-credentials",
    secretFound: true,
    missingKeys: [],
    certificate: { subject, serial: "AB", sha256: "00".repeat(32), notBefore, notAfter, issuer: "CN=hub" },
    issuerSha256: OLD,
    trustSha256: [OLD],
    keyMatches: true,
    chain: { ok: true },
    ...over,
  };
}

const stable: TrustBundleStatus = {
  phase: "stable",
  activeSha256: OLD,
  activeSince: notBefore.toISOString(),
  renewalWindowSeconds: 3600,
  cas: [{ sha256: OLD, phase: "active", notAfter: "2036-01-01T00:00:00.000Z" }],
};
const prepared: TrustBundleStatus = {
  ...stable,
  phase: "prepared",
  cas: [...stable.cas, { sha256: NEW, phase: "next", notAfter: "2036-06-01T00:00:00.000Z" }],
};
const activated: TrustBundleStatus = {
  ...stable,
  phase: "activated",
  activeSha256: NEW,
  activeSince: activeSince.toISOString(),
  cas: [
    { sha256: OLD, phase: "retiring", notAfter: "2036-01-01T00:00:00.000Z" },
    { sha256: NEW, phase: "active", notAfter: "2036-06-01T00:00:00.000Z" },
  ],
};

t.test("the jitter is fixed per connection, in [0, 1), and spreads a fleet", async (t) => {
  const uid = "6f1c2e0a-1b2c-4d5e-8f90-a1b2c3d4e5f6";
  t.equal(connectionJitter(uid), connectionJitter(uid), "same uid, same moment");
  const values = Array.from({ length: 1000 }, (_, i) => connectionJitter(`uid-${i}`));
  t.ok(
    values.every((v) => v >= 0 && v < 1),
    "within [0, 1)",
  );
  const quarters = [0, 1, 2, 3].map((q) => values.filter((v) => Math.floor(v * 4) === q).length);
  t.ok(
    quarters.every((n) => n > 150),
    `every quarter of the window gets its share: ${quarters.join(", ")}`,
  );
  t.same(
    rotationRenewalTime(activated, 0.25),
    new Date(activeSince.getTime() + 900_000),
    "a quarter of a one-hour window after the switch was seen",
  );
  t.same(
    rotationRenewalTime({ ...activated, renewalWindowSeconds: 0 }, 0.9),
    activeSince,
    "no window: at once",
  );
});

t.test("trust differences: compared as sets, by the Secret's key names", async (t) => {
  t.same(
    trustDifferences(
      { trust: [OLD, NEW], serverCa: [NEW, OLD] },
      { trust: [NEW, OLD], serverCa: [OLD, NEW] },
    ),
    [],
  );
  t.same(trustDifferences({ trust: [OLD], serverCa: [OLD] }, { trust: [OLD, NEW], serverCa: [OLD, NEW] }), [
    "ca.crt",
    "certificate-authority-data",
  ]);
  t.same(
    trustDifferences({ trust: [OLD], serverCa: [] }, { trust: [OLD, NEW], serverCa: [] }),
    ["ca.crt"],
    "an empty serverCas (a public serving certificate) leaves the kubeconfig's CA alone",
  );
  t.same(trustDifferences({ trust: [OLD, NEW], serverCa: [OLD] }, { trust: [NEW], serverCa: [NEW] }), [
    "ca.crt",
    "certificate-authority-data",
  ]);
});

t.test("CertificateAuthorityRotating: each step with its reason", async (t) => {
  const judge = (trust: TrustBundleStatus | undefined, over: Partial<CredentialState> = {}) =>
    rotatingCondition({ credential: credential(over), trust, jitter: 0.5 });
  t.match(judge(undefined), { status: "False", reason: "NoRotation", message: /publishes no trust bundle/ });
  t.match(judge(stable), { status: "False", reason: "NoRotation", message: /one CA/ });
  t.match(judge(prepared), {
    status: "True",
    reason: "TrustUpdatePending",
    message: /lacks the hub's next CA bbbbbbbbbbbbbbbb/,
  });
  t.match(judge(prepared, { trustSha256: [OLD, NEW] }), { status: "False", reason: "NextCaTrusted" });
  t.match(judge(activated, { trustSha256: [OLD, NEW] }), {
    status: "True",
    reason: "RenewalScheduled",
    message: new RegExp(
      `issued by CA aaaaaaaaaaaaaaaa… \\(retiring\\).*renewal at ${new Date(activeSince.getTime() + 1_800_000).toISOString()}`,
    ),
  });
  t.match(
    judge(activated, { trustSha256: [OLD], issuerSha256: OLD }),
    {
      reason: "TrustUpdatePending",
    },
    "a missing CA comes first",
  );
  t.match(judge(activated, { trustSha256: [OLD, NEW], issuerSha256: NEW }), {
    status: "False",
    reason: "RotationComplete",
  });
  t.match(
    judge(
      { ...stable, activeSha256: NEW, cas: [{ ...stable.cas[0]!, sha256: NEW }] },
      { trustSha256: [NEW], issuerSha256: NEW },
    ),
    {
      status: "False",
      reason: "NoRotation",
    },
    "after retirement: one CA again",
  );
  t.match(
    judge(activated, { trustSha256: [OLD, NEW], issuerSha256: undefined }),
    { status: "False", reason: "RotationComplete" },
    "a tls.crt without its issuer cannot be judged: nothing is scheduled",
  );
});

t.test(
  "IssuerRotated: at this connection's moment of the window, not before, renewal on or off",
  async (t) => {
    const spec: CentralConnectionSpec = {
      managementInfoUrl: "https://hub/x",
      establishedAt: notBefore.toISOString(),
    };
    const at = (ms: number, over: { spec?: CentralConnectionSpec; issuerSha256?: string } = {}) =>
      needsRenewal({
        spec: over.spec ?? spec,
        credential: credential({ trustSha256: [OLD, NEW], issuerSha256: over.issuerSha256 ?? OLD }),
        expectedSubject: subject,
        now: new Date(activeSince.getTime() + ms),
        random: () => 0.5,
        trust: activated,
        rotationJitter: 0.5,
      });
    t.equal(at(1_800_000 - 1), undefined, "a millisecond early");
    t.match(at(1_800_000), {
      reason: "IssuerRotated",
      message: /issued by CA aaaaaaaaaaaaaaaa.*renewal time/,
    });
    t.equal(at(1_800_000, { issuerSha256: NEW }), undefined, "a certificate of the active CA");
    t.match(
      at(1_800_000, { spec: { ...spec, renewal: { enabled: false } } }),
      { reason: "IssuerRotated" },
      "renewal.enabled: false still follows a rotation",
    );
    t.equal(
      needsRenewal({
        spec,
        credential: credential(),
        expectedSubject: subject,
        now: new Date(activeSince.getTime() + 1_800_000),
        random: () => 0.5,
      }),
      undefined,
      "no trust bundle (a hub without rotation): no IssuerRotated",
    );
  },
);

t.test("the planned renewal time takes the rotation's when it comes first", async (t) => {
  const spec: CentralConnectionSpec = {
    managementInfoUrl: "https://hub/x",
    establishedAt: notBefore.toISOString(),
  };
  const certificate = credential().certificate!;
  const rotationAt = rotationRenewalAt({ credential: credential(), trust: activated, jitter: 0.5 });
  t.same(rotationAt, new Date(activeSince.getTime() + 1_800_000));
  t.same(
    plannedRenewalTime(spec, certificate, () => 0.5, rotationAt),
    rotationAt,
  );
  const normal = plannedRenewalTime(spec, certificate, () => 0.5);
  t.ok(normal && normal > rotationAt!, "later without the rotation");
  t.same(
    plannedRenewalTime(spec, certificate, () => 0.5, new Date(notAfter.getTime())),
    normal,
    "the earlier wins",
  );
  t.same(
    plannedRenewalTime({ ...spec, renewal: { enabled: false } }, certificate, () => 0.5, rotationAt),
    rotationAt,
  );
  t.equal(
    rotationRenewalAt({ credential: credential({ issuerSha256: NEW }), trust: activated, jitter: 0.5 }),
    undefined,
  );
});

t.test(
  "bootstrap: a retired issuer makes the hub kubeconfig invalid; a rotated serving CA does not",
  async (t) => {
    const oldCa = await createSelfSignedCa({ commonName: "old" });
    const newCa = await createSelfSignedCa({ commonName: "new" });
    const otherCa = await createSelfSignedCa({ commonName: "other hub" });
    const view = (caPem: string) =>
      parseKubeconfig(buildBootstrapKubeconfig({ server: "https://hub.test:8443", token: "t", caPem }));
    const judge = (hubCaPem: string, bootstrapCaPem: string, history: string[], retired?: string) =>
      judgeHubKubeconfig({
        credential: {
          ...credential(),
          certificate: { ...credential().certificate!, subject: { ...subject, CN: "edge-1" } },
        },
        hubKubeconfig: view(hubCaPem),
        bootstrap: view(bootstrapCaPem),
        clusterName: "edge-1",
        now: activeSince,
        serverCaHistory: history,
        bootstrapCaSha256: pemFingerprints(bootstrapCaPem),
        retiredCertificateSha256: retired,
      });
    const [oldSha, newSha] = [pemFingerprints(oldCa.certPem)[0]!, pemFingerprints(newCa.certPem)[0]!];
    t.match(judge(oldCa.certPem, oldCa.certPem, [oldSha], "00".repeat(32)), {
      valid: false,
      reason: "IssuerRetired",
      message: /retired the CA that issued certificate AB/,
    });
    t.match(
      judge(oldCa.certPem, oldCa.certPem, [oldSha], "11".repeat(32)),
      { valid: true },
      "another certificate was refused",
    );
    t.match(
      judge(oldCa.certPem + newCa.certPem, oldCa.certPem, [oldSha, newSha]),
      { valid: true },
      "during the rotation: the bundle holds the bootstrap's CA",
    );
    t.match(
      judge(newCa.certPem, oldCa.certPem, [oldSha, newSha]),
      { valid: true },
      "after retirement: the bootstrap's CA is one the Secret moved on from",
    );
    t.match(
      judge(newCa.certPem, oldCa.certPem, [newSha]),
      { valid: false, reason: "CADiffers" },
      "without that history the CA still differs",
    );
    t.match(
      judge(newCa.certPem, otherCa.certPem, [oldSha, newSha]),
      { valid: false, reason: "CADiffers" },
      "a bootstrap kubeconfig with a CA this Secret never held names another hub",
    );
  },
);

t.test("health: a retired issuer restarts the agent", async (t) => {
  t.match(
    healthVerdict({
      certificateNotAfter: notAfter,
      fileAtStart: "f",
      fileNow: "f",
      secretAtStart: undefined,
      secretNow: undefined,
      issuerRetired: true,
      now: notBefore,
    }),
    { reason: "IssuerRetired", message: /retired the CA.*bootstrap again/ },
  );
});
