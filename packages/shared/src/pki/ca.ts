/**
 * The hub's signing CA: generated on first start (docs/pki.md#the-ca-keyring: ECDSA P-256, 10 years) or loaded from
 * the operator's files, where the certificate file may carry the CA's own chain after it.
 */
import { systemClock, type Clock } from "../time/index.ts";
import { keyMatchesCertificate, parseCertificate } from "./certificate.ts";
import { PkiError } from "./errors.ts";
import { sha256Fingerprint } from "./fingerprint.ts";
import {
  exportPrivateKeyPem,
  generateKeyPair,
  importPrivateKeyPem,
  signingAlgorithm,
  type KeyAlgorithm,
  type KeyPair,
} from "./keys.ts";
import { derToPem, splitPemBundle } from "./pem.ts";
import { randomSerial, validityWindow } from "./validity.ts";
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectKeyIdentifierExtension,
  X509CertificateGenerator,
  type X509Certificate,
} from "./x509.ts";

export interface CertificateAuthority {
  /** The CA certificate alone. */
  certPem: string;
  /** Certificates above the CA (for an intermediate), in the order the file gave them. */
  chainPem: string[];
  key: KeyPair;
  cert: X509Certificate;
  sha256: string;
  /** Lower-case hex; every issued certificate's authority key identifier, computed once. */
  subjectKeyId: string;
}

const TEN_YEARS_MS = 3650 * 86_400_000;

export async function createSelfSignedCa(opts: {
  commonName: string;
  algorithm?: KeyAlgorithm;
  validityMs?: number;
  clock?: Clock;
}): Promise<{ certPem: string; keyPem: string }> {
  const key = await generateKeyPair(opts.algorithm ?? "ecdsa-p256");
  const { notBefore, notAfter } = validityWindow(
    (opts.clock ?? systemClock).now(),
    opts.validityMs ?? TEN_YEARS_MS,
  );
  const ski = await SubjectKeyIdentifierExtension.create(key.publicKey);
  const cert = await X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [opts.commonName] }],
    notBefore,
    notAfter,
    keys: { privateKey: key.privateKey, publicKey: key.publicKey },
    signingAlgorithm: signingAlgorithm(key.algorithm),
    extensions: [
      // Path length 0: this CA signs runtimes' and the hub's own leaf certificates, never other CAs.
      new BasicConstraintsExtension(true, 0, true),
      new KeyUsagesExtension(
        KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign | KeyUsageFlags.digitalSignature,
        true,
      ),
      ski,
      new AuthorityKeyIdentifierExtension(ski.keyId),
    ],
  });
  return { certPem: derToPem(cert.rawData), keyPem: await exportPrivateKeyPem(key) };
}

/** Checks that the first certificate is a CA and that the key belongs to it; throws PkiError "bad-ca". */
export async function loadCa(certPem: string, keyPem: string): Promise<CertificateAuthority> {
  const [first, ...chainPem] = splitPemBundle(certPem).filter((block) =>
    block.startsWith("-----BEGIN CERTIFICATE-----"),
  );
  if (!first) throw new PkiError("bad-ca", "The CA certificate file holds no PEM CERTIFICATE block.");
  const { cert, der } = parseCertificate(first);
  if (!cert.getExtension(BasicConstraintsExtension)?.ca) {
    throw new PkiError(
      "bad-ca",
      `The certificate "${cert.subject}" is not a CA (basicConstraints CA:TRUE is missing).`,
    );
  }
  const usage = cert.getExtension(KeyUsagesExtension);
  if (usage && !(usage.usages & KeyUsageFlags.keyCertSign)) {
    throw new PkiError(
      "bad-ca",
      `The CA certificate "${cert.subject}" may not sign certificates (keyUsage lacks keyCertSign).`,
    );
  }
  const key = await importPrivateKeyPem(keyPem);
  if (!(await keyMatchesCertificate(key, first))) {
    throw new PkiError("bad-ca", `The CA key does not belong to the CA certificate "${cert.subject}".`);
  }
  const ski = cert.getExtension(SubjectKeyIdentifierExtension);
  const subjectKeyId = ski?.keyId ?? Buffer.from(await cert.publicKey.getKeyIdentifier()).toString("hex");
  return {
    certPem: derToPem(der),
    chainPem,
    key,
    cert,
    sha256: sha256Fingerprint(der),
    subjectKeyId: subjectKeyId.toLowerCase(),
  };
}
