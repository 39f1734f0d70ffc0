/**
 * Builds the two kubeconfigs of docs/resources.md#the-bootstrap-and-hub-kubeconfigs: the bootstrap kubeconfig (hub URL, hub serving CA, bootstrap
 * token) and the hub kubeconfig (the same cluster, with the spoke's client certificate instead).
 * Inputs are checked with the same rules `parseKubeconfig` applies, so whatever is built parses back.
 */
import { stringify } from "yaml";
import { CERTIFICATE, PRIVATE_KEY, checkPem, encodeData } from "./data.ts";
import { KubeconfigError } from "./errors.ts";
import { checkProxyUrl, checkServer } from "./urls.ts";

export interface KubeconfigNames {
  cluster?: string;
  context?: string;
  user?: string;
}

interface ClusterOptions {
  /** The hub's public URL (`--public-url`). */
  server: string;
  /** PEM of the CA(s) that issued the hub's serving certificate; omitted: the system trust store. */
  caPem?: string;
  proxyUrl?: string;
  names?: KubeconfigNames;
}

export interface BootstrapKubeconfigOptions extends ClusterOptions {
  token: string;
}

export interface HubKubeconfigOptions extends ClusterOptions {
  /** Client certificate, optionally followed by its chain. */
  clientCertificatePem: string;
  clientKeyPem: string;
}

export const defaultKubeconfigNames = {
  cluster: "hub",
  context: "hub",
  bootstrapUser: "bootstrap",
  hubUser: "spoke",
};

export function buildBootstrapKubeconfig(options: BootstrapKubeconfigOptions): string {
  if (options.token === "" || /\s/.test(options.token)) {
    throw new KubeconfigError("no-credentials", "the bootstrap token is empty or contains whitespace");
  }
  return render(options, defaultKubeconfigNames.bootstrapUser, { token: options.token });
}

export function buildHubKubeconfig(options: HubKubeconfigOptions): string {
  checkPem("client certificate", options.clientCertificatePem, CERTIFICATE);
  checkPem("client key", options.clientKeyPem, PRIVATE_KEY);
  return render(options, defaultKubeconfigNames.hubUser, {
    "client-certificate-data": encodeData(options.clientCertificatePem),
    "client-key-data": encodeData(options.clientKeyPem),
  });
}

function render(options: ClusterOptions, defaultUser: string, user: Record<string, string>): string {
  const cluster: Record<string, string> = { server: checkServer(options.server) };
  if (options.caPem !== undefined) {
    checkPem("hub CA", options.caPem, CERTIFICATE);
    cluster["certificate-authority-data"] = encodeData(options.caPem);
  }
  const proxyUrl = checkProxyUrl(options.proxyUrl);
  if (proxyUrl !== undefined) cluster["proxy-url"] = proxyUrl;
  const names = {
    cluster: options.names?.cluster ?? defaultKubeconfigNames.cluster,
    context: options.names?.context ?? defaultKubeconfigNames.context,
    user: options.names?.user ?? defaultUser,
  };
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: names.cluster, cluster }],
    users: [{ name: names.user, user }],
    contexts: [{ name: names.context, context: { cluster: names.cluster, user: names.user } }],
    "current-context": names.context,
    preferences: {},
  };
  // lineWidth 0: never fold the long base64 values.
  return stringify(config, { lineWidth: 0 });
}
