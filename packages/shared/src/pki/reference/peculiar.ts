/**
 * The certificate builder and CSR parser the hub used before docs/pki.md#how-a-certificate-is-built:
 * @peculiar/x509's generator and parser, signing and verifying through WebCrypto. Kept as the
 * reference the DER code is compared against (same extensions byte for byte, same parse results,
 * never more lenient) and as `bench pki`'s "before" figures; `@tether/shared/pki/reference`, apart
 * from the pki the hub uses.
 */
import { createHash, createPublicKey } from "node:crypto";
import type {
  CertificateAuthority,
  IssuedCertificate,
  IssueOptions,
  KeyPair,
  ParsedCsr,
  Subject,
} from "../index.ts";
import { ErrorMessages } from "../../contract/errors.ts";
import { PkiError } from "../errors.ts";
import { describeKey, isKeyAlgorithm, signingAlgorithm } from "../keys.ts";
import { derToPem, pemToDer } from "../pem.ts";
import { subjectOf, subjectToJsonName, type SubjectField } from "../subject.ts";
import { randomSerial, validityWindow } from "../validity.ts";
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  CRLDistributionPointsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  Pkcs10CertificateRequest,
  Pkcs10CertificateRequestGenerator,
  type Name,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509CertificateGenerator,
  type Extension,
  type JsonGeneralName,
} from "../x509.ts";

export async function peculiarIssue(opts: IssueOptions & { serial?: string }): Promise<IssuedCertificate> {
  const { csr, ca } = opts;
  const { notBefore, notAfter } = validityWindow(opts.clock.now(), opts.validityMs, ca.cert.notAfter);
  const cert = await X509CertificateGenerator.create({
    serialNumber: opts.serial ?? randomSerial(),
    subject: subjectToJsonName(csr.subject),
    issuer: ca.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: csr.spki,
    signingKey: ca.key.privateKey,
    signingAlgorithm: signingAlgorithm(ca.key.algorithm),
    extensions: await leafExtensions(opts, ca),
  });
  const der = new Uint8Array(cert.rawData);
  return {
    pem: derToPem(der),
    serial: cert.serialNumber.toUpperCase(),
    sha256: createHash("sha256").update(der).digest("hex"),
    notBefore,
    notAfter,
    issuerSha256: ca.sha256,
  };
}

async function leafExtensions(opts: IssueOptions, ca: CertificateAuthority): Promise<Extension[]> {
  const rsa = opts.csr.keyAlgorithm.startsWith("rsa");
  const names: JsonGeneralName[] = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(opts.ipAddresses ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  return [
    new BasicConstraintsExtension(false, undefined, true),
    new KeyUsagesExtension(KeyUsageFlags.digitalSignature | (rsa ? KeyUsageFlags.keyEncipherment : 0), true),
    new ExtendedKeyUsageExtension([
      opts.usage === "server" ? ExtendedKeyUsage.serverAuth : ExtendedKeyUsage.clientAuth,
    ]),
    await SubjectKeyIdentifierExtension.create(opts.csr.spki),
    new AuthorityKeyIdentifierExtension(ca.subjectKeyId),
    ...(names.length > 0 ? [new SubjectAlternativeNameExtension(names)] : []),
    ...(opts.crlDistributionPoint === undefined
      ? []
      : [new CRLDistributionPointsExtension([opts.crlDistributionPoint])]),
  ];
}

/** The old parseCsr, minus the WebCrypto key it returned (nothing read it). */
export async function peculiarParseCsr(pem: string): Promise<Omit<ParsedCsr, "publicKey">> {
  const label = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
  if (label === undefined || !["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"].includes(label))
    throw new PkiError("bad-pem", ErrorMessages.csrNotPem);
  let der: Uint8Array<ArrayBuffer>;
  try {
    der = pemToDer(pem, label);
  } catch (error) {
    throw new PkiError("bad-pem", ErrorMessages.csrNotPem, { cause: error });
  }
  let csr: Pkcs10CertificateRequest;
  let algorithm: string;
  let bits: number | undefined;
  let rsa: boolean;
  try {
    csr = new Pkcs10CertificateRequest(der);
    const key = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: "der", type: "spki" });
    ({ algorithm, bits } = describeKey(key));
    rsa = key.asymmetricKeyType === "rsa";
  } catch (error) {
    throw new PkiError("bad-csr", ErrorMessages.csrUnparsable, { cause: error });
  }
  if (!isKeyAlgorithm(algorithm) && !rsa) {
    throw new PkiError(
      "key-not-allowed",
      `${ErrorMessages.csrKeyNotAllowed} Found ${algorithm}; allowed are RSA >= 2048 bits, ECDSA P-256 or P-384, Ed25519.`,
    );
  }
  let valid: boolean;
  try {
    valid = await csr.verify();
  } catch (error) {
    throw new PkiError("bad-signature", ErrorMessages.csrBadSignature, { cause: error });
  }
  if (!valid) throw new PkiError("bad-signature", ErrorMessages.csrBadSignature);
  return {
    subject: subjectOf(subjectValues(csr.subjectName)),
    subjectValues: subjectValues(csr.subjectName),
    keyAlgorithm: algorithm,
    keyBits: bits,
    spki: new Uint8Array(csr.publicKey.rawData),
    der,
  };
}

export async function peculiarCreateCsr(key: KeyPair, subject: Subject): Promise<string> {
  const csr = await Pkcs10CertificateRequestGenerator.create({
    name: subjectToJsonName(subject),
    keys: { privateKey: key.privateKey, publicKey: key.publicKey },
    signingAlgorithm: signingAlgorithm(key.algorithm),
  });
  return `${csr.toString("pem")}\n`;
}

/** How the old parser read a Name: x509's getField for each subject field. */
export function subjectValues(name: Name): Record<SubjectField, string[]> {
  return {
    CN: name.getField("CN"),
    O: name.getField("O"),
    OU: name.getField("OU"),
    L: name.getField("L"),
    ST: name.getField("ST"),
    C: name.getField("C"),
  };
}
