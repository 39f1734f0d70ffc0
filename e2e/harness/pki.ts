/**
 * The control plane's own credentials, made fresh for every start: a throw-away CA and a serving
 * certificate for 127.0.0.1/localhost (openssl CLI), the service-account token signing key pair
 * (node:crypto), and a static admin token in group system:masters.
 */
import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface ControlPlanePki {
  caFile: string;
  caPem: string;
  servingCertFile: string;
  servingKeyFile: string;
  serviceAccountPublicKeyFile: string;
  serviceAccountPrivateKeyFile: string;
  tokenAuthFile: string;
  adminToken: string;
  adminUser: string;
}

/** Names under which clients reach the API server: loopback, and the in-cluster service names. */
const servingSans = [
  "IP:127.0.0.1",
  "DNS:localhost",
  "DNS:kubernetes",
  "DNS:kubernetes.default",
  "DNS:kubernetes.default.svc",
  "DNS:kubernetes.default.svc.cluster.local",
];

async function openssl(step: string, args: string[]): Promise<void> {
  try {
    await run("openssl", args);
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    throw new Error(`control plane PKI: openssl failed to ${step}: ${stderr || String(error)}`, {
      cause: error,
    });
  }
}

export async function writeControlPlanePki(dir: string): Promise<ControlPlanePki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = (name: string): string => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

  await openssl("create the CA", [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    path("ca.key"),
    "-out",
    path("ca.crt"),
    "-days",
    "7",
    "-subj",
    "/CN=tether-e2e-control-plane-ca",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await openssl("create the serving key and CSR", [
    "req",
    "-new",
    ...ec,
    "-keyout",
    path("serving.key"),
    "-out",
    path("serving.csr"),
    "-subj",
    "/CN=kube-apiserver",
  ]);
  await writeFile(
    path("serving.ext"),
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      "extendedKeyUsage=serverAuth",
      `subjectAltName=${servingSans.join(",")}`,
      "",
    ].join("\n"),
  );
  await openssl("sign the serving certificate", [
    "x509",
    "-req",
    "-in",
    path("serving.csr"),
    "-CA",
    path("ca.crt"),
    "-CAkey",
    path("ca.key"),
    "-set_serial",
    `0x${randomBytes(16).toString("hex")}`,
    "-days",
    "7",
    "-extfile",
    path("serving.ext"),
    "-out",
    path("serving.crt"),
  ]);

  const sa = generateKeyPairSync("ec", { namedCurve: "P-256" });
  await writeFile(path("sa.key"), sa.privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  await writeFile(path("sa.pub"), sa.publicKey.export({ type: "spki", format: "pem" }));

  const adminUser = "tether-e2e-admin";
  const adminToken = randomBytes(24).toString("hex");
  // token,user,uid,"group1,group2"
  await writeFile(path("tokens.csv"), `${adminToken},${adminUser},${adminUser},"system:masters"\n`, {
    mode: 0o600,
  });

  return {
    caFile: path("ca.crt"),
    caPem: await readFile(path("ca.crt"), "utf8"),
    servingCertFile: path("serving.crt"),
    servingKeyFile: path("serving.key"),
    serviceAccountPublicKeyFile: path("sa.pub"),
    serviceAccountPrivateKeyFile: path("sa.key"),
    tokenAuthFile: path("tokens.csv"),
    adminToken,
    adminUser,
  };
}
