/**
 * What an operator has at a shell besides kubectl: curl and openssl, run as child processes, with the
 * outcome a person reads (an HTTP status and body; the fields openssl prints). The journey test looks
 * at the product through nothing else, so it fails where an operator would see something wrong.
 */
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import type { ControlPlane } from "@tether/e2e/harness";
import type { Hub } from "../spoke-helpers.ts";

const exec = promisify(execFile);

async function run(cmd: string, args: string[]): Promise<string> {
  try {
    return (await exec(cmd, args, { timeout: 30_000 })).stdout;
  } catch (error) {
    const failed = error as Error & { stderr?: string };
    throw new Error(`${cmd} ${args.join(" ")} failed: ${failed.stderr?.trim() || failed.message}`, {
      cause: error,
    });
  }
}

export interface HttpAnswer {
  status: number;
  body: string;
}

/** curl with the answer's status: a refusal (403 and its message) is as much the point as a success. */
export async function curl(args: string[]): Promise<HttpAnswer> {
  const out = await run("curl", ["-sS", "--max-time", "10", "-w", "\n%{http_code}", ...args]);
  const cut = out.lastIndexOf("\n");
  return { status: Number(out.slice(cut + 1)), body: out.slice(0, cut) };
}

/** `curl -H @file`: the admin token stays out of the process list, as it would in a careful shell. */
export async function adminHeaderFile(hub: Hub, dir: string): Promise<string> {
  // The hub keeps its generated admin token next to its CA in the data dir (docs/hub.md).
  const token = (await readFile(join(dirname(hub.caFile), "admin-token"), "utf8")).trim();
  const file = join(dir, "admin.header");
  await writeFile(file, `Authorization: Bearer ${token}\n`, { mode: 0o600 });
  return file;
}

/** `POST /v1/runtimes/tokens` on the internal API: a one-time token URL for `runtime` or a new one. */
export async function createTokenUrl(hub: Hub, header: string, runtime?: string): Promise<string> {
  const answer = await curl([
    ...["-X", "POST", "-H", `@${header}`, "-H", "Tenant: journey", "-H", "Group: operators"],
    ...(runtime === undefined
      ? []
      : ["-H", "Content-Type: application/json", "-d", JSON.stringify({ runtime })]),
    `${hub.internalUrl}/v1/runtimes/tokens`,
  ]);
  if (answer.status !== 201) throw new Error(`token creation answered ${answer.status}: ${answer.body}`);
  return (JSON.parse(answer.body) as { url: string }).url;
}

export interface CertificateFields {
  commonName: string;
  /** Upper-case hex without leading zeros, as `openssl x509 -serial` prints it. */
  serial: string;
  /** Lower-case hex SHA-256 of the DER: the hub's id of a certificate. */
  sha256: string;
}

/** The first certificate in `file` as `openssl x509` shows it. */
export async function certificateFields(file: string): Promise<CertificateFields> {
  const out = await run("openssl", [
    ...["x509", "-in", file, "-noout", "-nameopt", "RFC2253"],
    ...["-subject", "-serial", "-fingerprint", "-sha256"],
  ]);
  const field = (pattern: RegExp) => {
    const found = pattern.exec(out)?.[1];
    if (found === undefined) throw new Error(`openssl printed no ${String(pattern)} for ${file}:\n${out}`);
    return found;
  };
  return {
    commonName: field(/^subject=.*?\bCN=([^,\n]+)/m),
    serial: normaliseSerial(field(/^serial=([0-9A-Fa-f]+)$/m)),
    sha256: field(/^sha256 Fingerprint=([0-9A-Fa-f:]+)$/im)
      .replaceAll(":", "")
      .toLowerCase(),
  };
}

/** `openssl verify`: true when `certFile`'s first certificate chains to `caFile`. */
export async function verifies(caFile: string, certFile: string): Promise<boolean> {
  return (await run("openssl", ["verify", "-CAfile", caFile, certFile]).catch(() => ""))
    .trim()
    .endsWith(": OK");
}

/** Serials compare as numbers: openssl pads to whole bytes, other printers may not. */
export function normaliseSerial(hex: string): string {
  return hex.toUpperCase().replace(/^0+(?=.)/, "");
}

/** One field of a resource, as `kubectl get -o jsonpath` prints it ("" when it is not set). */
export async function jsonpath(
  plane: ControlPlane,
  resource: string[],
  path: string,
  namespace?: string,
): Promise<string> {
  const ns = namespace === undefined ? [] : ["-n", namespace];
  return (await plane.kubectl(["get", ...ns, ...resource, "-o", `jsonpath={${path}}`])).stdout;
}

export interface CredentialFiles {
  cert: string;
  key: string;
  ca: string;
}

/**
 * The connection's credential Secret into files curl can use, found the way an operator would:
 * the CentralConnection's `spec.secretRef`, then `kubectl get secret -o jsonpath`.
 */
export async function extractCredentials(
  plane: ControlPlane,
  connection: string,
  dir: string,
): Promise<CredentialFiles> {
  const ref = ["centralconnection", connection];
  const name = await jsonpath(plane, ref, ".spec.secretRef.name");
  const namespace = await jsonpath(plane, ref, ".spec.secretRef.namespace");
  const files = { cert: join(dir, "tls.crt"), key: join(dir, "tls.key"), ca: join(dir, "ca.crt") };
  for (const [key, file] of [
    ["tls.crt", files.cert],
    ["tls.key", files.key],
    ["ca.crt", files.ca],
  ] as const) {
    const base64 = await jsonpath(plane, ["secret", name], `.data.${key.replace(".", "\\.")}`, namespace);
    if (base64 === "") throw new Error(`Secret ${namespace}/${name} has no ${key}`);
    await writeFile(file, Buffer.from(base64, "base64"), { mode: key === "tls.key" ? 0o600 : 0o644 });
  }
  return files;
}
