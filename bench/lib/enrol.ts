/**
 * One runtime enrolled on a hub for real, the way an operator and the spoke do it (docs/api.md):
 * the admin API makes a one-time token URL, the token URL answers the CSR info, and a CSR for a new
 * P-256 key with the assigned subject is exchanged for the certificate. Shared by the benches that
 * need real credentials (`bench peers` for its mTLS rows, `bench fleet` for its spokes, `bench
 * rotation` for the fleet it moves to a new CA).
 */
import type { Agent } from "undici";
import { request } from "undici";
import type { CertificatesResponse, CsrInfo, TokenResponse } from "@tether/shared/contract";
import {
  createCsr,
  decodeBase64Pem,
  encodeBase64Pem,
  exportPrivateKeyPem,
  generateKeyPair,
  parseSubject,
} from "@tether/shared/pki";

export interface EnrolAs {
  /** The hub's internal (admin) listener. */
  internalUrl: string;
  adminToken: string;
  tenant: string;
  group: string;
  runtime: string;
}

export interface Enrolment {
  /** The subject the hub assigned (CSR info), which a renewal's CSR carries again. */
  subject: string;
  keyPem: string;
  /** The client certificate alone. */
  certPem: string;
  /** The client certificate followed by the issuing CA (the response's `crt`). */
  chainPem: string;
  /** The CSR, base64 as the certificate routes take it: renewals may send it again. */
  csr: string;
}

/** A request whose answer must have status `expect`; else an error with the status and the body. */
export async function callHub(
  url: string,
  options: Parameters<typeof request>[1] & object,
  expect: number,
): Promise<string> {
  const response = await request(url, options);
  const text = await response.body.text();
  if (response.statusCode !== expect) {
    // The query holds the one-time token: never in an error.
    throw new Error(`${options.method ?? "GET"} ${url.split("?")[0]}: ${response.statusCode} ${text}`);
  }
  return text;
}

const callJson = async <T>(url: string, options: Parameters<typeof request>[1] & object, expect: number) =>
  JSON.parse(await callHub(url, options, expect)) as T;

/** `tls` trusts the hub's serving certificate (the public listener's token and CSR routes). */
export async function enrolRuntime(as: EnrolAs, tls: Agent): Promise<Enrolment> {
  const { url } = await callJson<TokenResponse>(
    `${as.internalUrl}/v1/runtimes/tokens`,
    {
      method: "POST",
      headers: {
        authorization: `Bearer ${as.adminToken}`,
        tenant: as.tenant,
        group: as.group,
        "content-type": "application/json",
      },
      body: JSON.stringify({ runtime: as.runtime }),
    },
    201,
  );
  const info = await callJson<CsrInfo>(url, { dispatcher: tls }, 200);
  const key = await generateKeyPair("ecdsa-p256");
  const csr = encodeBase64Pem(await createCsr(key, parseSubject(info.certificate.subject)));
  const issued = await callJson<CertificatesResponse>(
    info.csrUrl,
    {
      method: "POST",
      dispatcher: tls,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ csr }),
    },
    201,
  );
  return {
    subject: info.certificate.subject,
    keyPem: await exportPrivateKeyPem(key),
    certPem: decodeBase64Pem(issued.clientCrt),
    chainPem: decodeBase64Pem(issued.crt),
    csr,
  };
}
