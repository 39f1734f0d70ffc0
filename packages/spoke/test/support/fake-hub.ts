/**
 * A HubClient that behaves like the hub (docs/api.md#runtime-api) without sockets: one-time tokens, subject checks,
 * real certificates from a real CA on the test's clock, revocation, and a switch that takes it down.
 */
import type { CaPhase, CsrInfo, ManagementInfo, TrustBundle } from "@tether/shared/contract";
import { ErrorMessages } from "@tether/shared/contract";
import {
  type CertificateAuthority,
  type KeyAlgorithm,
  type Subject,
  certificateInfo,
  checkSubject,
  createSelfSignedCa,
  encodeBase64Pem,
  formatSubject,
  issueCertificate,
  loadCa,
  parseCsr,
  splitPemBundle,
  verifyChain,
} from "@tether/shared/pki";
import type { Clock } from "@tether/shared/time";
import type {
  HubClient,
  IssuedCertificates,
  MtlsOptions,
  TokenCallOptions,
} from "../../src/hub-client/client.ts";
import { HubError } from "../../src/hub-client/errors.ts";

export const hubOrigin = "https://hub.test:8443";

export class FakeHub implements HubClient {
  readonly clock: Clock;
  ca!: CertificateAuthority;
  keyAlgorithm: KeyAlgorithm = "ecdsa-p256";
  validityMs = 30 * 86_400_000;
  /** When set, every call fails with this (e.g. a network error). */
  down: HubError | undefined;
  readonly calls: string[] = [];
  readonly issued: { serial: string; sha256: string; kind: "initial" | "renewal" }[] = [];
  readonly revoked = new Set<string>();
  /** Errors for the next calls of one kind ("info", "issue", "management", "renew", "revoke"). */
  readonly failures = new Map<string, HubError[]>();
  readonly #infoTokens = new Map<string, Subject>();
  /** Bootstrap tokens: reusable, like the hub's (docs/tokens.md#purposes). */
  readonly #bootstrapTokens = new Map<string, Subject>();
  /** The Bearer token and trust of each info call, in order. */
  readonly infoCalls: { url: string; bearerToken?: string; caPem?: string; proxyUrl?: string }[] = [];
  readonly #csrTokens = new Map<string, Subject>();
  #next = 0;
  /** The CAs of a rotation (docs/pki.md#ca-rotation); `ca` is the active one, which signs. */
  cas: { ca: CertificateAuthority; sha256: string; phase: CaPhase | "retired" }[] = [];
  /** false: a hub without CA rotation, which answers 404 for the trust bundle. */
  trustSupported = true;
  renewalWindowSeconds = 0;
  /** The serving certificate chains to a public root: serverCas is empty. */
  publicServing = true;

  constructor(clock: Clock) {
    this.clock = clock;
  }

  async init(): Promise<this> {
    const { certPem, keyPem } = await createSelfSignedCa({ commonName: "fake hub CA", clock: this.clock });
    this.ca = await loadCa(certPem, keyPem);
    this.cas = [{ ca: this.ca, sha256: this.ca.sha256, phase: "active" }];
    return this;
  }

  /** `tether-hub ca rotate`: a next CA, trusted and published, not signing. */
  async rotate(): Promise<string> {
    const { certPem, keyPem } = await createSelfSignedCa({
      commonName: `fake hub CA ${this.cas.length + 1}`,
      clock: this.clock,
    });
    const ca = await loadCa(certPem, keyPem);
    this.cas.push({ ca, sha256: ca.sha256, phase: "next" });
    return ca.sha256;
  }

  /** `tether-hub ca activate`: the next CA signs; the active one is retiring. */
  activate(): void {
    for (const entry of this.cas) {
      if (entry.phase === "active") entry.phase = "retiring";
      else if (entry.phase === "next") {
        entry.phase = "active";
        this.ca = entry.ca;
      }
    }
  }

  /** `tether-hub ca retire`: the retiring CA leaves the trust. */
  retire(): void {
    for (const entry of this.cas) if (entry.phase === "retiring") entry.phase = "retired";
  }

  trustBundle(): TrustBundle {
    const trusted = this.cas.filter((entry) => entry.phase !== "retired");
    const pem = trusted.map((entry) => entry.ca.certPem).join("");
    const phases = new Set(trusted.map((entry) => entry.phase));
    return {
      clientCas: encodeBase64Pem(pem),
      serverCas: this.publicServing ? "" : encodeBase64Pem(pem),
      activeSha256: this.cas.find((entry) => entry.phase === "active")!.sha256,
      phase: phases.has("next") ? "prepared" : phases.has("retiring") ? "activated" : "stable",
      cas: trusted.map((entry) => ({
        sha256: entry.sha256,
        phase: entry.phase as CaPhase,
        notAfter: entry.ca.cert.notAfter.toISOString(),
      })),
      renewalWindowSeconds: this.renewalWindowSeconds,
    };
  }

  failNext(call: string, ...errors: HubError[]): void {
    this.failures.set(call, [...(this.failures.get(call) ?? []), ...errors]);
  }

  tokenUrl(runtime = `rt-${++this.#next}`): string {
    const token = `info-${++this.#next}`;
    this.#infoTokens.set(token, { CN: runtime, O: "acme", OU: "prod", L: "Berlin", ST: "Berlin", C: "DE" });
    return `${hubOrigin}/v1/runtimes/signingRequests/info?token=${token}`;
  }

  bootstrapToken(runtime: string): string {
    const token = `bootstrap-${++this.#next}`;
    this.#bootstrapTokens.set(token, {
      CN: runtime,
      O: "acme",
      OU: "prod",
      L: "Berlin",
      ST: "Berlin",
      C: "DE",
    });
    return token;
  }

  /** Ends a bootstrap token, as its expiry does. */
  expireBootstrapToken(token: string): void {
    this.#bootstrapTokens.delete(token);
  }

  getCsrInfo(infoUrl: string, options: TokenCallOptions): Promise<CsrInfo> {
    this.infoCalls.push({ url: infoUrl, ...options });
    return this.#call("info", () => {
      const token = new URL(infoUrl).searchParams.get("token");
      const bearer = token ? undefined : options.bearerToken;
      if (!token && !bearer) throw refused(403, ErrorMessages.tokenNotProvided);
      const subject = token ? this.#infoTokens.get(token) : this.#bootstrapTokens.get(bearer!);
      if (!subject) throw refused(403, ErrorMessages.invalidToken);
      if (token) this.#infoTokens.delete(token);
      const csrToken = `csr-${++this.#next}`;
      this.#csrTokens.set(csrToken, subject);
      return {
        csrUrl: `${hubOrigin}/v1/runtimes/certificates?token=${csrToken}`,
        api: {
          infoUrl: `${hubOrigin}/v1/runtimes/management/info`,
          certificatesUrl: `${hubOrigin}/v1/runtimes/certificates`,
        },
        certificate: this.#template(subject),
      };
    });
  }

  issueCertificate(csrUrl: string, csrPem: string, _options: TokenCallOptions): Promise<IssuedCertificates> {
    return this.#call("issue", async () => {
      const token = new URL(csrUrl).searchParams.get("token") ?? "";
      const subject = this.#csrTokens.get(token);
      if (!subject) throw refused(403, ErrorMessages.invalidToken);
      const issued = await this.#sign(csrPem, subject, "initial");
      this.#csrTokens.delete(token);
      return issued;
    });
  }

  getManagementInfo(_url: string, tls: MtlsOptions): Promise<ManagementInfo> {
    return this.#call("management", async () => {
      const subject = await this.#authenticate(tls);
      return {
        clientIdentity: { tenant: subject.O, group: subject.OU, runtimeId: subject.CN },
        urls: {
          renewCertUrl: `${hubOrigin}/v1/runtimes/certificates/renewals`,
          revokeCertUrl: `${hubOrigin}/v1/runtimes/certificates/revocations`,
        },
        certificate: this.#template(subject),
      };
    });
  }

  getTrustBundle(_url: string, tls: MtlsOptions): Promise<TrustBundle | undefined> {
    return this.#call("trust", async () => {
      if (!this.trustSupported) throw refused(404, "Not Found");
      await this.#authenticate(tls);
      return this.trustBundle();
    });
  }

  renewCertificate(_url: string, csrPem: string, tls: MtlsOptions): Promise<IssuedCertificates> {
    return this.#call("renew", async () => this.#sign(csrPem, await this.#authenticate(tls), "renewal"));
  }

  revokeCertificate(_url: string, tls: MtlsOptions): Promise<void> {
    return this.#call("revoke", async () => {
      await this.#authenticate(tls);
      this.revoked.add(certificateInfo(tls.certPem).sha256);
    });
  }

  async #call<T>(name: string, work: () => T | Promise<T>): Promise<T> {
    this.calls.push(name);
    await Promise.resolve();
    if (this.down) throw this.down;
    const planned = this.failures.get(name)?.shift();
    if (planned) throw planned;
    return work();
  }

  #template(subject: Subject): CsrInfo["certificate"] {
    return { subject: formatSubject(subject), extensions: "", "key-algorithm": this.keyAlgorithm };
  }

  async #authenticate(tls: MtlsOptions): Promise<Subject> {
    const leaf = splitPemBundle(tls.certPem)[0] ?? "";
    const retired = this.cas.filter((entry) => entry.phase === "retired").map((entry) => entry.ca.certPem);
    if (retired.length > 0 && (await verifyChain(leaf, retired, this.clock.now())).ok)
      throw refused(403, ErrorMessages.issuerRetired);
    const trusted = this.cas.filter((entry) => entry.phase !== "retired").map((entry) => entry.ca.certPem);
    const chain = await verifyChain(leaf, trusted, this.clock.now());
    if (!chain.ok) throw refused(403, chain.message);
    const info = certificateInfo(leaf);
    if (this.revoked.has(info.sha256)) throw refused(403, ErrorMessages.certificateRevoked);
    return info.subject;
  }

  async #sign(csrPem: string, subject: Subject, kind: "initial" | "renewal"): Promise<IssuedCertificates> {
    const csr = await parseCsr(csrPem);
    try {
      checkSubject(csr, subject);
    } catch (error) {
      throw refused(400, (error as Error).message);
    }
    const cert = await issueCertificate({ csr, ca: this.ca, validityMs: this.validityMs, clock: this.clock });
    this.issued.push({ serial: cert.serial, sha256: cert.sha256, kind });
    return { chainPem: cert.pem + this.ca.certPem, clientCertPem: cert.pem, caPem: this.ca.certPem };
  }
}

export function refused(status: number, message: string): HubError {
  return new HubError("http", `the hub answered ${status}: ${message}`, { status, hubMessage: message });
}

export function unreachable(): HubError {
  return new HubError("network", "could not reach the hub: connect ECONNREFUSED 127.0.0.1:8443");
}
