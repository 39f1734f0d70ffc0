/**
 * The bench's PKI, made with the openssl CLI so that no server's own code makes its CA: per CA key
 * type a root and an intermediate that every service signs with (the same CA per key type for all),
 * one P-256 serving certificate for 127.0.0.1 that the hub, cfssl and nginx present (step-ca issues
 * its own from its intermediate), and the P-256 JWK of step-ca's provisioner.
 */
import { execFile } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { CaKey } from "./cases.ts";

const run = promisify(execFile);

export interface CaFiles {
  key: CaKey;
  rootCert: string;
  /** The intermediate's certificate. */
  cert: string;
  /** The intermediate followed by its root, for servers that take a chain. */
  chain: string;
  caKey: string;
}

export interface BenchPki {
  cas: Record<CaKey, CaFiles>;
  servingCert: string;
  servingKey: string;
  /** Both roots: what the driver trusts. */
  trust: string;
}

const keyArgs: Record<CaKey, string[]> = {
  "P-256": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
  "RSA-2048": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
};

async function openssl(args: string[]): Promise<void> {
  try {
    await run("openssl", args);
  } catch (error) {
    throw new Error(`openssl ${args.join(" ")}: ${(error as { stderr?: string }).stderr ?? String(error)}`, {
      cause: error,
    });
  }
}

async function makeCa(dir: string, key: CaKey): Promise<CaFiles> {
  const tag = key === "P-256" ? "p256" : "rsa2048";
  const f = (name: string) => join(dir, `${tag}-${name}`);
  await openssl(["genpkey", ...keyArgs[key], "-out", f("root.key")]);
  await openssl([
    ...["req", "-x509", "-new", "-key", f("root.key"), "-sha256", "-days", "30"],
    ...["-subj", `/O=tether bench/CN=bench root ${key}`, "-out", f("root.crt")],
    ...["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
  ]);
  await openssl(["genpkey", ...keyArgs[key], "-out", f("ca.key")]);
  await openssl([
    "req",
    "-new",
    "-key",
    f("ca.key"),
    "-subj",
    `/O=tether bench/CN=bench CA ${key}`,
    "-out",
    f("ca.csr"),
  ]);
  await writeFile(
    f("ca.ext"),
    [
      "basicConstraints=critical,CA:TRUE,pathlen:0",
      "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
      "subjectKeyIdentifier=hash",
      "authorityKeyIdentifier=keyid",
      "",
    ].join("\n"),
  );
  await openssl([
    ...["x509", "-req", "-in", f("ca.csr"), "-CA", f("root.crt"), "-CAkey", f("root.key")],
    ...["-set_serial", "2", "-days", "30", "-sha256", "-extfile", f("ca.ext"), "-out", f("ca.crt")],
  ]);
  const chain = f("ca-chain.crt");
  await writeFile(chain, (await readFile(f("ca.crt"), "utf8")) + (await readFile(f("root.crt"), "utf8")));
  return { key, rootCert: f("root.crt"), cert: f("ca.crt"), chain, caKey: f("ca.key") };
}

export async function makePki(dir: string): Promise<BenchPki> {
  const cas = { "P-256": await makeCa(dir, "P-256"), "RSA-2048": await makeCa(dir, "RSA-2048") };
  const root = cas["P-256"];
  const f = (name: string) => join(dir, `serving-${name}`);
  await openssl(["genpkey", ...keyArgs["P-256"], "-out", f("key.pem")]);
  await openssl(["req", "-new", "-key", f("key.pem"), "-subj", "/CN=127.0.0.1", "-out", f("csr.pem")]);
  await writeFile(
    f("ext.cnf"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n",
  );
  await openssl([
    ...["x509", "-req", "-in", f("csr.pem"), "-CA", root.rootCert, "-CAkey", join(dir, "p256-root.key")],
    ...["-set_serial", "3", "-days", "30", "-sha256", "-extfile", f("ext.cnf"), "-out", f("cert.pem")],
  ]);
  const trust = join(dir, "trust.pem");
  await writeFile(
    trust,
    (await readFile(cas["P-256"].rootCert, "utf8")) + (await readFile(cas["RSA-2048"].rootCert, "utf8")),
  );
  return { cas, servingCert: f("cert.pem"), servingKey: f("key.pem"), trust };
}

export interface ProvisionerKey {
  /** The public JWK for step-ca's ca.json. */
  publicJwk: Record<string, string>;
  /** The file holding the private JWK, for the driver. */
  privateFile: string;
}

/** A P-256 JWK whose kid is its RFC 7638 thumbprint, as `step crypto jwk create` makes them. */
export async function makeProvisionerKey(dir: string): Promise<ProvisionerKey> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const jwk = privateKey.export({ format: "jwk" }) as {
    kty: string;
    crv: string;
    x: string;
    y: string;
    d: string;
  };
  const thumbprint = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  const kid = createHash("sha256").update(thumbprint).digest("base64url");
  const privateFile = join(dir, "provisioner.jwk.json");
  await writeFile(privateFile, JSON.stringify({ ...jwk, kid }), { mode: 0o600 });
  return {
    publicJwk: { use: "sig", kty: jwk.kty, kid, crv: jwk.crv, alg: "ES256", x: jwk.x, y: jwk.y },
    privateFile,
  };
}
