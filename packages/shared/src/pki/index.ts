export { PkiError, type PkiErrorCode } from "./errors.ts";
export {
  type KeyAlgorithm,
  type KeyPair,
  keyAlgorithms,
  isKeyAlgorithm,
  generateKeyPair,
  exportPrivateKeyPem,
  importPrivateKeyPem,
} from "./keys.ts";
export { type Subject, type SubjectField, subjectFields, formatSubject, parseSubject } from "./subject.ts";
export { type ParsedCsr, createCsr, parseCsr, parseCsrSync } from "./csr.ts";
export { checkKeyAllowed, checkSubject, keyStrength } from "./policy.ts";
export { type CertificateAuthority, createSelfSignedCa, loadCa } from "./ca.ts";
export { type CaKeyring, createKeyring, trustBundlePem } from "./keyring.ts";
export {
  type IssuedCertificate,
  type IssueOptions,
  issueCertificate,
  issueCertificateSync,
} from "./issue.ts";
export { type CrlEntry, type CrlOptions, createCrl } from "./crl.ts";
export { type ChainFailure, type ChainResult, type TrustedIssuer, verifyChain } from "./chain.ts";
export { CLOCK_SKEW_MS } from "./validity.ts";
export { sha256Fingerprint } from "./fingerprint.ts";
export { splitPemBundle, pemToDer, derToPem, encodeBase64Pem, decodeBase64Pem } from "./pem.ts";
export { type CertificateInfo, certificateInfo, keyMatchesCertificate } from "./certificate.ts";
export { X509Certificate } from "./x509.ts";
