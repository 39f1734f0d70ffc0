/**
 * The credential Secret (docs/resources.md#certificaterequest), the one module that knows its layout: the key names, how the
 * spoke's certificate, key, the hub trust bundle and the hub kubeconfig are laid out in it, how it is
 * written (one API call, never two half-writes) and how it is read back into the state the policies
 * judge. The CertificateRequest controller, the connection controller and the bootstrap flow (whose
 * hub kubeconfig Secret is this same layout) all go through here.
 */
import { createHash } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";
import { type KubeconfigView, buildHubKubeconfig, parseKubeconfig } from "@tether/shared/kubeconfig";
import {
  certificateInfo,
  importPrivateKeyPem,
  keyMatchesCertificate,
  pemToDer,
  splitPemBundle,
  verifyChain,
} from "@tether/shared/pki";
import { updateWithRetry } from "../kube/conflict.ts";
import type { KubePort } from "../kube/port.ts";
import { ConflictError } from "../kube/port.ts";
import type { SecretReference } from "../kube/types.ts";
import { connectionLabel, managedByLabel, managedByValue } from "../kube/types.ts";
import type { CertificateFacts, CredentialState } from "../policy/state.ts";

/** The keys of the credential Secret (docs/resources.md#certificaterequest): type kubernetes.io/tls plus ca.crt and kubeconfig. */
export const secretKeys = {
  /** The client certificate followed by its issuing CA. */
  certificate: "tls.crt",
  privateKey: "tls.key",
  trustBundle: "ca.crt",
  kubeconfig: "kubeconfig",
} as const;

export const credentialKeys = [
  secretKeys.certificate,
  secretKeys.privateKey,
  secretKeys.trustBundle,
  secretKeys.kubeconfig,
] as const;
export type CredentialKey = (typeof credentialKeys)[number];

export interface Credentials {
  /** tls.crt: the client certificate followed by its issuing CA. */
  chainPem: string;
  /** tls.key: PKCS#8 PEM. */
  keyPem: string;
  /** ca.crt: the hub trust bundle (the CA that issues client certificates). */
  trustPem: string;
  /** The hub's public URL, the kubeconfig's server. */
  server: string;
  /** The CA of the hub's serving certificate; undefined: the system trust store. */
  serverCaPem?: string;
  /** The kubeconfig's proxy-url: calls to the hub go through this HTTP proxy. */
  proxyUrl?: string;
}

/** A credential whose certificate has been read: what a controller can present to the hub. */
export interface HeldCredential {
  credentials: Credentials;
  certificate: CertificateFacts;
}

/**
 * SHA-256 of every CA the kubeconfig's certificate-authority-data has held, comma-separated: the CAs
 * this credential moved through by trust updates read from the hub over mTLS. A bootstrap kubeconfig
 * whose CA is among them names the same hub (policy/hub-kubeconfig.ts), after the hub's CA rotated.
 */
export const serverCaHistoryAnnotation = "tether.dev/server-ca-history";

/** SHA-256 of each certificate's DER in a PEM bundle, lower-case hex, as the trust bundle names CAs. */
export function pemFingerprints(pem: string | undefined): string[] {
  if (pem === undefined) return [];
  return splitPemBundle(pem).map((block) => createHash("sha256").update(pemToDer(block)).digest("hex"));
}

export function secretLabel(ref: SecretReference): string {
  return `${ref.namespace}/${ref.name}`;
}

export function credentialSecret(
  ref: SecretReference,
  connection: string,
  credentials: Credentials,
  serverCaHistory: readonly string[] = [],
): V1Secret {
  const history = [...new Set([...serverCaHistory, ...pemFingerprints(credentials.serverCaPem)])];
  const kubeconfig = buildHubKubeconfig({
    server: credentials.server,
    caPem: credentials.serverCaPem,
    proxyUrl: credentials.proxyUrl,
    clientCertificatePem: credentials.chainPem,
    clientKeyPem: credentials.keyPem,
  });
  const data: Record<CredentialKey, string> = {
    [secretKeys.certificate]: base64(credentials.chainPem),
    [secretKeys.privateKey]: base64(credentials.keyPem),
    [secretKeys.trustBundle]: base64(credentials.trustPem),
    [secretKeys.kubeconfig]: base64(kubeconfig),
  };
  return {
    apiVersion: "v1",
    kind: "Secret",
    type: "kubernetes.io/tls",
    metadata: {
      name: ref.name,
      namespace: ref.namespace,
      labels: { [managedByLabel]: managedByValue, [connectionLabel]: connection },
      annotations: history.length === 0 ? undefined : { [serverCaHistoryAnnotation]: history.join(",") },
    },
    data,
  };
}

/** The server CA history of a Secret: its annotation plus the CAs its kubeconfig holds now. */
export function serverCaHistory(secret: V1Secret | undefined): string[] {
  const annotated = secret?.metadata?.annotations?.[serverCaHistoryAnnotation];
  const recorded = annotated === undefined || annotated === "" ? [] : annotated.split(",");
  let current: string[] = [];
  try {
    current = pemFingerprints(parseKubeconfig(secretText(secret, secretKeys.kubeconfig) ?? "").caPem);
  } catch {
    // An unreadable kubeconfig taught nothing.
  }
  return [...new Set([...recorded, ...current])];
}

/**
 * Creates the Secret, or replaces an existing one that tether manages, with all four keys at once.
 * A Secret of the same name that tether does not manage is left alone: overwriting it could destroy
 * someone else's credentials.
 */
export async function writeCredentialSecret(
  kube: KubePort,
  ref: SecretReference,
  connection: string,
  credentials: Credentials,
): Promise<V1Secret> {
  const desired = credentialSecret(ref, connection, credentials);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await kube.secrets.create(desired);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
    const written = await updateWithRetry(
      () => kube.secrets.get(ref.namespace, ref.name),
      (current) => {
        if (current.metadata?.labels?.[managedByLabel] !== managedByValue) {
          throw new Error(
            `Secret ${secretLabel(ref)} exists and is not managed by tether-spoke (label ${managedByLabel}); delete it or choose another spec.secretRef`,
          );
        }
        const next = credentialSecret(ref, connection, credentials, serverCaHistory(current));
        return {
          ...next,
          metadata: {
            ...current.metadata,
            labels: { ...current.metadata?.labels, ...next.metadata?.labels },
            annotations: { ...current.metadata?.annotations, ...next.metadata?.annotations },
          },
        };
      },
      (next) => kube.secrets.replace(next),
    );
    if (written) return written;
  }
  throw new Error(`Secret ${secretLabel(ref)} keeps disappearing while it is written`);
}

export interface InspectedSecret {
  state: CredentialState;
  /** Present when the Secret holds a certificate and a key that belong together. */
  held?: HeldCredential;
  /** The Secret's `kubeconfig`, when it parses. */
  kubeconfig?: KubeconfigView;
  /** SHA-256 of every CA the kubeconfig has held (serverCaHistoryAnnotation and its CA now). */
  serverCaHistory: string[];
}

/** Reads the Secret into the state the policies judge; parses, matches the key and checks the chain. */
export async function inspectSecret(
  ref: SecretReference,
  secret: V1Secret | undefined,
  now: Date,
): Promise<InspectedSecret> {
  const state: CredentialState = {
    secretName: secretLabel(ref),
    secretFound: secret !== undefined,
    missingKeys: [],
  };
  if (secret === undefined) return { state, serverCaHistory: [] };
  const history = serverCaHistory(secret);
  const text = (key: CredentialKey) => secretText(secret, key);
  state.missingKeys = credentialKeys.filter((key) => text(key) === undefined);
  const chainPem = text(secretKeys.certificate);
  const keyPem = text(secretKeys.privateKey);
  if (chainPem === undefined || keyPem === undefined) return { state, serverCaHistory: history };
  let leafPem: string;
  try {
    leafPem = splitPemBundle(chainPem)[0] ?? "";
    state.certificate = certificateInfo(leafPem);
  } catch (error) {
    state.unreadable = `tls.crt holds no readable certificate (${message(error)})`;
    return { state, serverCaHistory: history };
  }
  state.issuerSha256 = issuerOf(chainPem);
  try {
    state.keyMatches = await keyMatchesCertificate(await importPrivateKeyPem(keyPem), leafPem);
  } catch (error) {
    state.unreadable = `tls.key holds no readable private key (${message(error)})`;
    return { state, serverCaHistory: history };
  }
  const trustPem = text(secretKeys.trustBundle);
  if (trustPem !== undefined) {
    state.chain = await checkIssuer(leafPem, trustPem, now);
    state.trustSha256 = fingerprintsOrNone(trustPem);
  }
  const kubeconfigText = text(secretKeys.kubeconfig);
  const kubeconfig = readKubeconfig(kubeconfigText);
  if (kubeconfigText !== undefined && "problem" in kubeconfig)
    state.unreadable = `kubeconfig is unreadable (${kubeconfig.problem})`;
  if ("problem" in kubeconfig) return { state, serverCaHistory: history };
  if (!state.keyMatches || trustPem === undefined) return { state, kubeconfig, serverCaHistory: history };
  return {
    state,
    kubeconfig,
    serverCaHistory: history,
    held: {
      credentials: {
        chainPem,
        keyPem,
        trustPem,
        server: kubeconfig.server,
        serverCaPem: kubeconfig.caPem,
        proxyUrl: kubeconfig.proxyUrl,
      },
      certificate: state.certificate,
    },
  };
}

/** The second certificate of tls.crt is the issuing CA (the hub's `crt`); undefined without one. */
function issuerOf(chainPem: string): string | undefined {
  try {
    return pemFingerprints(splitPemBundle(chainPem)[1])[0];
  } catch {
    return undefined;
  }
}

function fingerprintsOrNone(pem: string): string[] | undefined {
  try {
    return pemFingerprints(pem);
  } catch {
    return undefined;
  }
}

async function checkIssuer(leafPem: string, trustPem: string, now: Date): Promise<CredentialState["chain"]> {
  try {
    const result = await verifyChain(leafPem, [trustPem], now);
    if (result.ok || result.reason === "expired" || result.reason === "not-yet-valid") return { ok: true };
    return { ok: false, message: result.message };
  } catch (error) {
    return { ok: false, message: `ca.crt is unreadable (${message(error)})` };
  }
}

function readKubeconfig(text: string | undefined): KubeconfigView | { problem: string } {
  if (text === undefined) return { problem: "missing" };
  try {
    return parseKubeconfig(text);
  } catch (error) {
    return { problem: message(error) };
  }
}

/** Reads a credential that the hub just issued, checking that it belongs to the key the spoke made. */
export async function heldFromIssued(credentials: Credentials): Promise<HeldCredential> {
  const leafPem = splitPemBundle(credentials.chainPem)[0] ?? "";
  const certificate = certificateInfo(leafPem);
  if (!(await keyMatchesCertificate(await importPrivateKeyPem(credentials.keyPem), leafPem))) {
    throw new Error("the hub issued a certificate for a different key than the one in the CSR");
  }
  return { credentials, certificate };
}

/** A key's value as text; undefined when it is absent or empty. */
export function secretText(secret: V1Secret | undefined, key: string): string | undefined {
  const value = secret?.data?.[key];
  return value === undefined || value === "" ? undefined : Buffer.from(value, "base64").toString("utf8");
}

/** The certificate in tls.crt; undefined when there is none or it cannot be read. */
export function secretCertificate(secret: V1Secret | undefined): CertificateFacts | undefined {
  const chainPem = secretText(secret, secretKeys.certificate);
  if (chainPem === undefined) return undefined;
  try {
    return certificateInfo(splitPemBundle(chainPem)[0] ?? "");
  } catch {
    return undefined;
  }
}

/** notAfter of the certificate in tls.crt; undefined when there is none or it cannot be read. */
export function certificateNotAfter(secret: V1Secret | undefined): Date | undefined {
  return secretCertificate(secret)?.notAfter;
}

/**
 * The state the policies would read from the Secret once `held` is written to it: what the writer
 * knows without reading the Secret back.
 */
export function storedState(ref: SecretReference, held: HeldCredential): CredentialState {
  return {
    secretName: secretLabel(ref),
    secretFound: true,
    missingKeys: [],
    certificate: held.certificate,
    issuerSha256: issuerOf(held.credentials.chainPem),
    trustSha256: fingerprintsOrNone(held.credentials.trustPem),
    keyMatches: true,
    chain: { ok: true },
  };
}

export function isValidAt(held: HeldCredential | undefined, now: Date): held is HeldCredential {
  return held !== undefined && now >= held.certificate.notBefore && now < held.certificate.notAfter;
}

function base64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
