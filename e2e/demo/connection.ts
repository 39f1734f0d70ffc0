/**
 * The end of the demo: wait until the spoke reports the CentralConnection Ready, copy the issued
 * credentials out of their Secret into files curl can use, and call the hub with them.
 */
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ControlPlane } from "../harness/index.ts";
import { spokeNamespace } from "./spoke.ts";

const run = promisify(execFile);

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

export interface CentralConnection {
  metadata: { name: string };
  spec?: { managementInfoUrl?: string; secretRef?: { name?: string; namespace?: string } };
  status?: { conditions?: Condition[]; error?: { message?: string } };
}

export async function waitForReady(
  plane: ControlPlane,
  name: string,
  timeoutMs: number,
): Promise<CentralConnection> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await plane.kubectl(["get", "centralconnections", "-o", "json"]);
    const items = (JSON.parse(list.stdout) as { items: CentralConnection[] }).items;
    const connection = items.find((item) => item.metadata.name === name);
    const ready = connection?.status?.conditions?.find((c) => c.type === "Ready");
    if (ready?.status === "True") return connection!;
    if (Date.now() >= deadline) {
      throw new Error(
        `CentralConnection ${name} was not Ready within ${timeoutMs / 1000}s\n` +
          (await describeResources(plane)),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Both custom resources as YAML (status included): what the spoke has to say about the request. */
async function describeResources(plane: ControlPlane): Promise<string> {
  const parts: string[] = [];
  for (const kind of ["certificaterequests", "centralconnections"]) {
    const result = await plane.kubectl(["get", kind, "-o", "yaml"], { allowFailure: true });
    // A CertificateRequest's spec holds the token URL: a credential, so it is cut out.
    const text = (result.stdout || result.stderr).replace(/(csrInfoUrl:\s*)\S+/g, "$1<redacted>");
    parts.push(`--- kubectl get ${kind} -o yaml ---\n${text.trimEnd()}`);
  }
  return parts.join("\n");
}

export interface CredentialFiles {
  dir: string;
  cert: string;
  key: string;
  ca: string;
}

/** Writes the Secret's tls.crt, tls.key (0600) and ca.crt into `dir`. */
export async function writeCredentials(
  plane: ControlPlane,
  connection: CentralConnection,
  dir: string,
): Promise<CredentialFiles> {
  const ref = connection.spec?.secretRef;
  const name = ref?.name ?? `${connection.metadata.name}-hub-credentials`;
  const namespace = ref?.namespace ?? spokeNamespace;
  const secret = JSON.parse(
    (await plane.kubectl(["get", "secret", "-n", namespace, name, "-o", "json"])).stdout,
  ) as { data?: Record<string, string> };
  const field = (key: string): string => {
    const value = secret.data?.[key];
    if (value === undefined) throw new Error(`Secret ${namespace}/${name} has no ${key}`);
    return Buffer.from(value, "base64").toString("utf8");
  };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = {
    dir,
    cert: join(dir, "tls.crt"),
    key: join(dir, "tls.key"),
    ca: join(dir, "ca.crt"),
  };
  await writeFile(files.cert, field("tls.crt"), { mode: 0o644 });
  await writeFile(files.key, field("tls.key"), { mode: 0o600 });
  await writeFile(files.ca, field("ca.crt"), { mode: 0o644 });
  return files;
}

export function curlArgs(files: CredentialFiles, url: string): string[] {
  return ["--cert", files.cert, "--key", files.key, "--cacert", files.ca, url];
}

function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

export function curlCommand(files: CredentialFiles, url: string): string {
  return ["curl", "-sS", ...curlArgs(files, url)].map(shellQuote).join(" ");
}

/** Runs the same curl the user is shown; returns its body, pretty-printed when it is JSON. */
export async function runCurl(files: CredentialFiles, url: string): Promise<string> {
  const { stdout } = await run("curl", ["-sS", "--fail-with-body", ...curlArgs(files, url)], {
    timeout: 30_000,
  }).catch((error: unknown) => {
    const failed = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`curl failed: ${failed.stderr?.trim() || failed.message} ${failed.stdout ?? ""}`.trim());
  });
  try {
    return JSON.stringify(JSON.parse(stdout), null, 2);
  } catch {
    return stdout;
  }
}
