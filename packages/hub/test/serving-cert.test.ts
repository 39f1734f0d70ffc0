/**
 * The serving certificate changes under a running hub (docs/pki.md#the-serving-certificate): issued by the hub CA and renewed
 * at 2/3 of its life, or read from files that change. Either way a keep-alive connection opened
 * before keeps working on its old session, and new connections get the new certificate.
 */
import { writeFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import t, { type Test } from "tap";
import {
  createCsr,
  exportPrivateKeyPem,
  generateKeyPair,
  issueCertificate,
  parseCsr,
  type CaKeyring,
} from "@tether/shared/pki";
import { FakeClock } from "@tether/shared/time";
import { fileServingCertificate } from "../src/ca/serving.ts";
import { newKeyring, startHub, tempDir, type TestHub } from "./helpers/hub.ts";

interface Seen {
  serial: string;
  socket: TLSSocket;
  status: number;
}

/** GET /healthz through `agent`; which certificate did the connection present, on which socket? */
function get(hub: TestHub, agent: HttpsAgent): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(`${hub.publicUrl}/healthz`, { agent, ca: hub.caPem }, (res: IncomingMessage) => {
      const socket = res.socket as TLSSocket;
      res.resume();
      res.on("end", () =>
        resolve({ serial: socket.getPeerCertificate().serialNumber, socket, status: res.statusCode ?? 0 }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

function keepAlive(t: Test): HttpsAgent {
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  return agent;
}

async function until(what: string, condition: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

t.test(
  "issued serving certificate: renewed at 2/3 of its life, swapped in without a dropped connection",
  async (t) => {
    // Three minutes of life: renewal is due after two. The fake clock moves there at once, and both
    // certificates stay valid in real time for the TLS clients.
    const hub = await startHub(t, { servingValidityMs: 3 * 60_000 });
    const before = keepAlive(t);
    const first = await get(hub, before);
    t.equal(first.status, 200);
    const firstPem = hub.app.context.serving.current().certPem;

    await hub.clock.advance(60_000);
    t.equal(hub.app.context.serving.current().certPem, firstPem, "not renewed at 1/3");
    await hub.clock.advance(61_000);
    await until("renewal", () => hub.app.context.serving.current().certPem !== firstPem);
    t.ok(hub.logs.some((line) => line.includes("serving certificate renewed")));

    const again = await get(hub, before);
    t.equal(again.status, 200, "the keep-alive connection still answers");
    t.equal(again.socket, first.socket, "on the same socket");
    t.equal(again.serial, first.serial, "which keeps its certificate");
    const fresh = await get(hub, keepAlive(t));
    t.not(fresh.serial, first.serial, "a new connection gets the renewed certificate");
  },
);

async function serverPair(keyring: CaKeyring, clock: FakeClock): Promise<{ cert: string; key: string }> {
  const key = await generateKeyPair("ecdsa-p256");
  const csr = await parseCsr(await createCsr(key, { CN: "localhost", O: "", OU: "", L: "", ST: "", C: "" }));
  const issued = await issueCertificate({
    csr,
    ca: keyring.active,
    validityMs: 86_400_000,
    clock,
    usage: "server",
    dnsNames: ["localhost"],
  });
  return { cert: issued.pem + keyring.active.certPem, key: await exportPrivateKeyPem(key) };
}

t.test("serving certificate from files: reloaded on change, half-updates skipped", async (t) => {
  const clock = new FakeClock(new Date());
  const keyring = await newKeyring("files CA", clock);
  const dir = tempDir(t);
  const certFile = join(dir, "tls.crt");
  const keyFile = join(dir, "tls.key");
  const write = (pair: { cert?: string; key?: string }) => {
    if (pair.cert !== undefined) writeFileSync(certFile, pair.cert);
    if (pair.key !== undefined) writeFileSync(keyFile, pair.key);
  };
  write(await serverPair(keyring, clock));
  const hub = await startHub(t, {
    keyring,
    serving: (log) => fileServingCertificate({ certFile, keyFile, caFile: undefined, intervalMs: 20, log }),
  });
  t.equal(hub.app.context.serving.current().caPem, undefined, "no --tls-ca: nothing to hand out as caBundle");
  const before = keepAlive(t);
  const first = await get(hub, before);

  const second = await serverPair(keyring, clock);
  write({ cert: second.cert });
  await until("the mismatch to be noticed", () => hub.logs.some((line) => line.includes("not usable yet")));
  t.equal((await get(hub, keepAlive(t))).serial, first.serial, "a cert without its key is not swapped in");
  write({ key: second.key });
  await until("reload", async () => (await get(hub, keepAlive(t))).serial !== first.serial);
  t.ok(hub.logs.some((line) => line.includes("serving certificate reloaded from files")));
  const again = await get(hub, before);
  t.same(
    [again.status, again.serial, again.socket === first.socket],
    [200, first.serial, true],
    "old connection lives on",
  );
});
