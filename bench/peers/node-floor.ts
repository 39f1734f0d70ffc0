/**
 * The floor Node itself puts under the hub (docs/benchmarks.md#what-each-row-includes): a bare
 * `node:https` server with the hub's TLS settings and nothing else, started by the bench as its own
 * process so that the driver counts its CPU time like any other server's.
 *
 *   --kind json  answers GET /info with the body file over mTLS (TLS 1.3, the client certificate
 *                required and verified against --client-ca), as nginx does in the same bench;
 *   --kind csr   answers POST {"csr": base64 PEM} with a certificate signed by --ca-cert/--ca-key
 *                through the project's own pki (parse, check the CSR's signature, issue), storing
 *                nothing and checking no token.
 *
 * `--workers N` forks N processes with node:cluster that share the listener. "ready" goes to stdout
 * once every process listens.
 */
import cluster from "node:cluster";
import { readFileSync } from "node:fs";
import { createServer, type ServerOptions } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { parseArgs } from "node:util";
import { encodeBase64Pem, issueCertificateSync, loadCa, parseCsrSync } from "@tether/shared/pki";
import { systemClock } from "@tether/shared/time";

const { values } = parseArgs({
  options: {
    kind: { type: "string" },
    port: { type: "string" },
    workers: { type: "string", default: "1" },
    cert: { type: "string" },
    key: { type: "string" },
    "client-ca": { type: "string" },
    body: { type: "string" },
    "ca-cert": { type: "string" },
    "ca-key": { type: "string" },
  },
});
const need = (name: keyof typeof values): string => {
  const value = values[name];
  if (typeof value !== "string") throw new Error(`node-floor: --${name} is required`);
  return value;
};
const workers = Number(values.workers);
if (!Number.isInteger(workers) || workers < 1) throw new Error(`node-floor: --workers "${values.workers}"`);

if (cluster.isPrimary && workers > 1) {
  let listening = 0;
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on("listening", () => {
    if (++listening === workers) console.log("ready");
  });
  // A worker that dies ends the whole reference: a figure from fewer processes would mislead. (The
  // bench stops the process group, workers included.)
  cluster.on("exit", () => process.exit(1));
} else {
  const tls: ServerOptions = {
    cert: readFileSync(need("cert")),
    key: readFileSync(need("key")),
    minVersion: "TLSv1.3",
  };
  const handler = values.kind === "json" ? jsonHandler(tls) : await csrHandler();
  createServer(tls, handler).listen(Number(need("port")), "127.0.0.1", () => {
    if (cluster.isPrimary) console.log("ready");
  });
}

function jsonHandler(tls: ServerOptions) {
  Object.assign(tls, { ca: readFileSync(need("client-ca")), requestCert: true, rejectUnauthorized: true });
  const body = readFileSync(need("body"));
  const headers = { "content-type": "application/json", "content-length": body.length };
  return (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === "GET" && req.url === "/info") res.writeHead(200, headers).end(body);
    else res.writeHead(404).end();
  };
}

async function csrHandler() {
  if (values.kind !== "csr") throw new Error(`node-floor: --kind "${values.kind}" is neither json nor csr`);
  const ca = await loadCa(readFileSync(need("ca-cert"), "utf8"), readFileSync(need("ca-key"), "utf8"));
  const caCrt = encodeBase64Pem(ca.certPem);
  return (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      try {
        const { csr } = JSON.parse(Buffer.concat(chunks).toString()) as { csr: string };
        const parsed = parseCsrSync(Buffer.from(csr, "base64").toString());
        const issued = issueCertificateSync({
          csr: parsed,
          ca,
          validityMs: 86_400_000,
          clock: systemClock,
        });
        const clientCrt = encodeBase64Pem(issued.pem);
        const answer = JSON.stringify({ crt: encodeBase64Pem(issued.pem + ca.certPem), clientCrt, caCrt });
        res.writeHead(201, { "content-type": "application/json" }).end(answer);
      } catch (error) {
        res.writeHead(400, { "content-type": "text/plain" }).end(String(error));
      }
    });
  };
}
