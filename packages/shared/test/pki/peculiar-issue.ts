/**
 * The certificate builder the hub used before docs/pki.md#how-a-certificate-is-built: @peculiar/x509's
 * generator signing through WebCrypto. Kept as the reference the DER writer is compared against
 * (same extensions, byte for byte) and as the bench's "before" figure.
 */
import { createHash } from "node:crypto";
import type { CertificateAuthority, IssuedCertificate, IssueOptions } from "@tether/shared/pki";
import { signingAlgorithm } from "../../src/pki/keys.ts";
import { derToPem } from "../../src/pki/pem.ts";
import { subjectToJsonName } from "../../src/pki/subject.ts";
import { randomSerial, validityWindow } from "../../src/pki/validity.ts";
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  CRLDistributionPointsExtension,
  ExtendedKeyUsage,
  ExtendedKeyUsageExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectAlternativeNameExtension,
  SubjectKeyIdentifierExtension,
  X509CertificateGenerator,
  type Extension,
  type JsonGeneralName,
} from "../../src/pki/x509.ts";

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
