/**
 * Bodies as Kyma's Go clients send them (docs/api.md#runtime-api, decoding): JSON whatever the Content-Type, keys
 * matched as Go's encoding/json matches struct fields, unknown keys ignored, on the routes Kyma has;
 * tether's own fields and routes stay strict. Real sockets; malformed and hostile bodies included.
 */
import { createHash } from "node:crypto";
import t from "tap";
import {
  ErrorMessages,
  csrRequestSchema,
  revocationByHashRequestSchema,
  tokenRequestSchema,
} from "@tether/shared/contract";
import { encodeBase64Pem, pemToDer, splitPemBundle } from "@tether/shared/pki";
import { goFields, goFold } from "../src/body-decoding.ts";
import {
  MANAGEMENT,
  RENEWALS,
  REVOCATIONS,
  adminHeaders,
  call,
  createToken,
  csrBody,
  csrInfo,
  enrol,
  errorBody as error,
  startHub,
} from "./helpers/hub.ts";
import { createCsr, generateKeyPair, parseSubject } from "@tether/shared/pki";

t.test("Go's key matching, as a pure function", async (t) => {
  t.same(
    goFields({ CSR: "a", extra: 1 }, csrRequestSchema),
    { csr: "a" },
    "case-insensitive, unknown dropped",
  );
  t.same(goFields({ csr: "a", CSR: "b" }, csrRequestSchema), { csr: "b" }, "the later key wins, as in Go");
  t.same(goFields({ CSR: "b", csr: "a" }, csrRequestSchema), { csr: "a" }, "whatever the case of either");
  t.same(goFields({ "c\u017fr": "a" }, csrRequestSchema), { csr: "a" }, "long s folds to s, as in Go");
  t.same(goFields({ HASH: "h" }, revocationByHashRequestSchema), { hash: "h" });
  t.same(goFields({ "csr\u0000": "a", "c sr": "b" }, csrRequestSchema), {}, "near misses are unknown keys");
  t.equal(goFold("\u212a"), goFold("k"), "the Kelvin sign folds to k");
  t.not(goFold("\u00df"), goFold("ss"), "ß is not ss (Go folds runes one by one)");
  const strict = { Runtime: "x" };
  t.equal(goFields(strict, tokenRequestSchema), strict, "a closed schema is left to strict validation");
  t.same(goFields([{ csr: "a" }], csrRequestSchema), [{ csr: "a" }], "not an object: validation refuses it");
});

t.test("the runtime API reads bodies as Kyma's Go clients send them", async (t) => {
  const hub = await startHub(t);
  const enrolled = await enrol(t, hub);
  const renew = (body: string, contentType?: string) =>
    call(hub.publicUrl + RENEWALS, {
      dispatcher: enrolled.agent,
      method: "POST",
      body,
      headers: contentType === undefined ? {} : { "content-type": contentType },
    });
  const csr = (await csrBody(enrolled.key, enrolled.subject)).csr;

  for (const [contentType, key] of [
    [undefined, "csr"],
    [undefined, "CSR"],
    ["text/plain", "Csr"],
    ["application/x-www-form-urlencoded", "csr"],
    ["application/json; charset=utf-8", "CSR"],
    ["application/octet-stream", "cSr"],
  ] as const) {
    const answer = await renew(JSON.stringify({ [key]: csr, metadataUrl: "ignored" }), contentType);
    t.equal(answer.status, 201, `renewal: ${contentType ?? "no Content-Type"}, key ${key}, unknown key`);
  }

  // Malformed and hostile bodies: refused in the {code, error} shape, nothing signed.
  const notJson = await renew("csr=abc", "text/plain");
  t.equal(notJson.status, 400, "not JSON under text/plain");
  t.match(notJson.body, { code: 400, error: /^The body is not valid JSON: / });
  t.equal((await renew("{", undefined)).status, 400, "truncated JSON, no Content-Type");
  t.same(
    (await renew(JSON.stringify({ csr, CSR: "!" }))).body,
    error(400, ErrorMessages.invalidBase64),
    "duplicate keys differing in case: the later one counts, as in Go",
  );
  t.same(
    (await renew(JSON.stringify({ CSR: { pem: "x" } }))).body,
    error(400, "body/csr must be string"),
    "an object for the CSR",
  );
  t.same((await renew("[]")).body, error(400, "body must be object"), "an array");
  t.same(
    (await renew(JSON.stringify({ other: csr }))).body,
    error(400, "body must have required property 'csr'"),
  );
  t.same((await renew("")).body, error(400, "body must be object"), "an empty body where a CSR is due");
  const poisoned = await renew(`{"__proto__": {"admin": true}, "csr": ${JSON.stringify(csr)}}`);
  t.equal(poisoned.status, 400, "prototype poisoning refused");
  const huge = await renew(JSON.stringify({ csr: "A".repeat(70_000) }));
  t.same([huge.status, huge.body], [413, error(413, ErrorMessages.bodyTooLarge)], "a huge body, no type");
  t.equal(
    (await call(hub.publicUrl + MANAGEMENT, { dispatcher: enrolled.agent })).status,
    200,
    "the certificate still works after every refusal",
  );

  // The initial issue, as a Go client: no Content-Type, an upper-case key.
  const token = await createToken(hub);
  const info = await csrInfo(hub, token.url);
  const key = await generateKeyPair("ecdsa-p256");
  const issued = await call<{ crt: string }>(info.csrUrl, {
    dispatcher: hub.agent,
    method: "POST",
    body: JSON.stringify({
      CSR: encodeBase64Pem(await createCsr(key, parseSubject(info.certificate.subject))),
    }),
  });
  t.equal(issued.status, 201, 'issue with no Content-Type and {"CSR": ...}');

  // Revocation takes no body: an empty one, or whatever is sent, is not read.
  const revoked = await call(hub.publicUrl + REVOCATIONS, {
    dispatcher: enrolled.agent,
    method: "POST",
    body: "not json at all",
    headers: { "content-type": "text/plain" },
  });
  t.equal(revoked.status, 201, "self-revocation ignores its body");
  t.same((await renew(JSON.stringify({ csr }))).body, error(403, ErrorMessages.certificateRevoked));
});

t.test("the internal API: Kyma's routes lenient, tether's own fields and routes strict", async (t) => {
  const hub = await startHub(t);
  const enrolled = await enrol(t, hub);
  const internal = (path: string, body: string | undefined, headers: Record<string, string> = {}) =>
    call(hub.internalUrl + path, { method: "POST", body, headers: adminHeaders(hub, headers) });
  const sha256 = createHash("sha256")
    .update(pemToDer(splitPemBundle(enrolled.certPem)[0]!))
    .digest("hex");

  t.same(
    (await internal(REVOCATIONS, JSON.stringify({ hash: sha256, HASH: "zz" }))).body,
    error(400, 'body/hash must match pattern "^[0-9a-fA-F]{64}$"'),
    "duplicate keys differing in case: the later, invalid one counts",
  );
  t.equal((await internal(REVOCATIONS, "hash", { "content-type": "text/plain" })).status, 400, "not JSON");
  t.equal(
    (await call(hub.publicUrl + MANAGEMENT, { dispatcher: enrolled.agent })).status,
    200,
    "not revoked by a refused request",
  );
  const byHash = await internal(REVOCATIONS, JSON.stringify({ Hash: sha256.toUpperCase(), Reason: "x" }));
  t.equal(byHash.status, 201, '{"Hash": ...} with no Content-Type and an unknown key, as Kyma sends it');
  t.same(
    (await call(hub.publicUrl + MANAGEMENT, { dispatcher: enrolled.agent })).body,
    error(403, ErrorMessages.certificateRevoked),
  );

  const tokens = "/v1/runtimes/tokens";
  const subject = { tenant: "acme", group: "prod" };
  t.equal((await internal(tokens, undefined, subject)).status, 201, "token: no body, no Content-Type");
  t.equal(
    (
      await internal(tokens, JSON.stringify({ runtime: "plain-1" }), {
        ...subject,
        "content-type": "text/plain",
      })
    ).status,
    201,
    "token: JSON under text/plain",
  );
  t.same(
    (await internal(tokens, JSON.stringify({ Runtime: "plain-2" }), subject)).body,
    error(400, "body must NOT have additional properties"),
    "tether's own fields match exactly: a mistyped key never mints a new runtime",
  );

  const kubeconfig = "/v1/runtimes/plain-1/bootstrap-kubeconfig";
  t.same(
    (await internal(kubeconfig, JSON.stringify({ ttl: "1h" }), { "content-type": "text/plain" })).body,
    error(415, "Unsupported Media Type: send the body as application/json."),
    "a route of tether's own takes JSON only",
  );
  t.equal(
    (await internal(kubeconfig, JSON.stringify({ ttl: "1h" }), { "content-type": "application/json" }))
      .status,
    200,
  );
  t.equal((await internal("/v1/nothing", "x", { "content-type": "text/plain" })).status, 404);
});
