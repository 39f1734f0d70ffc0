import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t, { type Test } from "tap";
import {
  type CertificateAuthority,
  type KeyAlgorithm,
  type Subject,
  certificateInfo,
  checkKeyAllowed,
  checkSubject,
  createCsr,
  createKeyring,
  createSelfSignedCa,
  decodeBase64Pem,
  derToPem,
  encodeBase64Pem,
  exportPrivateKeyPem,
  formatSubject,
  generateKeyPair,
  importPrivateKeyPem,
  issueCertificate,
  keyMatchesCertificate,
  loadCa,
  parseCsr,
  parseSubject,
  pemToDer,
  sha256Fingerprint,
  splitPemBundle,
  trustBundlePem,
  verifyChain,
} from "@tether/shared/pki";
import { FakeClock } from "@tether/shared/time";

const OPENSSL = "/usr/bin/openssl";
const DAY = 86_400_000;
const subject: Subject = { CN: "runtime-1", O: "tenant-a", OU: "group-b", L: "Berlin", ST: "BE", C: "DE" };

function tempDir(tt: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "tether-pki-"));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function openssl(args: string[], cwd: string): string {
  return execFileSync(OPENSSL, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** A tap pattern for a PkiError with this code (and message, exact or matched). */
function isPkiError(code: string, message?: string | RegExp) {
  return { name: "PkiError", code, ...(message === undefined ? {} : { message }) };
}

async function makeCa(algorithm: KeyAlgorithm, clock: FakeClock, commonName = `tether ${algorithm} CA`) {
  const { certPem, keyPem } = await createSelfSignedCa({ commonName, algorithm, clock });
  return loadCa(certPem, keyPem);
}

async function csrFor(algorithm: KeyAlgorithm, s: Subject = subject) {
  return parseCsr(await createCsr(await generateKeyPair(algorithm), s));
}

const SUBJ = "/C=DE/ST=BE/L=Berlin/O=tenant-a/OU=group-b/CN=runtime-1";

t.test("openssl-made CSRs parse and verify; ours pass openssl req -verify", async (t) => {
  const dir = tempDir(t);
  const keyArgs: Record<string, string[]> = {
    rsa2048: ["-newkey", "rsa:2048"],
    "ecdsa-p256": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "ecdsa-p384": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
    ed25519: ["-newkey", "ed25519"],
  };
  for (const [algorithm, args] of Object.entries(keyArgs)) {
    openssl(
      [
        "req",
        "-new",
        ...args,
        "-nodes",
        "-keyout",
        `${algorithm}.key`,
        "-subj",
        SUBJ,
        "-out",
        `${algorithm}.csr`,
      ],
      dir,
    );
    const csr = await parseCsr(readFileSync(join(dir, `${algorithm}.csr`), "utf8"));
    t.equal(csr.keyAlgorithm, algorithm, `${algorithm}: algorithm recognised`);
    t.same(csr.subject, subject, `${algorithm}: subject read`);
    t.doesNotThrow(() => checkSubject(csr, subject));
    t.doesNotThrow(() => checkKeyAllowed(csr, "rsa2048"));
    const key = await importPrivateKeyPem(readFileSync(join(dir, `${algorithm}.key`), "utf8"));
    t.equal(key.algorithm, algorithm, `${algorithm}: openssl's PKCS#8 key imports`);
  }
  for (const algorithm of ["rsa2048", "rsa3072", "ecdsa-p256", "ecdsa-p384", "ed25519"] as const) {
    const key = await generateKeyPair(algorithm);
    writeFileSync(join(dir, `ours-${algorithm}.csr`), await createCsr(key, subject));
    openssl(["req", "-verify", "-noout", "-in", `ours-${algorithm}.csr`], dir);
    t.pass(`openssl req -verify accepts our ${algorithm} CSR`);
    const again = await importPrivateKeyPem(await exportPrivateKeyPem(key));
    t.equal(again.algorithm, algorithm, `${algorithm}: PKCS#8 round trip`);
  }
  // Traditional "RSA PRIVATE KEY" / "EC PRIVATE KEY" files, as openssl writes them with -traditional.
  openssl(["genrsa", "-traditional", "-out", "trad-rsa.key", "2048"], dir);
  openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "trad-ec.key"], dir);
  const rsaPem = readFileSync(join(dir, "trad-rsa.key"), "utf8");
  const ecPem = readFileSync(join(dir, "trad-ec.key"), "utf8");
  t.match(rsaPem, /BEGIN RSA PRIVATE KEY/);
  t.match(ecPem, /BEGIN EC PRIVATE KEY/);
  t.equal((await importPrivateKeyPem(rsaPem)).algorithm, "rsa2048");
  t.equal((await importPrivateKeyPem(ecPem)).algorithm, "ecdsa-p256");
});

t.test("bad CSRs are refused with codes and clear messages", async (t) => {
  const dir = tempDir(t);
  const good = await createCsr(await generateKeyPair("ecdsa-p256"), subject);
  // Flip one byte near the end of the DER: inside the signature value.
  const der = pemToDer(good);
  der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0x01;
  await t.rejects(parseCsr(derToPem(der, "CERTIFICATE REQUEST")), isPkiError("bad-signature"));

  openssl(["genrsa", "-out", "weak.key", "1024"], dir);
  openssl(["req", "-new", "-key", "weak.key", "-subj", SUBJ, "-out", "weak.csr"], dir);
  const weak = await parseCsr(readFileSync(join(dir, "weak.csr"), "utf8"));
  t.equal(weak.keyAlgorithm, "rsa1024");
  t.throws(() => checkKeyAllowed(weak, "rsa2048"), isPkiError("weak-key", /rsa1024/));

  // Keys outside the allow-list: P-521 in a CSR, and as a CA key.
  openssl(
    [
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-521",
      "-nodes",
      "-keyout",
      "p521.key",
      "-subj",
      SUBJ,
      "-out",
      "p521.csr",
    ],
    dir,
  );
  await t.rejects(
    parseCsr(readFileSync(join(dir, "p521.csr"), "utf8")),
    isPkiError("key-not-allowed", /ecdsa-p521/),
  );
  await t.rejects(
    importPrivateKeyPem(readFileSync(join(dir, "p521.key"), "utf8")),
    isPkiError("key-not-allowed"),
  );
  await t.rejects(parseCsr("not a pem at all"), isPkiError("bad-pem"));
  await t.rejects(parseCsr(good.replace("CERTIFICATE REQUEST", "CERTIFICATE")), isPkiError("bad-pem"));
  await t.rejects(parseCsr(good.replace(/\n[A-Za-z0-9+/]{10}/, "\n!!!!!!!!!!")), isPkiError("bad-pem"));
  await t.rejects(
    parseCsr(derToPem(new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]), "CERTIFICATE REQUEST")),
    isPkiError("bad-csr"),
  );

  const base64Message =
    "There was an error while parsing the base64 content. An incorrect value was provided.";
  for (const bad of ["", "not base64!", "abc", "YWJj\n", "YW=j"]) {
    t.throws(
      () => decodeBase64Pem(bad),
      isPkiError("bad-base64", base64Message),
      `refuses ${JSON.stringify(bad)}`,
    );
  }
  t.equal(decodeBase64Pem(encodeBase64Pem(good)), good, "base64 round trip");
});

t.test("key strength order against the advertised minimum", async (t) => {
  const order: KeyAlgorithm[] = ["rsa2048", "rsa3072", "ecdsa-p256", "ed25519", "rsa4096", "ecdsa-p384"];
  const csrs = new Map<KeyAlgorithm, Awaited<ReturnType<typeof csrFor>>>();
  for (const algorithm of order) csrs.set(algorithm, await csrFor(algorithm));
  const rank: Record<KeyAlgorithm, number> = {
    rsa2048: 0,
    rsa3072: 1,
    "ecdsa-p256": 1,
    ed25519: 1,
    rsa4096: 2,
    "ecdsa-p384": 3,
  };
  for (const minimum of order) {
    for (const algorithm of order) {
      const csr = csrs.get(algorithm)!;
      if (rank[algorithm] >= rank[minimum])
        t.doesNotThrow(() => checkKeyAllowed(csr, minimum), `${algorithm} >= ${minimum}`);
      else t.throws(() => checkKeyAllowed(csr, minimum), isPkiError("weak-key"), `${algorithm} < ${minimum}`);
    }
  }
});

t.test("subject: every field, CN first, any RDN order, the Kyma string", async (t) => {
  const dir = tempDir(t);
  const messages: [keyof Subject, string][] = [
    ["CN", "CSR: Invalid common name provided."],
    ["C", "CSR: Invalid country provided."],
    ["O", "CSR: Invalid organization provided."],
    ["OU", "CSR: Invalid organizational unit provided."],
    ["L", "CSR: Invalid locality provided."],
    ["ST", "CSR: Invalid province provided."],
  ];
  const csr = await csrFor("ecdsa-p256");
  for (const [field, message] of messages) {
    t.throws(
      () => checkSubject(csr, { ...subject, [field]: "other" }),
      isPkiError("subject", message),
      field,
    );
  }
  const allWrong: Subject = { CN: "x", O: "x", OU: "x", L: "x", ST: "x", C: "XX" };
  t.throws(() => checkSubject(csr, allWrong), isPkiError("subject", "CSR: Invalid common name provided."));
  t.throws(
    () => checkSubject(csr, { ...allWrong, CN: subject.CN }),
    isPkiError("subject", "CSR: Invalid country provided."),
    "then the country",
  );

  // Reverse RDN order, made by openssl.
  openssl(
    [
      "req",
      "-new",
      "-newkey",
      "ed25519",
      "-nodes",
      "-keyout",
      "r.key",
      "-subj",
      "/CN=runtime-1/OU=group-b/O=tenant-a/L=Berlin/ST=BE/C=DE",
      "-out",
      "r.csr",
    ],
    dir,
  );
  const reversed = await parseCsr(readFileSync(join(dir, "r.csr"), "utf8"));
  t.doesNotThrow(() => checkSubject(reversed, subject), "RDN order does not matter");
  // A missing field and a repeated one never match.
  openssl(
    [
      "req",
      "-new",
      "-newkey",
      "ed25519",
      "-nodes",
      "-keyout",
      "m.key",
      "-subj",
      "/C=DE/ST=BE/L=Berlin/O=tenant-a/CN=runtime-1",
      "-out",
      "m.csr",
    ],
    dir,
  );
  const missing = await parseCsr(readFileSync(join(dir, "m.csr"), "utf8"));
  t.throws(
    () => checkSubject(missing, subject),
    isPkiError("subject", "CSR: Invalid organizational unit provided."),
  );
  openssl(
    [
      "req",
      "-new",
      "-newkey",
      "ed25519",
      "-nodes",
      "-keyout",
      "d.key",
      "-subj",
      "/C=DE/ST=BE/L=Berlin/O=tenant-a/O=tenant-a/OU=group-b/CN=runtime-1",
      "-out",
      "d.csr",
    ],
    dir,
  );
  const repeated = await parseCsr(readFileSync(join(dir, "d.csr"), "utf8"));
  t.throws(
    () => checkSubject(repeated, subject),
    isPkiError("subject", "CSR: Invalid organization provided."),
  );

  const text = formatSubject(subject);
  t.equal(text, "O=tenant-a,OU=group-b,L=Berlin,ST=BE,C=DE,CN=runtime-1");
  t.same(parseSubject(text), subject);
  t.same(parseSubject("CN=runtime-1,C=DE,ST=BE,L=Berlin,OU=group-b,O=tenant-a"), subject, "any order");
  t.throws(() => formatSubject({ ...subject, O: "a,b" }), isPkiError("subject"));
  t.throws(() => formatSubject({ ...subject, CN: "a=b" }), isPkiError("subject"));
  for (const bad of [
    "O=a=b,OU=g,L=l,ST=s,C=DE,CN=r",
    "O=t,OU=g,L=l,ST=s,C=DE",
    "O=t,OU=g,L=l,ST=s,C=DE,CN=r,CN=r",
    "O=t,OU=g,L=l,ST=s,C=DE,CN=r,X=y",
    "O=t,OU=g,L=l,ST=s,C=DE,CN",
  ]) {
    t.throws(() => parseSubject(bad), isPkiError("subject"), bad);
  }
});

async function issueAndVerify(t: Test, caAlgorithm: KeyAlgorithm, leafAlgorithm: KeyAlgorithm) {
  const dir = tempDir(t);
  const clock = new FakeClock("2026-03-01T12:00:00Z");
  const ca = await makeCa(caAlgorithm, clock);
  const csr = await csrFor(leafAlgorithm);
  checkSubject(csr, subject);
  const issued = await issueCertificate({ csr, ca, validityMs: 30 * DAY, clock: new FakeClock() });
  writeFileSync(join(dir, "ca.pem"), ca.certPem);
  writeFileSync(join(dir, "leaf.pem"), issued.pem);
  // openssl verify checks against the real time: the FakeClock's default (2026-01-01) is in the past
  // of the machine, so issue at the machine's time here.
  const now = new FakeClock(new Date(Math.floor(Date.now() / 1000) * 1000));
  const live = await issueCertificate({ csr, ca, validityMs: 30 * DAY, clock: now });
  writeFileSync(join(dir, "live.pem"), live.pem);
  const out = openssl(
    ["verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", "ca.pem", "live.pem"],
    dir,
  );
  t.match(out, /live.pem: OK/, `${caAlgorithm} CA, ${leafAlgorithm} leaf: openssl verify sslclient`);
  const text = openssl(["x509", "-in", "live.pem", "-noout", "-text"], dir);
  t.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/);
  t.match(text, /X509v3 Key Usage: critical\s+Digital Signature/);
  if (leafAlgorithm.startsWith("rsa")) t.match(text, /Digital Signature, Key Encipherment/);
  else t.notMatch(text, /Key Encipherment/);
  t.match(text, /TLS Web Client Authentication/);
  t.match(text, /X509v3 Subject Key Identifier/);
  t.match(
    text,
    new RegExp(
      `X509v3 Authority Key Identifier:\\s+(keyid:)?${ca.subjectKeyId.toUpperCase().replace(/(..)(?!$)/g, "$1:")}`,
    ),
  );
  t.ok(await keyMatchesCertificate(ca.key, ca.certPem));
  return { ca, issued };
}

t.test("issued certificates pass openssl verify -x509_strict for an EC and an RSA CA", async (t) => {
  await issueAndVerify(t, "ecdsa-p256", "rsa2048");
  await issueAndVerify(t, "rsa2048", "ecdsa-p256");
  await issueAndVerify(t, "ecdsa-p384", "ed25519");
});

t.test("server certificates carry serverAuth and SANs and pass -purpose sslserver", async (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock(new Date(Math.floor(Date.now() / 1000) * 1000));
  for (const algorithm of ["ecdsa-p256", "rsa2048"] as const) {
    const ca = await makeCa(algorithm, clock);
    const csr = await csrFor("ecdsa-p256", { ...subject, CN: "hub.example.com" });
    const issued = await issueCertificate({
      csr,
      ca,
      validityMs: DAY,
      clock,
      usage: "server",
      dnsNames: ["hub.example.com", "localhost"],
      ipAddresses: ["127.0.0.1"],
    });
    writeFileSync(join(dir, "ca.pem"), ca.certPem);
    writeFileSync(join(dir, "server.pem"), issued.pem);
    t.match(
      openssl(["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", "ca.pem", "server.pem"], dir),
      /OK/,
    );
    const text = openssl(
      ["x509", "-in", "server.pem", "-noout", "-ext", "subjectAltName,extendedKeyUsage"],
      dir,
    );
    t.match(text, /DNS:hub.example.com, DNS:localhost, IP Address:127.0.0.1/);
    t.match(text, /TLS Web Server Authentication/);
  }
});

t.test("serials, validity window and the issued facts", async (t) => {
  const clock = new FakeClock("2026-03-01T12:00:00Z");
  const ca = await makeCa("ecdsa-p256", clock);
  const csr = await csrFor("ecdsa-p256");
  const serials = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const issued = await issueCertificate({ csr, ca, validityMs: 30 * DAY, clock });
    t.match(issued.serial, /^[0-9A-F]+$/, "upper-case hex");
    t.ok(BigInt(`0x${issued.serial}`) >= 2n ** 64n, ">= 64 bits");
    serials.add(issued.serial);
    if (i === 0) {
      t.equal(issued.notBefore.toISOString(), "2026-03-01T11:55:00.000Z", "notBefore = now - 5m");
      t.equal(issued.notAfter.toISOString(), "2026-03-31T12:00:00.000Z", "notAfter = now + validity");
      const info = certificateInfo(issued.pem);
      t.equal(info.serial, issued.serial);
      t.equal(info.sha256, issued.sha256);
      t.equal(issued.sha256, sha256Fingerprint(issued.pem));
      t.match(issued.sha256, /^[0-9a-f]{64}$/);
      t.same(info.notBefore, issued.notBefore);
      t.same(info.notAfter, issued.notAfter);
      t.same(info.subject, subject);
      t.match(info.issuer, /tether ecdsa-p256 CA/);
      t.equal(issued.issuerSha256, ca.sha256);
      t.equal(ca.sha256, sha256Fingerprint(ca.certPem));
    }
  }
  t.equal(serials.size, 20, "serials are distinct");
});

t.test("a leaf never outlives its CA; an expired CA signs nothing", async (t) => {
  const clock = new FakeClock("2026-03-01T12:00:00Z");
  const { certPem, keyPem } = await createSelfSignedCa({ commonName: "short", validityMs: 10 * DAY, clock });
  const ca = await loadCa(certPem, keyPem);
  const csr = await csrFor("ecdsa-p256");
  const issued = await issueCertificate({ csr, ca, validityMs: 30 * DAY, clock });
  t.same(issued.notAfter, ca.cert.notAfter, "notAfter cut to the CA's");
  await clock.advance(11 * DAY);
  await t.rejects(issueCertificate({ csr, ca, validityMs: DAY, clock }), isPkiError("bad-ca"));
  const late = await verifyChain(issued.pem, createKeyring(ca), new Date(ca.cert.notAfter.getTime() - 1000));
  t.ok(late.ok, "valid until the CA's last second");
});

t.test("verifyChain: trusted, other CA, expired, not yet valid, CA dropped from the keyring", async (t) => {
  const clock = new FakeClock("2026-03-01T12:00:00Z");
  const ca = await makeCa("ecdsa-p256", clock, "tether CA one");
  const other = await makeCa("ecdsa-p256", clock, "tether CA two");
  const next = await makeCa("rsa2048", clock, "tether CA three");
  const issued = await issueCertificate({ csr: await csrFor("ecdsa-p256"), ca, validityMs: 30 * DAY, clock });
  const now = clock.now();

  const ok = await verifyChain(issued.pem, createKeyring(ca), now);
  t.ok(ok.ok, "trusted");
  if (ok.ok) t.equal(ok.issuer.sha256, ca.sha256);
  const bundle = issued.pem + ca.certPem;
  t.ok((await verifyChain(bundle, [ca.certPem], now)).ok, "PEM list, leaf + CA bundle");

  const untrusted = await verifyChain(issued.pem, createKeyring(other), now);
  t.notOk(untrusted.ok, "another CA");
  if (!untrusted.ok) t.equal(untrusted.reason, "untrusted");

  const expired = await verifyChain(issued.pem, createKeyring(ca), new Date(now.getTime() + 31 * DAY));
  t.same(expired.ok ? "ok" : expired.reason, "expired");
  const early = await verifyChain(issued.pem, createKeyring(ca), new Date(now.getTime() - 10 * 60_000));
  t.same(early.ok ? "ok" : early.reason, "not-yet-valid");

  // Rotation: the old CA stays trusted beside the new active one, then is dropped.
  const rotated = createKeyring(next, [ca]);
  t.ok((await verifyChain(issued.pem, rotated, now)).ok, "old CA still trusted after rotation");
  t.equal(splitPemBundle(trustBundlePem(rotated)).length, 2);
  t.equal(splitPemBundle(trustBundlePem(rotated))[0], next.certPem);
  const dropped = await verifyChain(issued.pem, createKeyring(next), now);
  t.same(dropped.ok ? "ok" : dropped.reason, "untrusted", "CA no longer in the keyring");

  const garbage = await verifyChain("nope", createKeyring(ca), now);
  t.same(garbage.ok ? "ok" : garbage.reason, "malformed");
});

t.test("loadCa refuses a foreign key and a leaf; keeps the chain", async (t) => {
  const clock = new FakeClock("2026-03-01T12:00:00Z");
  const one = await createSelfSignedCa({ commonName: "one", clock });
  const two = await createSelfSignedCa({ commonName: "two", algorithm: "rsa2048", clock });
  await t.rejects(loadCa(one.certPem, two.keyPem), isPkiError("bad-ca"));
  const ca: CertificateAuthority = await loadCa(one.certPem + two.certPem, one.keyPem);
  t.same(ca.chainPem, [two.certPem]);
  t.match(ca.subjectKeyId, /^[0-9a-f]+$/);
  const key = await generateKeyPair("ecdsa-p256");
  const leaf = await issueCertificate({
    csr: await parseCsr(await createCsr(key, subject)),
    ca,
    validityMs: DAY,
    clock,
  });
  await t.rejects(loadCa(leaf.pem, await exportPrivateKeyPem(key)), isPkiError("bad-ca"));
  t.ok(await keyMatchesCertificate(key, leaf.pem));
  t.notOk(await keyMatchesCertificate(ca.key, leaf.pem));
  const info = certificateInfo(one.certPem);
  t.ok(info.notAfter.getTime() - clock.now().getTime() === 3650 * DAY, "ten years (3650 days) by default");
  await t.rejects(
    importPrivateKeyPem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
    isPkiError("bad-key"),
  );
});
