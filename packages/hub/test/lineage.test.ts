/**
 * Renewals and revocation (docs/api.md): a renewal records the certificate it was made from, revoking a
 * certificate revokes everything renewed from it, renewals of one runtime are rate-limited, and a
 * renewed certificate stops working after the grace period. Real TLS, real client certificates.
 */
import t, { type Test } from "tap";
import type { Agent } from "undici";
import { ErrorMessages, type CertificatesResponse } from "@tether/shared/contract";
import { decodeBase64Pem, exportPrivateKeyPem, generateKeyPair, sha256Fingerprint } from "@tether/shared/pki";
import {
  MANAGEMENT,
  RENEWALS,
  REVOCATIONS,
  adminHeaders,
  call,
  csrBody,
  enrol,
  errorBody,
  mtlsAgent,
  startHub,
  type Enrolled,
  type TestHub,
} from "./helpers/hub.ts";

interface Holder {
  agent: Agent;
  sha256: string;
}

/** Renews with `holder`'s certificate and a new key, as a spoke (or a thief) does. */
async function renew(t: Test, hub: TestHub, enrolled: Enrolled, holder: Holder): Promise<Holder> {
  const key = await generateKeyPair("ecdsa-p256");
  const answer = await call<CertificatesResponse>(hub.publicUrl + RENEWALS, {
    dispatcher: holder.agent,
    json: await csrBody(key, enrolled.subject),
  });
  if (answer.status !== 201) throw new Error(`renewal: ${answer.status} ${answer.text}`);
  const certPem = decodeBase64Pem(answer.body.crt);
  return {
    agent: mtlsAgent(t, hub, certPem, await exportPrivateKeyPem(key)),
    sha256: sha256Fingerprint(decodeBase64Pem(answer.body.clientCrt)),
  };
}

const holderOf = (enrolled: Enrolled): Holder => ({
  agent: enrolled.agent,
  sha256: sha256Fingerprint(decodeBase64Pem(enrolled.response.clientCrt)),
});

t.test("revoking a certificate revokes every renewal made from it", async (t) => {
  const hub = await startHub(t);
  const enrolled = await enrol(t, hub, { runtime: "edge-1", algorithm: "ecdsa-p256" });
  const stolen = holderOf(enrolled);
  const renewed = await renew(t, hub, enrolled, stolen);
  const again = await renew(t, hub, enrolled, renewed);
  const sibling = await renew(t, hub, enrolled, stolen);
  const unrelated = await enrol(t, hub, { runtime: "edge-2", algorithm: "ecdsa-p256" });
  const certificates = await hub.store.listCertificates("edge-1");
  t.same(
    certificates.map((c) => [c.sha256, c.parentSha256]).sort(),
    [
      [stolen.sha256, null],
      [renewed.sha256, stolen.sha256],
      [again.sha256, renewed.sha256],
      [sibling.sha256, stolen.sha256],
    ].sort(),
    "each renewal records its parent",
  );

  const revoked = await call(`${hub.internalUrl}/v1/runtimes/certificates/revocations`, {
    headers: adminHeaders(hub),
    json: { hash: stolen.sha256 },
  });
  t.same([revoked.status, revoked.body], [201, { revoked: 4 }], "the admin API says how many");
  for (const holder of [stolen, renewed, again, sibling]) {
    const info = await call(hub.publicUrl + MANAGEMENT, { dispatcher: holder.agent });
    t.same(info.body, errorBody(403, ErrorMessages.certificateRevoked), "refused");
  }
  t.equal((await call(hub.publicUrl + MANAGEMENT, { dispatcher: unrelated.agent })).status, 200);

  // A runtime revoking its previous certificate after renewing (the spoke's rollover) keeps the renewal.
  const own = holderOf(unrelated);
  const child = await renew(t, hub, unrelated, own);
  t.equal((await call(hub.publicUrl + REVOCATIONS, { dispatcher: own.agent, method: "POST" })).status, 201);
  t.equal((await call(hub.publicUrl + MANAGEMENT, { dispatcher: child.agent })).status, 200);
});

t.test("renewals of one runtime are rate-limited (--renewal-limit)", async (t) => {
  const hub = await startHub(t, {
    flags: ["--renewal-limit", "3", "--renewal-limit-window", "1h", "--superseded-grace", "2h"],
  });
  const enrolled = await enrol(t, hub, { runtime: "edge-1", algorithm: "ecdsa-p256" });
  const holder = holderOf(enrolled);
  for (let i = 0; i < 3; i++) await renew(t, hub, enrolled, holder);
  const key = await generateKeyPair("ecdsa-p256");
  const refused = await call(hub.publicUrl + RENEWALS, {
    dispatcher: holder.agent,
    json: await csrBody(key, enrolled.subject),
  });
  t.same([refused.status, refused.body], [429, errorBody(429, ErrorMessages.renewalsRateLimited)]);
  t.equal((await hub.store.listCertificates("edge-1")).length, 4, "nothing issued");
  await hub.clock.advance(3_600_001);
  t.ok(await renew(t, hub, enrolled, holder), "a new window allows renewals again");
});

t.test(
  "a renewed certificate works for the grace period, then is refused (--superseded-grace)",
  async (t) => {
    const hub = await startHub(t, { flags: ["--superseded-grace", "10m"] });
    const enrolled = await enrol(t, hub, { runtime: "edge-1", algorithm: "ecdsa-p256" });
    const old = holderOf(enrolled);
    const renewed = await renew(t, hub, enrolled, old);
    await hub.clock.advance(599_000);
    t.equal(
      (await call(hub.publicUrl + MANAGEMENT, { dispatcher: old.agent })).status,
      200,
      "within the grace",
    );
    await hub.clock.advance(1_000);
    const refused = await call(hub.publicUrl + MANAGEMENT, { dispatcher: old.agent });
    t.same(refused.body, errorBody(403, ErrorMessages.certificateSuperseded), "then superseded");
    t.equal((await call(hub.publicUrl + MANAGEMENT, { dispatcher: renewed.agent })).status, 200);
  },
);
