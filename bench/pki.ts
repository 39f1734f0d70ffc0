/**
 * What one certificate costs the hub's CPU, one core, beside the raw node:crypto operations with the
 * same keys measured in the same run (docs/pki.md#how-a-certificate-is-built):
 *   build + sign   issueCertificateSync: TBSCertificate from the CA's template, signature, PEM
 *   CSR check      parseCsrSync + checkSubject + checkKeyAllowed: DER read, signature verified, policy
 *   crypto.sign    the CA key's raw signature rate (the ceiling of build + sign)
 *   crypto.verify  the leaf key's raw verification rate (the ceiling of the CSR check)
 *   @peculiar      the same two steps the way the hub did them before (x509/asn1js + WebCrypto)
 */
import { KeyObject, sign, verify } from "node:crypto";
import {
  type KeyAlgorithm,
  type Subject,
  checkKeyAllowed,
  checkSubject,
  createCsr,
  createSelfSignedCa,
  generateKeyPair,
  issueCertificateSync,
  loadCa,
  parseCsrSync,
} from "@tether/shared/pki";
import { systemClock } from "@tether/shared/time";
import { peculiarIssue, peculiarParseCsr } from "../packages/shared/test/pki/peculiar-issue.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const subject: Subject = { CN: "runtime-1", O: "tenant", OU: "group", L: "Berlin", ST: "BE", C: "DE" };
const validityMs = 30 * 86_400_000;
const crlDistributionPoint = "https://hub.example.com/v1/crl/0123456789abcdef";

/** Operations per second of `work`, run for SECONDS (awaited only when it returns a promise). */
async function rate(work: () => unknown): Promise<number> {
  const start = performance.now();
  const end = start + SECONDS * 1000;
  let count = 0;
  while (performance.now() < end) {
    for (let i = 0; i < 16; i++) {
      const result = work();
      if (result instanceof Promise) await result;
    }
    count += 16;
  }
  return count / ((performance.now() - start) / 1000);
}

const pairs: [KeyAlgorithm, KeyAlgorithm][] = [
  ["ecdsa-p256", "ecdsa-p256"],
  ["ecdsa-p384", "ecdsa-p256"],
  ["ed25519", "ecdsa-p256"],
  ["rsa2048", "ecdsa-p256"],
  ["ecdsa-p256", "rsa2048"],
];
const rows: string[][] = [];
for (const [caAlgorithm, leafAlgorithm] of pairs) {
  const { certPem, keyPem } = await createSelfSignedCa({
    commonName: `bench ${caAlgorithm}`,
    algorithm: caAlgorithm,
  });
  const ca = await loadCa(certPem, keyPem);
  const leafKey = await generateKeyPair(leafAlgorithm);
  const csrPem = await createCsr(leafKey, subject);
  const csr = parseCsrSync(csrPem);
  const check = (parsed: Omit<typeof csr, "publicKey">) => {
    checkSubject(parsed as typeof csr, subject);
    checkKeyAllowed(parsed as typeof csr, "rsa2048");
  };
  const options = { csr, ca, validityMs, clock: systemClock, crlDistributionPoint };

  const caKey = KeyObject.from(ca.key.privateKey);
  const hash = caAlgorithm === "ed25519" ? null : caAlgorithm === "ecdsa-p384" ? "sha384" : "sha256";
  const tbsSized = Buffer.alloc(560, 7);
  const signs = await rate(() => sign(hash, tbsSized, caKey));
  const builds = await rate(() => issueCertificateSync(options));
  const oldBuilds = await rate(() => peculiarIssue(options));

  const leafPublic = KeyObject.from(leafKey.publicKey);
  const leafPrivate = KeyObject.from(leafKey.privateKey);
  const signed = sign("sha256", tbsSized, leafPrivate);
  const verifies = await rate(() => verify("sha256", tbsSized, leafPublic, signed));
  const checks = await rate(() => check(parseCsrSync(csrPem)));
  const oldChecks = await rate(async () => check(await peculiarParseCsr(csrPem)));

  rows.push([
    caAlgorithm,
    leafAlgorithm,
    builds.toFixed(0),
    signs.toFixed(0),
    `${((builds / signs) * 100).toFixed(0)} %`,
    oldBuilds.toFixed(0),
    checks.toFixed(0),
    verifies.toFixed(0),
    `${((checks / verifies) * 100).toFixed(0)} %`,
    oldChecks.toFixed(0),
  ]);
}

const header = [
  "CA key",
  "leaf key",
  "build+sign/s",
  "crypto.sign/s",
  "ratio",
  "@peculiar/s",
  "CSR check/s",
  "crypto.verify/s",
  "ratio",
  "@peculiar/s",
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
for (const row of [header, ...rows])
  console.log(row.map((cell, i) => cell.padStart(widths[i] ?? 0)).join("  "));
console.log(
  `(${SECONDS} s each, one core, Node ${process.version}; build+sign carries a CRL distribution point; ` +
    `crypto.sign/verify over 560 bytes, about a TBSCertificate)`,
);
