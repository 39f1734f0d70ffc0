/**
 * The certificates, CSRs and CRLs written as DER directly (docs/pki.md#how-a-certificate-is-built)
 * against three judges: the @peculiar/x509 code they replace (same fields and extensions byte for
 * byte, same parse results), openssl, and Go's crypto/x509.
 */
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import t, { type Test } from "tap";
import {
  type CertificateAuthority,
  type KeyAlgorithm,
  type KeyPair,
  type Subject,
  certificateInfo,
  createCrl,
  createCsr,
  createSelfSignedCa,
  generateKeyPair,
  issueCertificate,
  loadCa,
  parseCsr,
  pemToDer,
} from "@tether/shared/pki";
import { FakeClock } from "@tether/shared/time";
import { DerReader, Tag, rawOf } from "../../src/pki/der.ts";
import { sha256Fingerprint } from "../../src/pki/fingerprint.ts";
import { subjectOf } from "../../src/pki/subject.ts";
import { X509Certificate } from "../../src/pki/x509.ts";
// The harness's file, not its index: a PKI test needs no control plane.
import { buildGoProgram } from "../../../../e2e/harness/go-build.ts";
import {
  peculiarCreateCsr,
  peculiarIssue,
  peculiarParseCsr,
  subjectValues,
} from "../../src/pki/reference/peculiar.ts";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const buildGoVerify = () =>
  buildGoProgram({ source: join(here, "go-verify"), name: "go-verify", cache: "go-verify" });
const DAY = 86_400_000;
const subject: Subject = { CN: "runtime-1", O: "tenant-a", OU: "group-b", L: "Berlin", ST: "BE", C: "DE" };
const algorithms: KeyAlgorithm[] = ["ecdsa-p256", "ecdsa-p384", "ed25519", "rsa2048"];

async function judge(binary: string, args: string[], cwd: string): Promise<string> {
  return run(binary, args, { cwd }).then(
    ({ stdout }) => stdout.trim(),
    (error: { stdout: string }) => error.stdout.trim(),
  );
}

function openssl(args: string[], cwd: string): string {
  return execFileSync("openssl", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

function tempDir(tt: Test): string {
  const dir = mkdtempSync(join(tmpdir(), "tether-pki-interop-"));
  tt.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Each TBSCertificate field as hex, and the outer signature algorithm. */
function certificateFields(pem: string) {
  const der = pemToDer(pem, "CERTIFICATE");
  const outer = DerReader.inside(der, new DerReader(der).next(Tag.sequence));
  const tbs = DerReader.inside(der, outer.next(Tag.sequence));
  const hex = (tag?: number) => Buffer.from(rawOf(der, tbs.next(tag))).toString("hex");
  const fields = {
    version: hex(0xa0),
    serial: hex(Tag.integer),
    signature: hex(Tag.sequence),
    issuer: hex(Tag.sequence),
    validity: hex(Tag.sequence),
    subject: hex(Tag.sequence),
    spki: hex(Tag.sequence),
    extensions: [] as string[],
    outerSignature: "",
  };
  const extensions = DerReader.inside(der, DerReader.inside(der, tbs.next(0xa3)).next(Tag.sequence));
  while (!extensions.atEnd())
    fields.extensions.push(Buffer.from(rawOf(der, extensions.next())).toString("hex"));
  tbs.finish();
  fields.outerSignature = Buffer.from(rawOf(der, outer.next(Tag.sequence))).toString("hex");
  return fields;
}

const keys = new Map<KeyAlgorithm, KeyPair>();
const cas = new Map<KeyAlgorithm, CertificateAuthority>();
const clock = new FakeClock(new Date(Math.floor(Date.now() / 1000) * 1000));
for (const algorithm of algorithms) {
  keys.set(algorithm, await generateKeyPair(algorithm));
  const { certPem, keyPem } = await createSelfSignedCa({
    commonName: `interop ${algorithm} CA`,
    algorithm,
    clock,
  });
  cas.set(algorithm, await loadCa(certPem, keyPem));
}
const keyOf = (algorithm: KeyAlgorithm) => keys.get(algorithm)!;
const caOf = (algorithm: KeyAlgorithm) => cas.get(algorithm)!;

t.test("every field and extension as @peculiar/x509 wrote it, byte for byte (serial aside)", async (t) => {
  const utf8Subject: Subject = { ...subject, O: "tenant_ä", OU: "" };
  const variants = [
    { name: "client", options: {} },
    {
      name: "server with SANs and a CRL distribution point",
      options: {
        usage: "server" as const,
        dnsNames: ["hub.example.com", "localhost"],
        ipAddresses: ["127.0.0.1", "::1", "2001:db8::8a2e:370:7334", "fe80::1:2"],
        crlDistributionPoint: "https://hub.example.com/v1/crl/0123abcd",
      },
    },
  ];
  for (const caAlgorithm of algorithms) {
    for (const leafAlgorithm of algorithms) {
      for (const { name, options } of variants) {
        const s = leafAlgorithm === "ed25519" ? utf8Subject : subject;
        const csr = await parseCsr(await createCsr(keyOf(leafAlgorithm), s));
        const common = { csr, ca: caOf(caAlgorithm), validityMs: 30 * DAY, clock, ...options };
        const ours = await issueCertificate(common);
        const theirs = await peculiarIssue({ ...common, serial: ours.serial });
        const label = `${caAlgorithm} CA, ${leafAlgorithm} leaf, ${name}`;
        t.same(certificateFields(ours.pem), certificateFields(theirs.pem), label);
        t.same(
          { ...ours, pem: "", sha256: "" },
          { ...theirs, pem: "", sha256: "" },
          `${label}: issued facts`,
        );
      }
    }
  }
});

t.test("openssl and Go's crypto/x509 verify the certificates for every CA and leaf key", async (t) => {
  const go = await buildGoVerify();
  const dir = tempDir(t);
  for (const caAlgorithm of algorithms) {
    const ca = caOf(caAlgorithm);
    writeFileSync(join(dir, "ca.pem"), ca.certPem);
    for (const leafAlgorithm of ["ecdsa-p256", "rsa2048", "ed25519"] as const) {
      const label = `${caAlgorithm} CA, ${leafAlgorithm} leaf`;
      const csr = await parseCsr(await createCsr(keyOf(leafAlgorithm), subject));
      const client = await issueCertificate({ csr, ca, validityMs: 30 * DAY, clock });
      writeFileSync(join(dir, "client.pem"), client.pem);
      t.match(
        openssl(["verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", "ca.pem", "client.pem"], dir),
        /client.pem: OK/,
        `${label}: openssl verify -purpose sslclient`,
      );
      const text = openssl(["x509", "-in", "client.pem", "-noout", "-text"], dir);
      t.match(text, /X509v3 Basic Constraints: critical\s+CA:FALSE/, `${label}: openssl x509 -text`);
      t.equal(
        await judge(go, ["cert", "ca.pem", "client.pem", "client"], dir),
        "ok",
        `${label}: Go, ClientAuth`,
      );

      const server = await issueCertificate({
        csr,
        ca,
        validityMs: DAY,
        clock,
        usage: "server",
        dnsNames: ["hub.example.com"],
        ipAddresses: ["127.0.0.1"],
        crlDistributionPoint: "https://hub.example.com/v1/crl/x",
      });
      writeFileSync(join(dir, "server.pem"), server.pem);
      t.match(
        openssl(["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", "ca.pem", "server.pem"], dir),
        /server.pem: OK/,
        `${label}: openssl verify -purpose sslserver`,
      );
      t.equal(
        await judge(go, ["cert", "ca.pem", "server.pem", "server", "hub.example.com"], dir),
        "ok",
        `${label}: Go, ServerAuth for hub.example.com`,
      );
      // A certificate for clients is not one for servers: the judge can say no.
      t.match(await judge(go, ["cert", "ca.pem", "client.pem", "server"], dir), /incompatible key usage/);
    }
    const crl = createCrl({
      ca,
      entries: [{ serial: "40AB", revokedAt: clock.now() }],
      thisUpdate: clock.now(),
      nextUpdate: new Date(clock.now().getTime() + DAY),
      number: 7n,
    });
    writeFileSync(join(dir, "crl.der"), crl);
    t.equal(
      await judge(go, ["crl", "ca.pem", "crl.der"], dir),
      "ok",
      `${caAlgorithm} CA: Go reads and checks the CRL`,
    );
    const crlText = execFileSync(
      "openssl",
      ["crl", "-inform", "DER", "-in", "crl.der", "-CAfile", "ca.pem", "-noout", "-text"],
      { cwd: dir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
    );
    t.match(crlText, /Serial Number: 40AB/, `${caAlgorithm} CA: openssl reads the CRL`);
  }
  const other = caOf("ecdsa-p256");
  writeFileSync(join(dir, "other.pem"), caOf("ecdsa-p384").certPem);
  const csr = await parseCsr(await createCsr(keyOf("ecdsa-p256"), subject));
  writeFileSync(
    join(dir, "client.pem"),
    (await issueCertificate({ csr, ca: other, validityMs: DAY, clock })).pem,
  );
  t.match(
    await judge(go, ["cert", "other.pem", "client.pem", "client"], dir),
    /unknown authority/,
    "another CA",
  );
});

t.test("CSRs: ours as @peculiar/x509 wrote them; everyone's parsed as it parsed them", async (t) => {
  const go = await buildGoVerify();
  const dir = tempDir(t);
  for (const algorithm of algorithms) {
    const pem = await createCsr(keyOf(algorithm), subject);
    writeFileSync(join(dir, `${algorithm}.csr`), pem);
    openssl(["req", "-verify", "-noout", "-in", `${algorithm}.csr`], dir);
    t.equal(await judge(go, ["csr", `${algorithm}.csr`], dir), "ok", `${algorithm}: Go checks our CSR`);
    // RSA PKCS#1 v1.5 and Ed25519 signatures are deterministic: the whole CSR must match.
    if (algorithm === "rsa2048" || algorithm === "ed25519") {
      t.equal(pem, await peculiarCreateCsr(keyOf(algorithm), subject), `${algorithm}: same bytes`);
    }
  }
  const made: [string, string[]][] = [
    ["rsa-sha1", ["-newkey", "rsa:2048", "-sha1"]],
    ["rsa-sha512", ["-newkey", "rsa:3072", "-sha512"]],
    ["rsa-pss", ["-newkey", "rsa:2048", "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"]],
    ["rsa-pss-sha384", ["-newkey", "rsa:2048", "-sha384", "-sigopt", "rsa_padding_mode:pss"]],
    ["rsa1024", ["-newkey", "rsa:1024"]],
    ["p256-sha384", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-sha384"]],
    ["p384", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"]],
    ["p521", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-521"]],
    ["secp256k1", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:secp256k1"]],
    ["ed25519", ["-newkey", "ed25519"]],
    ["ed448", ["-newkey", "ed448"]],
    ["utf8", ["-newkey", "ed25519", "-utf8", "-subj", "/C=DE/ST=BE/L=Köln/O=tenant ä/OU=g/CN=runtime-1"]],
    ["multi-valued-rdn", ["-newkey", "ed25519", "-multivalue-rdn", "-subj", "/C=DE+ST=BE/L=x/O=t+OU=g/CN=r"]],
    [
      "extra-attributes",
      ["-newkey", "ed25519", "-subj", "/C=DE/ST=BE/L=x/O=t/OU=g/CN=r/UID=admin/DC=example"],
    ],
    [
      "with-extensions",
      [
        "-newkey",
        "ed25519",
        "-addext",
        "subjectAltName=DNS:x.example",
        "-addext",
        "basicConstraints=CA:TRUE",
      ],
    ],
  ];
  for (const [name, args] of made) {
    const subj = args.includes("-subj")
      ? []
      : ["-subj", "/C=DE/ST=BE/L=Berlin/O=tenant-a/OU=group-b/CN=runtime-1"];
    openssl(
      ["req", "-new", "-nodes", "-keyout", `${name}.key`, ...subj, ...args, "-out", `${name}.csr`],
      dir,
    );
    const pem = readFileSync(join(dir, `${name}.csr`), "utf8");
    const outcome = async (parse: () => Promise<object>) =>
      parse().then(
        (parsed) => {
          const {
            subject: s,
            subjectValues,
            keyAlgorithm,
            keyBits,
            spki,
          } = parsed as Awaited<ReturnType<typeof parseCsr>>;
          return { s, subjectValues, keyAlgorithm, keyBits, spki: Buffer.from(spki).toString("hex") };
        },
        (error: { code: string; message: string }) => ({ code: error.code, message: error.message }),
      );
    t.same(await outcome(() => parseCsr(pem)), await outcome(() => peculiarParseCsr(pem)), name);
  }
});

t.test(
  "certificateInfo reads what x509 read: ours, openssl's, serials with the high bit, 2050+",
  async (t) => {
    const dir = tempDir(t);
    const csr = await parseCsr(await createCsr(keyOf("ecdsa-p256"), subject));
    const pems = [
      ...algorithms.map((algorithm) => caOf(algorithm).certPem),
      (await issueCertificate({ csr, ca: caOf("rsa2048"), validityMs: DAY, clock })).pem,
    ];
    for (const [name, args] of [
      ["generalized", ["-days", "10000", "-set_serial", "0x80ab01", "-subj", '/CN=a, b/O=x"y/OU=g+L=l']],
      [
        "utc",
        [
          "-days",
          "1",
          "-set_serial",
          "7",
          "-subj",
          "/C=DE/ST=BE/L=Köln/O=tenant-a/OU=group-b/CN=runtime-1",
          "-utf8",
        ],
      ],
    ] as const) {
      openssl(
        [
          "req",
          "-x509",
          "-newkey",
          "ed25519",
          "-nodes",
          "-keyout",
          `${name}.key`,
          ...args,
          "-out",
          `${name}.pem`,
        ],
        dir,
      );
      pems.push(readFileSync(join(dir, `${name}.pem`), "utf8"));
    }
    for (const pem of pems) {
      const cert = new X509Certificate(pemToDer(pem, "CERTIFICATE"));
      const before = {
        subject: subjectOf(subjectValues(cert.subjectName)),
        serial: cert.serialNumber.toUpperCase(),
        sha256: sha256Fingerprint(pem),
        notBefore: cert.notBefore,
        notAfter: cert.notAfter,
        issuer: cert.issuer,
      };
      t.same({ ...certificateInfo(pem) }, before, cert.subject);
    }
    t.throws(() => certificateInfo("-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"), {
      name: "PkiError",
      code: "bad-certificate",
    });
  },
);
