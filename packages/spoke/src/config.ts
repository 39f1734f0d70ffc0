/**
 * `tether-spoke run` configuration: every flag also reads `TETHER_SPOKE_<FLAG>` from the environment
 * (`--sync-period` ⇄ `TETHER_SPOKE_SYNC_PERIOD`); a flag wins over the environment. Parsing is pure
 * (argv and env in, SpokeConfig out). New flags (the bootstrap flow's) are one more table entry and
 * one more field.
 */
import { parseArgs } from "node:util";
import { parseDuration } from "@tether/shared/time";
import type { LeaderElectionTiming } from "./leader/lease.ts";
import { isNamespaceName } from "./rollout/annotations.ts";

export interface SpokeConfig {
  /** Path of a kubeconfig; undefined: the in-cluster service account. */
  kubeconfig: string | undefined;
  /** The agent's namespace; undefined: the service account's, else the kubeconfig context's. */
  namespace: string | undefined;
  syncPeriodMs: number;
  leaderElect: boolean;
  leaderElection: LeaderElectionTiming & { leaseName: string };
  /** host:port; "0" turns the listener off. */
  metricsAddr: string;
  healthAddr: string;
  /** PEM file of the CA of the hub's serving certificate, for requests without caBundle. */
  hubCaFile: string | undefined;
  hubTimeoutMs: number;
  logLevel: string;
  /** The bootstrap flow (docs/renewal.md#bootstrap); undefined when the agent only serves CertificateRequests. */
  bootstrap: BootstrapConfig | undefined;
  /** Namespaces besides the agent's whose workloads may opt in to a rollout on credential change. */
  rolloutNamespaces: string[];
}

export interface BootstrapConfig {
  /** Path of the bootstrap kubeconfig (hub URL, hub serving CA, bootstrap token). */
  kubeconfigFile: string;
  /** Secret in the agent's namespace the file is mounted from: a change of its data restarts the agent. */
  kubeconfigSecret: string;
  /** This cluster's runtime id on the hub: the CN of its certificate and the CentralConnection's name. */
  clusterName: string;
  /** The credential Secret (docs/resources.md#credential-secret) that holds the hub kubeconfig. */
  hubKubeconfigSecret: string;
  certHealthPeriodMs: number;
}

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

interface Flag {
  kind: "string" | "duration" | "boolean";
  default?: string;
  help: string;
}

const FLAGS = {
  kubeconfig: { kind: "string", help: "kubeconfig of the cluster the agent runs in (default: in-cluster)" },
  namespace: { kind: "string", help: "the agent's namespace: Secrets, Lease, Events (default: its own)" },
  "sync-period": { kind: "duration", default: "60s", help: "how often each connection calls the hub" },
  "leader-elect": { kind: "boolean", default: "true", help: "run controllers only while holding the Lease" },
  "leader-elect-lease-name": { kind: "string", default: "tether-spoke", help: "name of the Lease" },
  "leader-elect-lease-duration": {
    kind: "duration",
    default: "15s",
    help: "how long a Lease outlives its holder",
  },
  "leader-elect-renew-deadline": {
    kind: "duration",
    default: "10s",
    help: "leader steps down if not renewed by then",
  },
  "leader-elect-retry-period": { kind: "duration", default: "2s", help: "between Lease attempts" },
  "metrics-addr": { kind: "string", default: ":8080", help: "host:port of /metrics, 0 to disable" },
  "health-addr": { kind: "string", default: ":8081", help: "host:port of /livez and /readyz, 0 to disable" },
  "hub-ca-file": {
    kind: "string",
    help: "CA of the hub's serving certificate when a request has no caBundle",
  },
  "hub-timeout": { kind: "duration", default: "15s", help: "deadline of each call to the hub" },
  "log-level": { kind: "string", default: "info", help: "trace | debug | info | warn | error" },
  "bootstrap-kubeconfig": {
    kind: "string",
    help: "bootstrap kubeconfig file: join the hub with its token when the hub kubeconfig is not valid",
  },
  "bootstrap-kubeconfig-secret": {
    kind: "string",
    default: "bootstrap-hub-kubeconfig",
    help: "Secret the bootstrap kubeconfig is mounted from; a change of its data restarts the agent",
  },
  "cluster-name": {
    kind: "string",
    help: "this cluster's runtime id on the hub (required with --bootstrap-kubeconfig)",
  },
  "hub-kubeconfig-secret": {
    kind: "string",
    default: "hub-kubeconfig-secret",
    help: "Secret in the agent's namespace that holds the hub kubeconfig of the bootstrap flow",
  },
  "cert-health-period": {
    kind: "duration",
    default: "30s",
    help: "how often the bootstrap flow checks its certificate and the bootstrap kubeconfig",
  },
  "rollout-namespaces": {
    kind: "string",
    help: "namespaces (comma-separated) besides the agent's whose annotated workloads roll on credential change",
  },
} satisfies Record<string, Flag>;

type FlagName = keyof typeof FLAGS;

export function envName(flag: string): string {
  return `TETHER_SPOKE_${flag.toUpperCase().replaceAll("-", "_")}`;
}

/** Every flag with its variable, default and help: the README's configuration reference is made from it. */
export function flagTable(): { flag: string; env: string; default?: string; help: string }[] {
  return Object.entries(FLAGS).map(([name, flag]: [string, Flag]) => ({
    flag: `--${name}`,
    env: envName(name),
    default: flag.default,
    help: flag.help,
  }));
}

export function flagsHelp(): string {
  return Object.entries(FLAGS)
    .map(([name, flag]: [string, Flag]) => {
      const usage =
        flag.kind === "boolean"
          ? `--${name}[=false]`
          : `--${name} ${flag.kind === "duration" ? "DURATION" : "VALUE"}`;
      const fallback = flag.default === undefined ? "" : ` (default ${flag.default})`;
      return `  ${usage.padEnd(44)} ${flag.help}${fallback}  [${envName(name)}]`;
    })
    .join("\n");
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): SpokeConfig {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv.map(normalizeBoolean),
      options: Object.fromEntries(Object.keys(FLAGS).map((name) => [name, { type: "string" as const }])),
      allowPositionals: false,
      strict: true,
    }));
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const raw = (name: FlagName): string | undefined => {
    const flag: Flag = FLAGS[name];
    return values[name] ?? nonEmpty(env[envName(name)]) ?? flag.default;
  };
  const duration = (name: FlagName): number => {
    const text = raw(name) ?? "";
    try {
      const ms = parseDuration(text);
      if (ms <= 0) throw new Error("must be positive");
      return ms;
    } catch (error) {
      throw new ConfigError(`--${name}: ${(error as Error).message}`);
    }
  };
  const boolean = (name: FlagName): boolean => {
    const text = raw(name);
    if (text === "true") return true;
    if (text === "false") return false;
    throw new ConfigError(`--${name}: expected true or false, got "${text}"`);
  };
  const config: SpokeConfig = {
    kubeconfig: raw("kubeconfig"),
    namespace: raw("namespace"),
    syncPeriodMs: duration("sync-period"),
    leaderElect: boolean("leader-elect"),
    leaderElection: {
      leaseName: raw("leader-elect-lease-name") ?? "tether-spoke",
      leaseDurationMs: duration("leader-elect-lease-duration"),
      renewDeadlineMs: duration("leader-elect-renew-deadline"),
      retryPeriodMs: duration("leader-elect-retry-period"),
    },
    metricsAddr: raw("metrics-addr") ?? "0",
    healthAddr: raw("health-addr") ?? "0",
    hubCaFile: raw("hub-ca-file"),
    hubTimeoutMs: duration("hub-timeout"),
    logLevel: raw("log-level") ?? "info",
    bootstrap: bootstrapConfig(raw, duration),
    rolloutNamespaces: namespaceList(raw("rollout-namespaces") ?? "", "rollout-namespaces"),
  };
  const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = config.leaderElection;
  if (!(leaseDurationMs > renewDeadlineMs && renewDeadlineMs > retryPeriodMs)) {
    throw new ConfigError("leader election needs lease duration > renew deadline > retry period");
  }
  for (const name of ["metrics-addr", "health-addr"] as const) parseListenAddress(raw(name) ?? "0", name);
  return config;
}

function bootstrapConfig(
  raw: (name: FlagName) => string | undefined,
  duration: (name: FlagName) => number,
): BootstrapConfig | undefined {
  const kubeconfigFile = raw("bootstrap-kubeconfig");
  const clusterName = raw("cluster-name");
  if (kubeconfigFile === undefined) {
    if (clusterName !== undefined) throw new ConfigError("--cluster-name needs --bootstrap-kubeconfig");
    return undefined;
  }
  if (clusterName === undefined) {
    throw new ConfigError(
      "--bootstrap-kubeconfig needs --cluster-name: the runtime id the bootstrap kubeconfig was made for",
    );
  }
  for (const name of ["bootstrap-kubeconfig-secret", "hub-kubeconfig-secret"] as const) {
    if (!isDnsSubdomain(raw(name) ?? ""))
      throw new ConfigError(`--${name}: "${raw(name)}" is not a valid Secret name`);
  }
  if (!isDnsSubdomain(clusterName)) {
    throw new ConfigError(
      `--cluster-name: "${clusterName}" is not a valid resource name (lower-case letters, digits, '-' and '.')`,
    );
  }
  return {
    kubeconfigFile,
    kubeconfigSecret: raw("bootstrap-kubeconfig-secret") ?? "bootstrap-hub-kubeconfig",
    clusterName,
    hubKubeconfigSecret: raw("hub-kubeconfig-secret") ?? "hub-kubeconfig-secret",
    certHealthPeriodMs: duration("cert-health-period"),
  };
}

/** "a,b": distinct namespace names; spaces around a name are fine, an empty entry is a mistake. */
function namespaceList(text: string, flag: string): string[] {
  if (text.trim() === "") return [];
  const names = text.split(",").map((name) => name.trim());
  for (const name of names) {
    if (!isNamespaceName(name)) throw new ConfigError(`--${flag}: "${name}" is not a namespace name`);
  }
  return [...new Set(names)];
}

/** Kubernetes object names (RFC 1123 subdomain): what a Secret or a CentralConnection may be called. */
function isDnsSubdomain(name: string): boolean {
  return name.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name);
}

/** ":8080", "0.0.0.0:8080", "[::1]:8080", "127.0.0.1:0"; undefined for "0" (off). */
export function parseListenAddress(
  text: string,
  flag = "address",
): { host: string; port: number } | undefined {
  if (text === "0") return undefined;
  const match = /^(\[[^\]]+\]|[^:]*):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new ConfigError(`--${flag}: expected host:port or 0, got "${text}"`);
  const host = (match[1] ?? "").replace(/^\[|\]$/g, "");
  return { host: host === "" ? "0.0.0.0" : host, port };
}

/** Booleans as Kubernetes components take them: --flag, --flag=false, --no-flag. */
function normalizeBoolean(arg: string): string {
  for (const [name, flag] of Object.entries(FLAGS) as [string, Flag][]) {
    if (flag.kind !== "boolean") continue;
    if (arg === `--${name}`) return `--${name}=true`;
    if (arg === `--no-${name}`) return `--${name}=false`;
  }
  return arg;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}
