/**
 * The signing limits of the machine, measured in the same run as the services: `openssl speed` and
 * Node's `crypto.sign` with the bench's own CA keys, each on one core.
 */
import { execFile } from "node:child_process";
import { sign } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { promisify } from "node:util";
import type { CaKey } from "./cases.ts";

const run = promisify(execFile);

const opensslAlgorithms: Record<CaKey, { arg: string; line: RegExp }> = {
  "P-256": { arg: "ecdsap256", line: /ecdsa \(nistp256\)/ },
  "RSA-2048": { arg: "rsa2048", line: /^rsa\s+2048 bits/ },
};

/**
 * sign/s per key type from `openssl speed` output. The rate columns follow the header line before
 * each result ("sign/s verify/s", or with encr./s decr./s on OpenSSL >= 3.2), so sign/s is found
 * by its header, not by its position.
 */
export function parseOpensslSpeed(output: string): Partial<Record<CaKey, number>> {
  const rates: Partial<Record<CaKey, number>> = {};
  let header: string[] = [];
  for (const line of output.split("\n")) {
    if (line.includes("sign/s")) {
      header = line
        .trim()
        .split(/\s+/)
        .filter((word) => word.endsWith("/s"));
      continue;
    }
    for (const [key, { line: pattern }] of Object.entries(opensslAlgorithms) as [CaKey, { line: RegExp }][]) {
      if (!pattern.test(line.trim()) || header.length === 0) continue;
      const numbers = line
        .trim()
        .split(/\s+/)
        .map((word) => Number(word.replace(/s$/, "")))
        .filter((n) => Number.isFinite(n));
      const rateColumns = numbers.slice(-header.length);
      const value = rateColumns[header.indexOf("sign/s")];
      if (value !== undefined && value > 0) rates[key] = value;
    }
  }
  return rates;
}

export async function opensslSpeed(keys: CaKey[], seconds: number): Promise<Partial<Record<CaKey, number>>> {
  const args = ["speed", "-seconds", String(seconds), ...keys.map((k) => opensslAlgorithms[k].arg)];
  const { stdout } = await run("openssl", args, { maxBuffer: 1 << 20 });
  const rates = parseOpensslSpeed(stdout);
  const missing = keys.filter((k) => rates[k] === undefined);
  if (missing.length > 0) throw new Error(`openssl ${args.join(" ")}: no sign/s for ${missing.join(", ")}`);
  return rates;
}

/**
 * Node `crypto.sign` one signature at a time with this key, per second of this thread's CPU time:
 * `openssl speed` too divides by CPU time (unless -elapsed), so both stay what one core can do
 * however loaded the machine is.
 */
export function nodeSignRate(key: KeyObject, seconds: number): number {
  const data = Buffer.alloc(512, 7);
  const before = process.threadCpuUsage();
  const end = performance.now() + seconds * 1000;
  let signs = 0;
  while (performance.now() < end) {
    sign("sha256", data, key);
    signs++;
  }
  const used = process.threadCpuUsage(before);
  return signs / ((used.user + used.system) / 1e6);
}
