/**
 * The client certificate the mTLS rows present: one runtime enrolled on the hub the way a spoke does
 * it (admin token URL, CSR info, CSR with a P-256 key). nginx is given the same certificate's CA as
 * its client CA and the same management info as its static body.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Agent, request } from "undici";
import type { CertificatesResponse, CsrInfo, TokenResponse } from "@tether/shared/contract";
import {
  createCsr,
  decodeBase64Pem,
  encodeBase64Pem,
  exportPrivateKeyPem,
  generateKeyPair,
  parseSubject,
} from "@tether/shared/pki";
import type { RunningHub } from "./servers.ts";

export interface HubClient {
  cert: string;
  key: string;
  /** The management info the hub answers for this certificate. */
  info: string;
}

async function call<T>(
  url: string,
  options: Parameters<typeof request>[1] & object,
  expect: number,
): Promise<{ json: T; text: string }> {
  const response = await request(url, options);
  const text = await response.body.text();
  if (response.statusCode !== expect) {
    throw new Error(`${options.method ?? "GET"} ${url.split("?")[0]}: ${response.statusCode} ${text}`);
  }
  return { json: (text === "" ? undefined : JSON.parse(text)) as T, text };
}

export async function enrolHubClient(hub: RunningHub, trustPem: string, dir: string): Promise<HubClient> {
  const admin = (await readFile(hub.adminTokenFile, "utf8")).trim();
  const tls = new Agent({ connect: { ca: trustPem } });
  try {
    const { json: token } = await call<TokenResponse>(
      `${hub.internalUrl}/v1/runtimes/tokens`,
      {
        method: "POST",
        headers: {
          authorization: `Bearer ${admin}`,
          tenant: "bench",
          group: "mtls",
          "content-type": "application/json",
        },
        body: JSON.stringify({ runtime: "bench-mtls" }),
      },
      201,
    );
    const { json: info } = await call<CsrInfo>(token.url, { dispatcher: tls }, 200);
    const key = await generateKeyPair("ecdsa-p256");
    const csr = encodeBase64Pem(await createCsr(key, parseSubject(info.certificate.subject)));
    const { json: issued } = await call<CertificatesResponse>(
      info.csrUrl,
      {
        method: "POST",
        dispatcher: tls,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ csr }),
      },
      201,
    );
    const client: HubClient = {
      cert: join(dir, "mtls-client.crt"),
      key: join(dir, "mtls-client.key"),
      info: "",
    };
    const certPem = decodeBase64Pem(issued.crt);
    const keyPem = await exportPrivateKeyPem(key);
    await writeFile(client.cert, certPem);
    await writeFile(client.key, keyPem, { mode: 0o600 });
    const mtls = new Agent({ connect: { ca: trustPem, cert: certPem, key: keyPem } });
    try {
      client.info = (await call(`${hub.url}/v1/runtimes/management/info`, { dispatcher: mtls }, 200)).text;
    } finally {
      await mtls.close();
    }
    return client;
  } finally {
    await tls.close();
  }
}
