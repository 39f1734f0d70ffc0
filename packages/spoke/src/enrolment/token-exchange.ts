/**
 * The token flow's calls to the hub (docs/resources.md#certificaterequest steps 1 and the CSR), shared by the CertificateRequest
 * controller (token URL) and the bootstrap flow (bootstrap token as Bearer): read the CSR info, make a
 * key of the advertised algorithm, have the hub sign a CSR with the advertised subject. What was
 * obtained is kept in `progress` across retries, because the info and CSR tokens are one-time: a
 * retry after the info call must not spend the info token again.
 */
import type { CsrInfo } from "@tether/shared/contract";
import { createCsr, exportPrivateKeyPem, generateKeyPair, parseSubject } from "@tether/shared/pki";
import type { KeyPair } from "@tether/shared/pki";
import type { HubClient, TokenCallOptions } from "../hub-client/client.ts";
import type { Credentials } from "../credential/secret.ts";
import { heldFromIssued } from "../credential/secret.ts";
import type { ExchangeStep } from "./exchange-failure.ts";

export interface ExchangeProgress {
  info?: CsrInfo;
  key?: { pair: KeyPair; pem: string };
  credentials?: Credentials;
}

export interface TokenExchange {
  infoUrl: string;
  call: TokenCallOptions;
  /** The hub's URL as the hub kubeconfig names it. */
  server: string;
  /** Checks the CSR info before a key is made and the CSR token is spent; throws what is wrong. */
  accept?: (info: CsrInfo) => void;
}

export async function exchangeToken(
  hub: HubClient,
  exchange: TokenExchange,
  progress: ExchangeProgress,
  at: (step: ExchangeStep) => void,
): Promise<Credentials> {
  if (progress.credentials !== undefined) return progress.credentials;
  const { call } = exchange;
  at("info");
  progress.info ??= await hub.getCsrInfo(exchange.infoUrl, call);
  exchange.accept?.(progress.info);
  at("key");
  if (progress.key === undefined) {
    const pair = await generateKeyPair(progress.info.certificate["key-algorithm"]);
    progress.key = { pair, pem: await exportPrivateKeyPem(pair) };
  }
  const csr = await createCsr(progress.key.pair, parseSubject(progress.info.certificate.subject));
  at("csr");
  const issued = await hub.issueCertificate(progress.info.csrUrl, csr, call);
  at("issued");
  const credentials: Credentials = {
    chainPem: issued.chainPem,
    keyPem: progress.key.pem,
    trustPem: issued.caPem,
    server: exchange.server,
    serverCaPem: call.caPem,
    proxyUrl: call.proxyUrl,
  };
  await heldFromIssued(credentials);
  progress.credentials = credentials;
  return credentials;
}
