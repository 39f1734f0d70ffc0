/**
 * Each trusted CA's CRL: published without authentication on the external listener, signed by that
 * CA, carrying the CRL number and AKI, named by the CRL Distribution Point of every issued
 * certificate, rebuilt when a certificate is revoked and otherwise served from cache with ETag and
 * Last-Modified. openssl is the judge, as it is for an operator.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import t from "tap";
import { request } from "undici";
import { certificateInfo, sha256Fingerprint, splitPemBundle } from "@tether/shared/pki";
import { parseConfig } from "../src/config.ts";
import {
  MANAGEMENT,
  REVOCATIONS,
  adminHeaders,
  call,
  enrol,
  errorBody as error,
  startHub,
  tempDir,
  type TestHub,
} from "./helpers/hub.ts";
import { openssl } from "./helpers/process.ts";

async function getCrl(
  hub: TestHub,
  headers: Record<string, string> = {},
  issuer = hub.keyring.active.sha256,
) {
  const response = await request(`${hub.publicUrl}/v1/crl/${issuer}.crl`, { dispatcher: hub.agent, headers });
  const body = Buffer.from(await response.body.arrayBuffer());
  return { status: response.statusCode, headers: response.headers, body };
}

t.test("--crl-validity defaults to 24h", async (t) => {
  t.equal(parseConfig([], {}).crlValidityMs, 86_400_000);
});

t.test("a CA's CRL: signed, named in its certificates, rebuilt on revocation, cached between", async (t) => {
  const hub = await startHub(t, { flags: ["--crl-validity", "2h"] });
  const dir = tempDir(t);
  const file = (name: string, text: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  const caFile = file("ca.crt", hub.caPem);
  const first = await enrol(t, hub);
  const second = await enrol(t, hub);
  const leaf = (pem: string) => splitPemBundle(pem)[0]!;
  const firstFile = file("first.crt", leaf(first.certPem));
  const secondFile = file("second.crt", leaf(second.certPem));

  const crlUrl = `${hub.publicUrl}/v1/crl/${hub.keyring.active.sha256}.crl`;
  const text = await openssl(["x509", "-in", firstFile, "-noout", "-text"]);
  t.match(text, /X509v3 CRL Distribution Points/, "issued certificates carry a CRL Distribution Point");
  t.ok(text.includes(`URI:${crlUrl}`), "built from the public URL");

  const empty = await getCrl(hub);
  t.equal(empty.status, 200, "no client certificate needed");
  t.equal(empty.headers["content-type"], "application/pkix-crl");
  const emptyFile = file("empty.crl", empty.body);
  // openssl reports the verification on stderr.
  const args = ["crl", "-inform", "DER", "-in", emptyFile, "-CAfile", caFile, "-noout", "-verify"];
  const { stderr: verified } = await promisify(execFile)("openssl", args);
  t.match(verified, /verify OK/, "openssl crl -verify -CAfile ca.crt accepts it");
  const emptyText = await openssl(["crl", "-inform", "DER", "-in", emptyFile, "-noout", "-text"]);
  t.match(emptyText, /X509v3 CRL Number/, "CRL number");
  t.match(emptyText, /X509v3 Authority Key Identifier/, "AKI");
  t.match(emptyText, /No Revoked Certificates/);
  const updates = (crlText: string) =>
    ["Last Update", "Next Update"].map((label) =>
      Date.parse(new RegExp(`${label}: (.+)`).exec(crlText)![1]!),
    );
  const [thisUpdate, nextUpdate] = updates(emptyText);
  t.equal(nextUpdate! - thisUpdate!, 2 * 3_600_000, "nextUpdate is thisUpdate + --crl-validity");

  const again = await getCrl(hub);
  t.equal(again.headers.etag, empty.headers.etag, "served from cache while nothing changes");
  t.same(again.body, empty.body, "the same bytes");
  t.equal((await getCrl(hub, { "if-none-match": String(empty.headers.etag) })).status, 304, "If-None-Match");
  t.equal(
    (await getCrl(hub, { "if-modified-since": String(empty.headers["last-modified"]) })).status,
    304,
    "If-Modified-Since",
  );
  t.equal(
    (
      await getCrl(hub, {
        "if-none-match": '"other"',
        "if-modified-since": String(empty.headers["last-modified"]),
      })
    ).status,
    200,
    "If-None-Match decides when both are sent",
  );

  // The first runtime revokes its own certificate.
  t.equal((await call(hub.publicUrl + REVOCATIONS, { dispatcher: first.agent, method: "POST" })).status, 201);
  const revoked = await getCrl(hub, { "if-none-match": String(empty.headers.etag) });
  t.equal(revoked.status, 200, "rebuilt when a certificate is revoked: the old ETag no longer matches");
  t.not(revoked.headers.etag, empty.headers.etag);
  const revokedFile = file("revoked.crl", revoked.body);
  const revokedText = await openssl(["crl", "-inform", "DER", "-in", revokedFile, "-noout", "-text"]);
  t.ok(revokedText.includes(`Serial Number: ${certificateInfo(leaf(first.certPem)).serial}`), "lists it");
  t.notOk(revokedText.includes(certificateInfo(leaf(second.certPem)).serial), "and not the live one");
  const crlPem = file("revoked.pem", await openssl(["crl", "-inform", "DER", "-in", revokedFile]));
  const verify = async (certFile: string) =>
    openssl(["verify", "-crl_check", "-CAfile", caFile, "-CRLfile", crlPem, certFile]).catch(
      (failure: { stdout: string; stderr: string }) => `${failure.stdout}${failure.stderr}`,
    );
  t.match(await verify(firstFile), /certificate revoked/, "openssl verify -crl_check: revoked");
  t.match(await verify(secondFile), /second\.crt: OK/, "openssl verify -crl_check: the live one is OK");

  // A revocation another replica wrote into the shared store rebuilds it too.
  await hub.store.revoke({
    sha256: sha256Fingerprint(leaf(second.certPem)),
    revokedAt: hub.clock.now(),
    reason: "admin",
  });
  const both = await getCrl(hub);
  t.not(both.headers.etag, revoked.headers.etag);
  const bothText = await openssl([
    "crl",
    "-inform",
    "DER",
    "-in",
    file("both.crl", both.body),
    "-noout",
    "-text",
  ]);
  t.equal(bothText.match(/Serial Number/g)?.length, 2);
  const number = (crlText: string) => /CRL Number: \n\s*(\d+)/.exec(crlText)?.[1];
  t.ok(BigInt(number(bothText)!) > BigInt(number(revokedText)!), "the CRL number grows");

  // Half the validity later it is signed afresh, so no client ever holds one near its nextUpdate.
  await hub.clock.advance(3_600_000);
  const refreshed = await getCrl(hub);
  t.not(refreshed.headers.etag, both.headers.etag, "re-signed after half of --crl-validity");
  const [refreshedThis] = updates(
    await openssl(["crl", "-inform", "DER", "-in", file("refreshed.crl", refreshed.body), "-noout", "-text"]),
  );
  t.ok(refreshedThis! > thisUpdate!, "with a later thisUpdate");
  t.equal((await call(hub.publicUrl + MANAGEMENT, { dispatcher: second.agent })).status, 403, "and refused");
});

t.test("only trusted CAs have a CRL", async (t) => {
  const hub = await startHub(t);
  const unknown = await getCrl(hub, {}, "ab".repeat(32));
  t.same(
    [unknown.status, JSON.parse(unknown.body.toString())],
    [404, error(404, "No trusted hub CA has this SHA-256.")],
  );
  const bad = await getCrl(hub, {}, "not-a-hash");
  t.equal(bad.status, 400);
  t.match(JSON.parse(bad.body.toString()), { code: 400, error: /params\/issuer/ });
  const internal = await call(`${hub.internalUrl}/v1/crl/${hub.keyring.active.sha256}.crl`, {
    headers: adminHeaders(hub),
  });
  t.equal(internal.status, 404, "on the external listener only");
});
