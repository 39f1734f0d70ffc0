/**
 * `tether-hub serve` configuration: every flag also reads `TETHER_HUB_<FLAG>` from the environment
 * (`--public-url` ⇄ `TETHER_HUB_PUBLIC_URL`); a flag wins over the environment. Defaults follow
 * docs/hub.md#start-it. Parsing is pure (argv and env in, HubConfig out) so that tests need no process.
 */
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { keyAlgorithms, type KeyAlgorithm } from "@tether/shared/contract";
import { parseDuration } from "@tether/shared/time";

export interface ListenAddress {
  host: string;
  port: number;
}

export interface HubConfig {
  listen: ListenAddress;
  internalListen: ListenAddress;
  /** External base URL, no trailing slash; undefined: `https://localhost:<bound port>`. */
  publicUrl: string | undefined;
  dataDir: string;
  /** `sqlite` (a file in the data dir) or a `postgres://` URL. */
  store: string;
  caCert: string | undefined;
  caKey: string | undefined;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  /** PEM of the CA that issued `--tls-cert`, handed to spokes as caBundle; omitted: publicly trusted. */
  tlsCa: string | undefined;
  sans: string[];
  keyAlgorithm: KeyAlgorithm;
  certValidityMs: number;
  /** thisUpdate to nextUpdate of the CRLs the hub publishes. */
  crlValidityMs: number;
  /** Lifetime of a serving certificate the hub issues itself. */
  servingCertValidityMs: number;
  /** How often `--tls-cert`/`--tls-key` are checked for changes. */
  tlsReloadIntervalMs: number;
  tokenTtlMs: number;
  bootstrapTokenTtlMs: number;
  internalAuth: "bearer" | "none";
  /** Sets the admin token instead of generating one (e.g. from a Kubernetes Secret). */
  adminToken: string | undefined;
  bodyLimit: number;
  rateLimit: { max: number; windowMs: number };
  logLevel: string;
  /** L, ST and C of every runtime's subject; O, OU and CN come from the runtime. */
  subject: { locality: string; province: string; country: string };
  /** Renewals of one runtime allowed within the window (docs/api.md, renewals). */
  renewalLimit: { max: number; windowMs: number };
  /** How long a certificate keeps working after it was renewed; then it is refused. */
  supersededGraceMs: number;
  /** Per listener: what a client may hold open, and for how long, before the hub closes it. */
  connections: ConnectionLimits;
  /** Hub processes sharing the listeners and the store (docs/hub.md#worker-processes); 1 runs no primary. */
  workers: number;
  /** The key-encryption key of the CA keys in the store, as text; or the file holding it (docs/pki.md#ca-rotation). */
  caKek: string | undefined;
  caKekFile: string | undefined;
  caRotation: {
    autoRotate: boolean;
    rotateBeforeMs: number;
    preparePeriodMs: number;
    renewalWindowMs: number;
    refreshMs: number;
  };
}

export interface ConnectionLimits {
  /** Connections over this count are closed as they arrive. */
  max: number;
  /** From accepting a TLS connection to the end of its handshake. */
  handshakeTimeoutMs: number;
  /** From a connection (or the previous request on it) to the end of a request's headers. */
  headerTimeoutMs: number;
  /** From the connection to the end of a request's body. */
  requestTimeoutMs: number;
  /** A connection with no traffic in the middle of a request is closed after this. */
  idleTimeoutMs: number;
  /**
   * A connection is closed this long after its last answer when no request follows: the spoke agent
   * closes its own after 1 s, and a client that keeps connections for its next sync a minute later
   * would cost the hub ~65 KB and a descriptor each (docs/fleet.md#what-a-connection-costs).
   */
  keepAliveTimeoutMs: number;
}

export const MAX_TOKEN_TTL_MS = 24 * 3_600_000;
/** A bootstrap kubeconfig may wait in a provisioning pipeline, but not forever. */
export const MAX_BOOTSTRAP_TOKEN_TTL_MS = 365 * 86_400_000;

/** The flag table: name, type, default, help. `--help` prints it. */
const FLAGS = {
  listen: { type: "string", default: "0.0.0.0:8443", help: "external TLS listener host:port" },
  "internal-listen": {
    type: "string",
    default: "127.0.0.1:8080",
    help: "internal/admin listener (plain HTTP)",
  },
  "public-url": {
    type: "string",
    help: "external base URL in every returned URL (default https://localhost:<port>)",
  },
  "data-dir": { type: "string", default: ".tether/hub", help: "CA, SQLite file, admin token" },
  store: {
    type: "string",
    default: "sqlite",
    help: "sqlite (a file in --data-dir) | postgres://user:pass@host/db",
  },
  "ca-cert": { type: "string", help: "CA certificate PEM (an intermediate may carry its chain)" },
  "ca-key": { type: "string", help: "CA private key PEM" },
  "ca-kek": {
    type: "string",
    help: "key-encryption key of the CA keys in the store (32 bytes, base64); prefer the env var or --ca-kek-file",
  },
  "ca-kek-file": {
    type: "string",
    help: "file holding the key-encryption key (default: <data-dir>/ca-kek, generated)",
  },
  "ca-auto-rotate": {
    type: "string",
    default: "false",
    help: "true: prepare, activate and retire CAs by themselves",
  },
  "ca-rotate-before": {
    type: "string",
    default: "180d",
    help: "automatic mode prepares the next CA when the active one has less left",
  },
  "ca-prepare-period": {
    type: "string",
    default: "7d",
    help: "how long a next CA is published before automatic mode activates it",
  },
  "ca-renewal-window": {
    type: "string",
    default: "1h",
    help: "spokes renew away from a non-active CA at a random moment within this window",
  },
  "ca-refresh": {
    type: "string",
    default: "5s",
    help: "how often a replica checks the store for CA changes",
  },
  "tls-cert": { type: "string", help: "serving certificate PEM (+chain), reloaded on change" },
  "tls-key": { type: "string", help: "serving private key PEM" },
  "tls-ca": { type: "string", help: "CA of --tls-cert to hand out as caBundle (private CAs only)" },
  san: {
    type: "string",
    multiple: true,
    help: "extra DNS name or IP of the issued serving cert (repeatable; env: comma list)",
  },
  "key-algorithm": { type: "string", default: "rsa2048", help: keyAlgorithms.join(" | ") },
  "cert-validity": { type: "string", default: "30d", help: "lifetime of issued client certificates" },
  "crl-validity": { type: "string", default: "24h", help: "thisUpdate to nextUpdate of each CA's CRL" },
  "serving-cert-validity": {
    type: "string",
    default: "90d",
    help: "lifetime of the serving cert the hub issues itself",
  },
  "tls-reload-interval": {
    type: "string",
    default: "5s",
    help: "how often --tls-cert/--tls-key are checked",
  },
  "token-ttl": { type: "string", default: "10m", help: "one-time token lifetime (max 24h)" },
  "bootstrap-token-ttl": { type: "string", default: "24h", help: "bootstrap token lifetime (max 365d)" },
  "internal-auth": { type: "string", default: "bearer", help: "bearer | none (network-isolated only)" },
  "admin-token": { type: "string", help: "use this admin token instead of generating one" },
  "body-limit": { type: "string", default: "64KiB", help: "request body limit (B, KiB, MiB)" },
  "rate-limit": { type: "string", default: "60", help: "requests per IP and window on the token routes" },
  "rate-limit-window": { type: "string", default: "1m", help: "rate limit window" },
  "log-level": { type: "string", default: "info", help: "fatal | error | warn | info | debug | trace" },
  "subject-locality": { type: "string", default: "Berlin", help: "L of every runtime subject" },
  "subject-province": { type: "string", default: "Berlin", help: "ST of every runtime subject" },
  "subject-country": { type: "string", default: "DE", help: "C of every runtime subject" },
  "renewal-limit": { type: "string", default: "10", help: "renewals per runtime and window; more get 429" },
  "renewal-limit-window": { type: "string", default: "1h", help: "renewal limit window" },
  "superseded-grace": {
    type: "string",
    default: "1h",
    help: "how long a renewed certificate keeps working (0s: not at all)",
  },
  "max-connections": {
    type: "string",
    default: "1000",
    help: "open connections per listener; more are closed",
  },
  "handshake-timeout": { type: "string", default: "10s", help: "TLS handshake time limit" },
  "header-timeout": { type: "string", default: "10s", help: "time limit to receive a request's headers" },
  "request-timeout": { type: "string", default: "30s", help: "time limit to receive a whole request" },
  "idle-timeout": {
    type: "string",
    default: "30s",
    help: "closes a connection silent this long within a request",
  },
  "keep-alive-timeout": {
    type: "string",
    default: "5s",
    help: "closes a connection this long after its last answer when no request follows",
  },
  workers: {
    type: "string",
    default: "1",
    help: "hub processes sharing the listeners and the store (auto: one per CPU)",
  },
} as const;

type FlagName = keyof typeof FLAGS;

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function envName(flag: string): string {
  return `TETHER_HUB_${flag.toUpperCase().replaceAll("-", "_")}`;
}

/** Every flag with its variable, default and help: the README's configuration reference is made from it. */
export function flagTable(): { flag: string; env: string; default?: string; help: string }[] {
  return Object.entries(FLAGS).map(([name, flag]) => ({
    flag: `--${name}`,
    env: envName(name),
    ...("default" in flag ? { default: flag.default } : {}),
    help: flag.help,
  }));
}

export function flagsHelp(): string {
  return Object.entries(FLAGS)
    .map(([name, flag]) => {
      const dflt = "default" in flag ? ` (default ${flag.default})` : "";
      return `  --${name.padEnd(22)} ${flag.help}${dflt}  [${envName(name)}]`;
    })
    .join("\n");
}

export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): HubConfig {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    values = parseArgs({ args: [...argv], options: stripDefaults(), strict: true }).values;
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  const get = (name: FlagName): string | undefined => {
    const value = values[name] ?? env[envName(name)];
    if (Array.isArray(value)) return value.join(",");
    if (typeof value === "string") return value;
    const flag = FLAGS[name];
    return "default" in flag ? flag.default : undefined;
  };
  const required = (name: FlagName): string => get(name) ?? "";
  const duration = (name: FlagName): number => {
    try {
      return parseDuration(required(name));
    } catch (error) {
      throw new ConfigError(`--${name}: ${(error as Error).message}`);
    }
  };

  const keyAlgorithm = required("key-algorithm");
  if (!(keyAlgorithms as readonly string[]).includes(keyAlgorithm)) {
    throw new ConfigError(`--key-algorithm: "${keyAlgorithm}" is not one of ${keyAlgorithms.join(", ")}`);
  }
  const internalAuth = required("internal-auth");
  if (internalAuth !== "bearer" && internalAuth !== "none") {
    throw new ConfigError(`--internal-auth: "${internalAuth}" is not bearer or none`);
  }
  const tokenTtlMs = duration("token-ttl");
  if (tokenTtlMs > MAX_TOKEN_TTL_MS) throw new ConfigError("--token-ttl: at most 24h");
  const bootstrapTokenTtlMs = duration("bootstrap-token-ttl");
  if (bootstrapTokenTtlMs > MAX_BOOTSTRAP_TOKEN_TTL_MS)
    throw new ConfigError("--bootstrap-token-ttl: at most 365d");
  const rateLimitMax = Number(required("rate-limit"));
  if (!Number.isInteger(rateLimitMax) || rateLimitMax < 1) {
    throw new ConfigError("--rate-limit: a whole number of requests, at least 1");
  }
  const pair = (a: FlagName, b: FlagName): void => {
    if ((get(a) === undefined) !== (get(b) === undefined))
      throw new ConfigError(`--${a} and --${b} go together`);
  };
  const renewalMax = Number(required("renewal-limit"));
  if (!Number.isInteger(renewalMax) || renewalMax < 1) {
    throw new ConfigError("--renewal-limit: a whole number of renewals, at least 1");
  }
  const maxConnections = Number(required("max-connections"));
  if (!Number.isInteger(maxConnections) || maxConnections < 1) {
    throw new ConfigError("--max-connections: a whole number, at least 1");
  }
  const timeout = (name: FlagName): number => {
    const ms = duration(name);
    if (ms < 1000) throw new ConfigError(`--${name}: at least 1s`);
    return ms;
  };
  if (timeout("header-timeout") > timeout("request-timeout")) {
    throw new ConfigError("--header-timeout: at most --request-timeout");
  }
  pair("ca-cert", "ca-key");
  const autoRotate = required("ca-auto-rotate");
  if (autoRotate !== "true" && autoRotate !== "false") {
    throw new ConfigError(`--ca-auto-rotate: "${autoRotate}" is not true or false`);
  }
  if (duration("ca-prepare-period") >= duration("ca-rotate-before")) {
    throw new ConfigError("--ca-prepare-period: must be shorter than --ca-rotate-before");
  }
  if (duration("ca-refresh") < 100) throw new ConfigError("--ca-refresh: at least 100ms");
  if (get("ca-kek") !== undefined && get("ca-kek-file") !== undefined) {
    throw new ConfigError("--ca-kek and --ca-kek-file: give one of them");
  }
  pair("tls-cert", "tls-key");
  const workersText = required("workers");
  const workers = workersText === "auto" ? availableParallelism() : Number(workersText);
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
    throw new ConfigError("--workers: auto or a whole number from 1 to 64");
  }

  return {
    listen: parseListen("listen", required("listen")),
    internalListen: parseListen("internal-listen", required("internal-listen")),
    publicUrl: parsePublicUrl(get("public-url")),
    dataDir: resolve(required("data-dir")),
    store: required("store"),
    caCert: get("ca-cert"),
    caKey: get("ca-key"),
    tlsCert: get("tls-cert"),
    tlsKey: get("tls-key"),
    tlsCa: get("tls-ca"),
    sans: (get("san") ?? "")
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== ""),
    keyAlgorithm: keyAlgorithm as KeyAlgorithm,
    certValidityMs: duration("cert-validity"),
    crlValidityMs: duration("crl-validity"),
    servingCertValidityMs: duration("serving-cert-validity"),
    tlsReloadIntervalMs: duration("tls-reload-interval"),
    tokenTtlMs,
    bootstrapTokenTtlMs,
    internalAuth,
    adminToken: get("admin-token"),
    bodyLimit: parseByteSize(required("body-limit")),
    rateLimit: { max: rateLimitMax, windowMs: duration("rate-limit-window") },
    logLevel: required("log-level"),
    subject: {
      locality: required("subject-locality"),
      province: required("subject-province"),
      country: required("subject-country"),
    },
    renewalLimit: { max: renewalMax, windowMs: duration("renewal-limit-window") },
    supersededGraceMs: duration("superseded-grace"),
    connections: {
      max: maxConnections,
      handshakeTimeoutMs: timeout("handshake-timeout"),
      headerTimeoutMs: timeout("header-timeout"),
      requestTimeoutMs: timeout("request-timeout"),
      idleTimeoutMs: timeout("idle-timeout"),
      keepAliveTimeoutMs: timeout("keep-alive-timeout"),
    },
    workers,
    caKek: get("ca-kek"),
    caKekFile: get("ca-kek-file"),
    caRotation: {
      autoRotate: autoRotate === "true",
      rotateBeforeMs: duration("ca-rotate-before"),
      preparePeriodMs: duration("ca-prepare-period"),
      renewalWindowMs: duration("ca-renewal-window"),
      refreshMs: duration("ca-refresh"),
    },
  };
}

/** parseArgs would apply defaults before the environment is consulted; defaults are applied in `get`. */
function stripDefaults() {
  const options: Record<string, { type: "string"; multiple?: boolean }> = {};
  for (const [name, flag] of Object.entries(FLAGS)) {
    options[name] = "multiple" in flag ? { type: "string", multiple: true } : { type: "string" };
  }
  return options;
}

export function parseListen(flag: string, text: string): ListenAddress {
  const match = /^(.*):(\d+)$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new ConfigError(`--${flag}: "${text}" is not host:port`);
  return { host: (match[1] ?? "").replace(/^\[(.*)\]$/, "$1") || "0.0.0.0", port };
}

function parsePublicUrl(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`--public-url: "${text}" is not a URL`);
  }
  if (url.protocol !== "https:") throw new ConfigError("--public-url: must be https://");
  return url.href.replace(/\/+$/, "");
}

const BYTE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kib: 1024,
  kb: 1000,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
};

export function parseByteSize(text: string): number {
  const match = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = BYTE_UNITS[(match?.[2] ?? "x").toLowerCase()];
  if (!match || unit === undefined) throw new ConfigError(`--body-limit: "${text}" is not a size like 64KiB`);
  return Number(match[1]) * unit;
}
