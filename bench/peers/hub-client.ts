/**
 * The client certificate the mTLS rows present: one runtime enrolled on the hub the way a spoke does
 * it (bench/lib/enrol.ts). nginx and the bare node:https server are given the same certificate's CA
 * as their client CA and the same management info as their static body.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Agent } from "undici";
import { callHub, enrolRuntime } from "../lib/enrol.ts";
import type { RunningHub } from "./servers.ts";

export interface HubClient {
  cert: string;
  key: string;
  /** The management info the hub answers for this certificate. */
  info: string;
}

export async function enrolHubClient(hub: RunningHub, trustPem: string, dir: string): Promise<HubClient> {
  const adminToken = (await readFile(hub.adminTokenFile, "utf8")).trim();
  const tls = new Agent({ connect: { ca: trustPem } });
  const enrolment = await enrolRuntime(
    { internalUrl: hub.internalUrl, adminToken, tenant: "bench", group: "mtls", runtime: "bench-mtls" },
    tls,
  ).finally(() => tls.close());
  const client: HubClient = {
    cert: join(dir, "mtls-client.crt"),
    key: join(dir, "mtls-client.key"),
    info: "",
  };
  await writeFile(client.cert, enrolment.chainPem);
  await writeFile(client.key, enrolment.keyPem, { mode: 0o600 });
  const mtls = new Agent({ connect: { ca: trustPem, cert: enrolment.chainPem, key: enrolment.keyPem } });
  try {
    client.info = await callHub(`${hub.url}/v1/runtimes/management/info`, { dispatcher: mtls }, 200);
  } finally {
    await mtls.close();
  }
  return client;
}
