/**
 * What one certificate costs the hub's CPU, per CPU-second, beside the raw node:crypto operations with the
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
import { peculiarIssue, peculiarParseCsr } from "@tether/shared/pki/reference";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const subject: Subject = { CN: "runtime-1", O: "tenant", OU: "group", L: "Berlin", ST: "BE", C: "DE" };
const validityMs = 30 * 86_400_000;
const crlDistributionPoint = "https://hub.example.com/v1/crl/0123456789abcdef";

/**
 * Operations per CPU-second of each workload (process.cpuUsage: user + system of every thread, so
 * WebCrypto's thread pool counts too), run in turns of 50 ms for SECONDS in all: on a shared machine
 * the load then falls on all of them alike, and time spent descheduled is not counted.
 */
async function rates(workloads: Record<string, () => unknown>): Promise<Record<string, number>> {
  const names = Object.keys(workloads);
  const ops = Object.fromEntries(names.map((name) => [name, 0]));
  const cpu = Object.fromEntries(names.map((name) => [name, 0]));
  const end = performance.now() + SECONDS * 1000;
  while (performance.now() < end) {
    for (const name of names) {
      const work = workloads[name]!;
      const sliceEnd = performance.now() + 50;
      const before = process.cpuUsage();
      let count = 0;
      while (performance.now() < sliceEnd) {
        const result = work();
        if (result instanceof Promise) await result;
        count++;
      }
      const used = process.cpuUsage(before);
      ops[name]! += count;
      cpu[name]! += (used.user + used.system) / 1e6;
    }
  }
  return Object.fromEntries(names.map((name) => [name, ops[name]! / cpu[name]!]));
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
  const leafHash = leafAlgorithm === "ed25519" ? null : "sha256";
  const leafPublic = KeyObject.from(leafKey.publicKey);
  const signed = sign(leafHash, tbsSized, KeyObject.from(leafKey.privateKey));
  const current = {
    signs: () => sign(hash, tbsSized, caKey),
    builds: () => issueCertificateSync(options),
    verifies: () => verify(leafHash, tbsSized, leafPublic, signed),
    checks: () => check(parseCsrSync(csrPem)),
  };
  // The @peculiar path runs on its own: its garbage would be collected (by threads process.cpuUsage
  // counts) during the others' turns.
  const before = {
    oldBuilds: () => peculiarIssue(options),
    oldChecks: async () => check(await peculiarParseCsr(csrPem)),
  };
  // Warm-up first (V8 compiles on threads that process.cpuUsage counts): 2,000 runs each, or 3 s.
  for (const work of Object.values(current)) {
    const end = performance.now() + 3000;
    for (let i = 0; i < 2000 && performance.now() < end; i++) work();
  }
  const r = { ...(await rates(current)), ...(await rates(before)) };
  const [signs, builds, oldBuilds, verifies, checks, oldChecks] = [
    r.signs!,
    r.builds!,
    r.oldBuilds!,
    r.verifies!,
    r.checks!,
    r.oldChecks!,
  ];

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
  `(per CPU-second, ${SECONDS} s per row in 50 ms turns, one thread, Node ${process.version}; build+sign carries a CRL distribution point; ` +
    `crypto.sign/verify over 560 bytes, about a TBSCertificate)`,
);
