/**
 * `tether-hub ca status|rotate|activate|retire` (docs/pki.md#ca-rotation): CA rotation by hand, through
 * the internal API like every other operator command.
 */
import { readFile } from "node:fs/promises";
import { keyAlgorithms, type CaStatus, type KeyAlgorithm } from "@tether/shared/contract";
import { ConfigError } from "../config.ts";
import { client, parseWithPositionals, printTable } from "./commands.ts";

const USAGE =
  "ca status [-o table|json] | ca rotate [--algorithm A | --ca-cert F --ca-key F] | ca activate [SHA256] | ca retire SHA256 [--force]";

export async function ca(argv: string[]): Promise<void> {
  const { values, positionals } = parseWithPositionals(argv, {
    output: { type: "string", short: "o" },
    algorithm: { type: "string" },
    "ca-cert": { type: "string" },
    "ca-key": { type: "string" },
    force: { type: "boolean" },
  });
  const [action, sha256, extra] = positionals;
  if (extra !== undefined) throw new ConfigError(`unexpected argument "${extra}"`);
  const admin = await client(values);
  switch (action) {
    case "status": {
      const status = await admin.caStatus();
      if (values.output === "json") return console.log(JSON.stringify(status, null, 2));
      return printStatus(status);
    }
    case "rotate": {
      if ((values["ca-cert"] === undefined) !== (values["ca-key"] === undefined)) {
        throw new ConfigError("--ca-cert and --ca-key go together");
      }
      const algorithm = values.algorithm;
      if (algorithm !== undefined && !(keyAlgorithms as readonly string[]).includes(algorithm)) {
        throw new ConfigError(`--algorithm: one of ${keyAlgorithms.join(", ")}`);
      }
      const status = await admin.caRotate({
        algorithm: algorithm as KeyAlgorithm | undefined,
        certPem: values["ca-cert"] === undefined ? undefined : await readFile(values["ca-cert"], "utf8"),
        keyPem: values["ca-key"] === undefined ? undefined : await readFile(values["ca-key"], "utf8"),
      });
      const next = status.cas.find((c) => c.phase === "next");
      console.log(`prepared CA ${next?.sha256 ?? "?"} (next): spokes trust it from their next sync`);
      return console.log(`activate it with: tether-hub ca activate ${next?.sha256 ?? ""}`.trimEnd());
    }
    case "activate": {
      const status = await admin.caActivate(sha256?.toLowerCase());
      const active = status.cas.find((c) => c.phase === "active");
      return console.log(`CA ${active?.sha256 ?? "?"} is active: it signs every new certificate`);
    }
    case "retire": {
      if (sha256 === undefined) throw new ConfigError("ca retire SHA256 [--force]");
      await admin.caRetire(sha256.toLowerCase(), values.force === true);
      return console.log(`CA ${sha256.toLowerCase()} retired: certificates it issued are refused`);
    }
    default:
      throw new ConfigError(USAGE);
  }
}

function printStatus(status: CaStatus): void {
  const active = status.cas.find((c) => c.phase === "active");
  const rows = status.cas.map((c) => [
    c.sha256,
    c.phase,
    c.notAfter,
    String(c.liveCertificates),
    c.phase === "retired" ? "-" : `${c.trustedBy}/${status.runtimes}`,
    `${c.runtimes}/${status.runtimes}`,
  ]);
  printTable(["SHA256", "PHASE", "NOT AFTER", "LIVE CERTS", "TRUSTED BY", "HELD BY"], rows);
  console.log(
    `\nautomatic rotation: ${status.autoRotate ? "on" : "off"}; now: ${status.decision.action} (${status.decision.reason}: ${status.decision.message})`,
  );
  if (active)
    console.log(`active CA ${active.sha256}: held by ${active.runtimes} of ${status.runtimes} runtimes`);
}
