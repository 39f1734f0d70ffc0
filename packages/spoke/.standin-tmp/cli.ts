// Throwaway stand-in for the spoke CLI (never committed): exercises the demo's steps 5-8.
import { execFileSync } from "node:child_process";
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import {
  createCsr,
  decodeBase64Pem,
  encodeBase64Pem,
  exportPrivateKeyPem,
  generateKeyPair,
  parseSubject,
} from "../../shared/src/pki/index.ts";
import { createHttpHubClient } from "../src/hub-client/http.ts";
const { values } = parseArgs({
  args: process.argv.slice(3),
  options: {
    kubeconfig: { type: "string" },
    namespace: { type: "string" },
    "hub-ca-file": { type: "string" },
    "health-addr": { type: "string" },
    "metrics-addr": { type: "string" },
  },
});
const [h, p] = values["health-addr"]!.split(":");
createServer((_q, r) => r.end("ok")).listen(Number(p), h);
const k = (args: string[], input?: string) =>
  execFileSync("kubectl", ["--kubeconfig", values.kubeconfig!, ...args], { input, encoding: "utf8" });
const hub = createHttpHubClient();
for (;;) {
  const items = JSON.parse(k(["get", "certificaterequests", "-o", "json"])).items;
  for (const cr of items) {
    const name = cr.metadata.name;
    const caPem = decodeBase64Pem(cr.spec.caBundle);
    const info = await hub.getCsrInfo(cr.spec.csrInfoUrl, { caPem });
    const pair = await generateKeyPair(info.certificate["key-algorithm"]);
    const issued = await hub.issueCertificate(
      info.csrUrl,
      await createCsr(pair, parseSubject(info.certificate.subject)),
      { caPem },
    );
    const b = (s: string) => Buffer.from(s).toString("base64");
    k(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Secret",
        type: "kubernetes.io/tls",
        metadata: { name: `${name}-hub-credentials`, namespace: values.namespace },
        data: {
          "tls.crt": b(issued.chainPem),
          "tls.key": b(await exportPrivateKeyPem(pair)),
          "ca.crt": b(issued.caPem),
        },
      }),
    );
    const url = info.api.infoUrl.replace(/signingRequests.*/, "management/info");
    k(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "tether.dev/v1alpha1",
        kind: "CentralConnection",
        metadata: { name },
        spec: {
          managementInfoUrl: url,
          establishedAt: new Date().toISOString(),
          secretRef: { name: `${name}-hub-credentials`, namespace: values.namespace },
        },
      }),
    );
    const now = new Date().toISOString();
    k([
      "patch",
      "centralconnection",
      name,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({
        status: {
          synchronizationStatus: { lastSync: now, lastSuccess: now },
          conditions: [
            { type: "Ready", status: "True", reason: "Synced", message: "ok", lastTransitionTime: now },
          ],
        },
      }),
    ]);
    k(["delete", "certificaterequest", name]);
    void encodeBase64Pem;
  }
  await new Promise((r) => setTimeout(r, 500));
}
