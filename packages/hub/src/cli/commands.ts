/**
 * The operator commands other than `serve`. Each talks to the internal API (`--internal-url`) with
 * the admin token from `--admin-token`, `TETHER_HUB_ADMIN_TOKEN` or `<data-dir>/admin-token`.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { adminScopes, type AdminScope } from "@tether/shared/contract";
import { encodeBase64Pem } from "@tether/shared/pki";
import { ConfigError, envName } from "../config.ts";
import { adminTokenPath, readAdminToken } from "../tokens/admin-token.ts";
import { AdminClient } from "./admin-client.ts";
import { probeServingCa } from "./ca-bundle.ts";

const CLIENT_OPTIONS = {
  "internal-url": { type: "string" },
  "admin-token": { type: "string" },
  "data-dir": { type: "string" },
} as const;

type Options = Record<string, { type: "string" | "boolean"; multiple?: boolean; short?: string }>;

export function parseWithPositionals<T extends Options>(argv: string[], options: T) {
  try {
    return parseArgs({
      args: argv,
      options: { ...CLIENT_OPTIONS, ...options },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
}

function parse<T extends Options>(argv: string[], options: T) {
  const { values, positionals } = parseWithPositionals(argv, options);
  if (positionals.length > 0) throw new ConfigError(`unexpected argument "${positionals[0]}"`);
  return values;
}

function setting(values: Record<string, unknown>, flag: string, fallback?: string): string | undefined {
  const value = values[flag];
  return typeof value === "string" ? value : (process.env[envName(flag)] ?? fallback);
}

function required(values: Record<string, unknown>, flag: string): string {
  const value = setting(values, flag);
  if (value === undefined || value === "") throw new ConfigError(`--${flag} is required`);
  return value;
}

export async function client(values: Record<string, unknown>): Promise<AdminClient> {
  const dataDir = resolve(setting(values, "data-dir", ".tether/hub")!);
  const token = setting(values, "admin-token") ?? (await readAdminToken(dataDir));
  if (token === undefined) {
    console.warn(
      `no admin token: pass --admin-token, set TETHER_HUB_ADMIN_TOKEN, or run where ${adminTokenPath(dataDir)} exists`,
    );
  }
  return new AdminClient(setting(values, "internal-url", "http://127.0.0.1:8080")!, token);
}

function labels(list: string[] | undefined): Record<string, string> | undefined {
  if (!list?.length) return undefined;
  return Object.fromEntries(
    list.map((pair) => {
      const at = pair.indexOf("=");
      if (at < 1) throw new ConfigError(`--label "${pair}": use key=value`);
      return [pair.slice(0, at), pair.slice(at + 1)];
    }),
  );
}

export async function tokenCreate(argv: string[]): Promise<void> {
  const values = parse(argv, {
    tenant: { type: "string" },
    group: { type: "string" },
    runtime: { type: "string" },
    label: { type: "string", multiple: true },
    ttl: { type: "string" },
    output: { type: "string", short: "o" },
    name: { type: "string" },
    "ca-bundle": { type: "string" },
  });
  const output = values.output ?? "url";
  if (!["url", "json", "yaml"].includes(output)) throw new ConfigError("-o: url, json or yaml");
  const created = await (
    await client(values)
  ).createToken(required(values, "tenant"), required(values, "group"), {
    runtime: values.runtime,
    labels: labels(values.label),
    ttl: values.ttl,
  });
  if (output === "url") return console.log(created.url);
  if (output === "json") return console.log(JSON.stringify(created, null, 2));
  const caPem =
    values["ca-bundle"] !== undefined
      ? await readFile(values["ca-bundle"], "utf8")
      : await privateCa(created.url);
  const request = {
    apiVersion: "tether.dev/v1alpha1",
    kind: "CertificateRequest",
    metadata: { name: values.name ?? values.runtime ?? "hub" },
    // yaml leaves out undefined values: no caBundle key when the system trust store accepts the hub.
    spec: { csrInfoUrl: created.url, caBundle: caPem === undefined ? undefined : encodeBase64Pem(caPem) },
  };
  process.stdout.write(stringify(request, { lineWidth: 0 }));
}

/** The serving CA a spoke needs, or undefined when the system trust store already accepts the hub. */
async function privateCa(url: string): Promise<string | undefined> {
  try {
    const probe = await probeServingCa(url);
    return probe.publiclyTrusted ? undefined : probe.caPem;
  } catch (error) {
    console.warn(
      `could not read the hub's serving certificate (${(error as Error).message}); caBundle left out, pass --ca-bundle FILE`,
    );
    return undefined;
  }
}

export async function bootstrapKubeconfig(argv: string[]): Promise<void> {
  const values = parse(argv, {
    runtime: { type: "string" },
    tenant: { type: "string" },
    group: { type: "string" },
    ttl: { type: "string" },
  });
  const subject =
    values.tenant !== undefined && values.group !== undefined
      ? { tenant: values.tenant, group: values.group }
      : undefined;
  const kubeconfig = await (
    await client(values)
  ).bootstrapKubeconfig(required(values, "runtime"), { ttl: values.ttl }, subject);
  process.stdout.write(kubeconfig);
}

export async function runtimes(argv: string[]): Promise<void> {
  const { values, positionals } = parseWithPositionals(argv, { output: { type: "string", short: "o" } });
  const [action, id] = positionals;
  const admin = await client(values);
  if (action === "delete") {
    if (id === undefined) throw new ConfigError("runtimes delete ID");
    await admin.deleteRuntime(id);
    return console.log(`runtime ${id} deleted; its certificates are revoked`);
  }
  if (action !== "list") throw new ConfigError("runtimes list [-o table|json] | runtimes delete ID");
  const list = await admin.listRuntimes();
  if (values.output === "json") return console.log(JSON.stringify({ runtimes: list }, null, 2));
  const rows = list.map((r) => [
    r.id,
    r.tenant,
    r.group,
    r.currentCertificate?.serial ?? "-",
    r.currentCertificate?.notAfter ?? "-",
    r.lastSeenAt ?? "-",
    String(r.revokedCertificates.length),
    r.deletedAt === null ? "" : "deleted",
  ]);
  printTable(["ID", "TENANT", "GROUP", "SERIAL", "NOT AFTER", "LAST SEEN", "REVOKED", "STATE"], rows);
}

export async function revoke(argv: string[]): Promise<void> {
  const values = parse(argv, { hash: { type: "string" }, runtime: { type: "string" } });
  if ((values.hash === undefined) === (values.runtime === undefined)) {
    throw new ConfigError("revoke --hash SHA256 | --runtime ID");
  }
  const admin = await client(values);
  if (values.hash !== undefined) {
    await admin.revokeByHash(values.hash);
    return console.log(`revoked ${values.hash.toLowerCase()}`);
  }
  // Every certificate of the runtime, keeping the runtime itself: it may re-enrol with a new token.
  const runtime = await admin.getRuntime(values.runtime!);
  const revoked = new Set(runtime.revokedCertificates.map((r) => r.sha256));
  const open = runtime.certificates.filter((c) => !revoked.has(c.sha256));
  for (const certificate of open) await admin.revokeByHash(certificate.sha256);
  console.log(`revoked ${open.length} certificate(s) of runtime ${runtime.id}`);
}

export async function adminToken(argv: string[]): Promise<void> {
  if (argv[0] === "create") return adminTokenCreate(argv.slice(1));
  if (argv[0] === "revoke") return adminTokenRevoke(argv.slice(1));
  const values = parse(argv, {});
  const dataDir = resolve(setting(values, "data-dir", ".tether/hub")!);
  const token = await readAdminToken(dataDir);
  if (token === undefined) {
    throw new ConfigError(
      `no admin token in ${adminTokenPath(dataDir)}: has the hub started with this --data-dir?`,
    );
  }
  console.log(token);
}

/** `admin-token create --scope tokens:create[,runtimes:read,...] --ttl 24h`: a scoped, expiring token. */
async function adminTokenCreate(argv: string[]): Promise<void> {
  const values = parse(argv, { scope: { type: "string", multiple: true }, ttl: { type: "string" } });
  const scopes = (values.scope ?? []).flatMap((s) => s.split(",")).map((s) => s.trim());
  const unknown = scopes.filter((s) => !(adminScopes as readonly string[]).includes(s));
  if (scopes.length === 0 || unknown.length > 0) {
    throw new ConfigError(`--scope: one or more of ${adminScopes.join(", ")}`);
  }
  const created = await (
    await client(values)
  ).createAdminToken({ scopes: scopes as AdminScope[], ttl: required(values, "ttl") });
  console.log(`id:      ${created.id}\nscopes:  ${created.scopes.join(",")}\nexpires: ${created.expiresAt}`);
  console.log(`token:   ${created.token}`);
}

async function adminTokenRevoke(argv: string[]): Promise<void> {
  const values = parse(argv, { id: { type: "string" } });
  await (await client(values)).revokeAdminToken(required(values, "id"));
  console.log(`revoked ${values.id}`);
}

export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  for (const row of [header, ...rows])
    console.log(
      row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    );
}
