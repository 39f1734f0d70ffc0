/**
 * What the spoke asks of the hub (docs/api.md#runtime-api). Controllers depend on this interface; `http.ts` serves
 * it with Node's https, and unit tests hand in a scripted fake.
 */
import type { CsrInfo, ManagementInfo } from "@tether/shared/contract";

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
  renewCertificate(url: string, csrPem: string, tls: MtlsOptions): Promise<IssuedCertificates>;
  revokeCertificate(url: string, tls: MtlsOptions): Promise<void>;
}
