/**
 * Certificates per second the hub can issue (parseCsr + checkSubject + issueCertificate, one core),
 * beside raw node:crypto signatures per second with the CA's key type in the same run: the ratio
 * shows how much of an issue is signing and how much is x509's ASN.1 work in JavaScript.
 */
import { generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import {
  type KeyAlgorithm,
  type Subject,
  checkSubject,
  createCsr,
  createSelfSignedCa,
  generateKeyPair,
  issueCertificate,
  loadCa,
  parseCsr,
} from "@tether/shared/pki";
import { systemClock } from "@tether/shared/time";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const subject: Subject = { CN: "runtime-1", O: "tenant", OU: "group", L: "Berlin", ST: "BE", C: "DE" };

async function rate(work: () => unknown): Promise<number> {
  const end = performance.now() + SECONDS * 1000;
  let count = 0;
  const start = performance.now();
  while (performance.now() < end) {
    await work();
    count++;
  }
  return count / ((performance.now() - start) / 1000);
}

function nodeKey(algorithm: KeyAlgorithm): KeyObject {
  if (algorithm === "rsa2048") return generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  return generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
}

const rows: string[][] = [];
for (const caAlgorithm of ["ecdsa-p256", "rsa2048"] as const) {
  const { certPem, keyPem } = await createSelfSignedCa({
    commonName: `bench ${caAlgorithm}`,
    algorithm: caAlgorithm,
  });
  const ca = await loadCa(certPem, keyPem);
  const csrPem = await createCsr(await generateKeyPair("ecdsa-p256"), subject);
  const issues = await rate(async () => {
    const csr = await parseCsr(csrPem);
    checkSubject(csr, subject);
    await issueCertificate({ csr, ca, validityMs: 30 * 86_400_000, clock: systemClock });
  });
  const key = nodeKey(caAlgorithm);
  const data = Buffer.alloc(512, 7);
  const signs = await rate(() => sign("sha256", data, key));
  rows.push([
    `${caAlgorithm} CA`,
    issues.toFixed(0),
    signs.toFixed(0),
    `${((issues / signs) * 100).toFixed(1)} %`,
  ]);
}

const header = ["CA key", "issues/s", "crypto.sign/s", "issue/sign"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
for (const row of [header, ...rows])
  console.log(row.map((cell, i) => cell.padStart(widths[i] ?? 0)).join("  "));
console.log(`(${SECONDS} s each, leaf key ecdsa-p256, one core, Node ${process.version})`);
