/**
 * What the spoke asks of the hub (docs/api.md#runtime-api). Controllers depend on this interface; `http.ts` serves
 * it with Node's https, and unit tests hand in a scripted fake.
 */
import type { CsrInfo, ManagementInfo, TrustBundle } from "@tether/shared/contract";

export interface TokenCallOptions {
  /** PEM of the CA(s) that issued the hub's serving certificate; undefined: the system trust store. */
  caPem?: string;
  /** A bootstrap token, sent as `Authorization: Bearer` (docs/renewal.md#join). */
  bearerToken?: string;
  /** An HTTP proxy (a kubeconfig's proxy-url) that the call tunnels through. */
  proxyUrl?: string;
}

/** A client certificate and key for the mTLS routes, plus the trust for the hub's serving certificate. */
export interface MtlsOptions {
  /** The client certificate, optionally followed by its chain. */
  certPem: string;
  keyPem: string;
  caPem?: string;
  proxyUrl?: string;
}

/** The certificates response, decoded from base64. */
export interface IssuedCertificates {
  /** Client certificate followed by its issuing CA: what goes into tls.crt. */
  chainPem: string;
  clientCertPem: string;
  /** The issuing CA: the hub trust bundle that goes into ca.crt. */
  caPem: string;
}

export interface HubClient {
  getCsrInfo(infoUrl: string, options: TokenCallOptions): Promise<CsrInfo>;
  issueCertificate(csrUrl: string, csrPem: string, options: TokenCallOptions): Promise<IssuedCertificates>;
  getManagementInfo(url: string, tls: MtlsOptions): Promise<ManagementInfo>;
  /**
   * The trust bundle (docs/api.md#runtime-api, CA rotation); undefined when the hub answers 404: a hub
   * without CA rotation, with which the spoke carries on as before.
   */
  getTrustBundle(url: string, tls: MtlsOptions): Promise<TrustBundle | undefined>;
  renewCertificate(url: string, csrPem: string, tls: MtlsOptions): Promise<IssuedCertificates>;
  revokeCertificate(url: string, tls: MtlsOptions): Promise<void>;
}

/**
 * The trust bundle's URL beside the management info's: `…/management/info` → `…/management/trust`
 * (routes.trustBundle), under whatever prefix the hub is served.
 */
export function trustBundleUrl(managementInfoUrl: string): string {
  const url = new URL("trust", managementInfoUrl);
  url.search = "";
  return url.href;
}
