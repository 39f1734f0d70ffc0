/**
 * Turns a `{"csr": base64(PEM)}` body into a signed, recorded certificate: decode, parse and verify,
 * check the subject and the key (docs/pki.md#checks-on-a-csr), then sign with the keyring's active CA. The checks and
 * the signing are separate calls so that the enrolment route can consume its one-time token in
 * between: bad input must not burn the token, and only the token's winner may get a certificate.
 */
import type { CertificatesResponse } from "@tether/shared/contract";
import {
  PkiError,
  checkKeyAllowed,
  checkSubject,
  decodeBase64Pem,
  encodeBase64Pem,
  issueCertificate,
  parseCsr,
  type CaKeyring,
  type KeyAlgorithm,
  type ParsedCsr,
  type Subject,
} from "@tether/shared/pki";
import type { Clock } from "@tether/shared/time";
import type { Audit } from "../audit.ts";
import { HttpError } from "../errors.ts";
import type { HubMetrics } from "../metrics.ts";
import type { AuditEvent, CertificateKind, CertificateRecord, Store } from "../store/store.ts";

export interface IssuerOptions {
  keyring: CaKeyring;
  store: Store;
  clock: Clock;
  audit: Audit;
  metrics: HubMetrics;
  keyAlgorithm: KeyAlgorithm;
  validityMs: number;
  /** Where the CRL of the CA with this SHA-256 is published. */
  crlUrl: (caSha256: string) => string;
}

export class Issuer {
  readonly #options: IssuerOptions;

  constructor(options: IssuerOptions) {
    this.#options = options;
  }

  /** Throws 400 with the message the spoke's operator reads, and counts and audits the refusal. */
  async check(csrBase64: string, expected: Subject, runtimeId: string): Promise<ParsedCsr> {
    try {
      const csr = await parseCsr(decodeBase64Pem(csrBase64));
      checkSubject(csr, expected);
      checkKeyAllowed(csr, this.#options.keyAlgorithm);
      return csr;
    } catch (error) {
      if (!(error instanceof PkiError)) throw error;
      this.#options.metrics.csrRejections.inc({ reason: error.code });
      await this.#options.audit.record("certificate.refused", runtimeId, {
        reason: error.code,
        message: error.message,
      });
      throw new HttpError(400, error.message, { cause: error });
    }
  }

  /** Signs and records a certificate with its audit event (renewals: no token is spent). */
  async issue(
    csr: ParsedCsr,
    runtimeId: string,
    kind: CertificateKind,
    parentSha256: string | null = null,
  ): Promise<CertificatesResponse> {
    const { store, audit } = this.#options;
    const signed = await this.sign(csr, runtimeId, kind, parentSha256);
    await store.recordCertificate(signed.certificate);
    for (const event of signed.audit) await store.appendAudit(event);
    audit.logged(signed.audit);
    this.issued(signed);
    return signed.response;
  }

  /**
   * Signs without storing: the enrolment route stores the certificate in the transaction that spends
   * its token (`TokenService.spend`), then calls `issued`.
   */
  async sign(
    csr: ParsedCsr,
    runtimeId: string,
    kind: CertificateKind,
    parentSha256: string | null = null,
  ): Promise<SignedCertificate> {
    const { keyring, clock, audit, validityMs, crlUrl } = this.#options;
    const ca = keyring.active;
    const crlDistributionPoint = crlUrl(ca.sha256);
    const issued = await issueCertificate({ csr, ca, validityMs, clock, crlDistributionPoint });
    const certificate: CertificateRecord = {
      runtimeId,
      serial: issued.serial,
      sha256: issued.sha256,
      notBefore: issued.notBefore,
      notAfter: issued.notAfter,
      issuerSha256: issued.issuerSha256,
      kind,
      issuedAt: clock.now(),
      pem: issued.pem,
      parentSha256,
    };
    const event = audit.event(kind === "initial" ? "certificate.issued" : "certificate.renewed", runtimeId, {
      serial: issued.serial,
      sha256: issued.sha256,
      notAfter: issued.notAfter.toISOString(),
    });
    return {
      certificate,
      audit: [event],
      response: {
        // Kyma clients count the certificates in crt: the leaf and its issuing CA, nothing more.
        crt: encodeBase64Pem(issued.pem + ca.certPem),
        clientCrt: encodeBase64Pem(issued.pem),
        caCrt: encodeBase64Pem(ca.certPem),
      },
    };
  }

  /** Counts a stored certificate (its audit events are logged by whoever stored them). */
  issued(signed: SignedCertificate): void {
    this.#options.metrics.certificatesIssued.inc({ kind: signed.certificate.kind });
  }
}

export interface SignedCertificate {
  certificate: CertificateRecord;
  audit: AuditEvent[];
  response: CertificatesResponse;
}
