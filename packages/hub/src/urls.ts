/**
 * Every URL the hub hands out is absolute and built from `--public-url` (docs/api.md#runtime-api). Without one, the
 * base becomes `https://localhost:<port>` once the external listener knows its port (tests bind 0).
 */
import { fillPath, routes } from "@tether/shared/contract";

export class PublicUrls {
  #base: string | undefined;

  constructor(base: string | undefined) {
    this.#base = base;
  }

  /** Called when the external listener is bound; keeps an explicit `--public-url`. */
  bound(port: number): void {
    this.#base ??= `https://localhost:${port}`;
  }

  get base(): string {
    if (this.#base === undefined)
      throw new Error("the public URL is not known before the external listener is bound");
    return this.#base;
  }

  csrInfo(token: string): string {
    return `${this.base}${routes.csrInfo.path}?token=${encodeURIComponent(token)}`;
  }

  csr(token: string): string {
    return `${this.base}${routes.issueCertificate.path}?token=${encodeURIComponent(token)}`;
  }

  get managementInfo(): string {
    return this.base + routes.managementInfo.path;
  }

  get certificates(): string {
    return this.base + routes.issueCertificate.path;
  }

  get renewals(): string {
    return this.base + routes.renewCertificate.path;
  }

  get revocations(): string {
    return this.base + routes.revokeOwnCertificate.path;
  }

  /** The CRL of the CA with this SHA-256: the CRL Distribution Point of the certificates it issues. */
  crl(caSha256: string): string {
    return this.base + fillPath(routes.crl.path, { issuer: caSha256 });
  }
}
