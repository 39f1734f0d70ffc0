/**
 * Reads a kubeconfig the way the spoke uses it: only the current context, its cluster and its user,
 * with every piece checked so that a broken file is reported at start-up with what to fix, not as a
 * TLS or 401 error later. Only embedded data is supported: the spoke reads kubeconfigs from Secrets,
 * where file paths mean nothing.
 */
import { parse } from "yaml";
import { CERTIFICATE, PRIVATE_KEY, decodeData } from "./data.ts";
import { KubeconfigError } from "./errors.ts";
import { checkProxyUrl, checkServer } from "./urls.ts";

export interface KubeconfigView {
  contextName: string;
  clusterName: string;
  userName: string;
  server: string;
  proxyUrl?: string;
  /** Decoded certificate-authority-data; absent: the system trust store. */
  caPem?: string;
  token?: string;
  /** Decoded client-certificate-data and client-key-data; always both or neither. */
  clientCertificatePem?: string;
  clientKeyPem?: string;
}

type Entry = Record<string, unknown>;

export function parseKubeconfig(text: string): KubeconfigView {
  const config = readYaml(text);
  const contextName = config["current-context"];
  if (typeof contextName !== "string" || contextName === "") {
    throw new KubeconfigError("no-current-context", "current-context is not set");
  }
  const context = findNamed(config, "contexts", "context", contextName, "missing-context");
  const clusterName = stringField(context, "cluster");
  const userName = stringField(context, "user");
  if (clusterName === undefined) {
    throw new KubeconfigError("missing-cluster", `context "${contextName}" names no cluster`);
  }
  if (userName === undefined)
    throw new KubeconfigError("missing-user", `context "${contextName}" names no user`);
  const cluster = findNamed(config, "clusters", "cluster", clusterName, "missing-cluster");
  const user = findNamed(config, "users", "user", userName, "missing-user");

  refuseFileReferences(`cluster "${clusterName}"`, cluster, ["certificate-authority"]);
  refuseFileReferences(`user "${userName}"`, user, ["client-certificate", "client-key", "tokenFile"]);
  if (cluster["insecure-skip-tls-verify"] === true) {
    throw new KubeconfigError(
      "insecure",
      `cluster "${clusterName}" sets insecure-skip-tls-verify; embed the hub CA`,
    );
  }

  const view: KubeconfigView = { contextName, clusterName, userName, server: checkServer(cluster.server) };
  const proxyUrl = checkProxyUrl(cluster["proxy-url"]);
  if (proxyUrl !== undefined) view.proxyUrl = proxyUrl;
  const caData = dataField(cluster, "certificate-authority-data");
  if (caData !== undefined) view.caPem = decodeData("certificate-authority-data", caData, CERTIFICATE);
  readCredentials(userName, user, view);
  return view;
}

function readCredentials(userName: string, user: Entry, view: KubeconfigView): void {
  const token = stringField(user, "token");
  const certData = dataField(user, "client-certificate-data");
  const keyData = dataField(user, "client-key-data");
  if ((certData === undefined) !== (keyData === undefined)) {
    const missing = certData === undefined ? "client-certificate-data" : "client-key-data";
    throw new KubeconfigError("no-credentials", `user "${userName}" has no ${missing}`);
  }
  if (token === undefined && certData === undefined) {
    throw new KubeconfigError(
      "no-credentials",
      `user "${userName}" has neither a token nor client-certificate-data and client-key-data`,
    );
  }
  if (token !== undefined) view.token = token;
  if (certData !== undefined && keyData !== undefined) {
    view.clientCertificatePem = decodeData("client-certificate-data", certData, CERTIFICATE);
    view.clientKeyPem = decodeData("client-key-data", keyData, PRIVATE_KEY);
  }
}

function readYaml(text: string): Entry {
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    throw new KubeconfigError("invalid-yaml", `not valid YAML: ${(error as Error).message.split("\n")[0]}`);
  }
  if (!isEntry(value) || (value.kind !== undefined && value.kind !== "Config")) {
    throw new KubeconfigError("not-a-kubeconfig", "not a kubeconfig (expected a mapping of kind Config)");
  }
  return value;
}

/** `clusters: [{ name, cluster: {...} }]` and the same for contexts and users. */
function findNamed(
  config: Entry,
  list: string,
  key: string,
  name: string,
  code: "missing-context" | "missing-cluster" | "missing-user",
): Entry {
  const entries = Array.isArray(config[list]) ? (config[list] as unknown[]) : [];
  const entry = entries.find((item) => isEntry(item) && item.name === name);
  const body = isEntry(entry) ? entry[key] : undefined;
  if (!isEntry(body)) throw new KubeconfigError(code, `${list} has no ${key} named "${name}"`);
  return body;
}

function refuseFileReferences(owner: string, entry: Entry, keys: string[]): void {
  const key = keys.find((k) => entry[k] !== undefined && entry[k] !== "");
  if (key !== undefined) {
    throw new KubeconfigError(
      "file-reference",
      `${owner} refers to a file with ${key}; embed the data instead`,
    );
  }
}

function stringField(entry: Entry, key: string): string | undefined {
  const value = entry[key];
  return typeof value === "string" && value !== "" ? value : undefined;
}

function dataField(entry: Entry, key: string): string | undefined {
  const value = entry[key];
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new KubeconfigError("invalid-data", `${key} is not a base64 string`);
  return value;
}

function isEntry(value: unknown): value is Entry {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
