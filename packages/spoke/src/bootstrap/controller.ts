/**
 * The bootstrap flow (docs/renewal.md#bootstrap), like Open Cluster Management's registration agent: at start (on
 * becoming leader) judge the hub kubeconfig Secret; when it is valid, keep it; when it is not, join
 * the hub with the bootstrap kubeconfig's token (`Authorization: Bearer`) until that works: one write
 * of the hub kubeconfig Secret (the credential Secret of docs/resources.md#credential-secret), then the CentralConnection named
 * after the cluster. From there on the connection controller keeps the credential fresh.
 *
 * It lives in bootstrap/, not controllers/: it watches no resource and ends once joined (OCM's
 * temporary bootstrap controller), and it is one flow with the health checker beside it, which ends
 * the process when the bootstrap must run again. It shares the token exchange (enrolment/) and the
 * Secret's layout (credential/) with the CertificateRequest controller.
 */
import { type CsrInfo, routes } from "@tether/shared/contract";
import { parseSubject, splitPemBundle } from "@tether/shared/pki";
import type { BootstrapConfig } from "../config.ts";
import { backoffDelay, defaultBackoff } from "../runtime/backoff.ts";
import { upsertConnection } from "../enrolment/connection-upsert.ts";
import {
  type HeldCredential,
  heldFromIssued,
  inspectSecret,
  pemFingerprints,
  secretLabel,
  writeCredentialSecret,
} from "../credential/secret.ts";
import type { ControllerDeps } from "../runtime/deps.ts";
import type { ExchangeStep } from "../enrolment/exchange-failure.ts";
import { type ExchangeProgress, exchangeToken } from "../enrolment/token-exchange.ts";
import { HubError } from "../hub-client/errors.ts";
import type { CentralConnection, SecretReference } from "../kube/types.ts";
import { type HubKubeconfigVerdict, judgeHubKubeconfig, sameHub } from "../policy/hub-kubeconfig.ts";
import type { Violation } from "../policy/chain.ts";
import { type BootstrapKubeconfig, readBootstrapKubeconfig } from "./bootstrap-kubeconfig.ts";

export type JoinFailureReason =
  | "BootstrapKubeconfigMissing"
  | "BootstrapKubeconfigInvalid"
  | "BootstrapTokenRefused"
  | "OtherCluster"
  | "BootstrapFailed";

/** `hubCaPem` serves a bootstrap kubeconfig that embeds no CA. */
export interface BootstrapControllerOptions extends ControllerDeps {
  config: BootstrapConfig;
  /** The bootstrap kubeconfig file's text; undefined when it cannot be read. */
  readBootstrapFile(): Promise<string | undefined>;
  /** Called with the certificate the agent runs on: judged valid at start, or just issued. */
  onJoined?(held: HeldCredential): void;
}

class JoinError extends Error {
  readonly reason: JoinFailureReason;
  constructor(reason: JoinFailureReason, message: string) {
    super(message);
    this.name = "JoinError";
    this.reason = reason;
  }
}

export class BootstrapController {
  readonly #o: BootstrapControllerOptions;
  readonly #ref: SecretReference;
  #problem: string | undefined = "deciding whether to bootstrap";
  #joined = false;
  #settle: (() => void) | undefined;
  #firstAttempt: Promise<void> = Promise.resolve();

  constructor(options: BootstrapControllerOptions) {
    this.#o = options;
    this.#ref = { namespace: options.namespace, name: options.config.hubKubeconfigSecret };
  }

  /**
   * Of the latest `run`: resolves once the decision is taken and, if it said so, the first join
   * attempt has ended (joined or failed). The connection controller starts then, so that it does not
   * sync the connection with a Secret that the join is about to replace.
   */
  get firstAttempt(): Promise<void> {
    return this.#firstAttempt;
  }

  /** For /readyz: undefined once the agent runs on a valid hub kubeconfig. */
  problem(): string | undefined {
    return this.#problem;
  }

  get joined(): boolean {
    return this.#joined;
  }

  /** The start-up decision: reads the Secret and the bootstrap kubeconfig, judges, does nothing else. */
  async decide(): Promise<{
    verdict: HubKubeconfigVerdict;
    held?: HeldCredential;
    bootstrap?: BootstrapKubeconfig;
    /**
     * The hub kubeconfig's CA when it names the bootstrap's hub (its CA possibly moved on by a CA
     * rotation): a join trusts it too, since the hub's serving certificate may come from a CA the
     * bootstrap kubeconfig predates.
     */
    learnedCaPem?: string;
  }> {
    const { kube, clock, config } = this.#o;
    const now = clock.now();
    const secret = await kube.secrets.get(this.#ref.namespace, this.#ref.name);
    const inspected = await inspectSecret(this.#ref, secret, now);
    const bootstrap = await this.#readBootstrap();
    const connection = await kube.centralConnections.get(config.clusterName);
    const input = {
      credential: inspected.state,
      hubKubeconfig: inspected.kubeconfig,
      bootstrap: bootstrap?.view,
      clusterName: config.clusterName,
      now,
      serverCaHistory: inspected.serverCaHistory,
      bootstrapCaSha256: fingerprintsOf(bootstrap?.view?.caPem),
      retiredCertificateSha256: retiredCertificate(connection),
    };
    const verdict = judgeHubKubeconfig(input);
    const learnedCaPem =
      input.hubKubeconfig && input.bootstrap && sameHub(input) === undefined
        ? input.hubKubeconfig.caPem
        : undefined;
    return { verdict, held: inspected.held, bootstrap, learnedCaPem };
  }

  /** Decides, then joins if needed, retrying with backoff; resolves once joined or when `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const { logger, clock } = this.#o;
    const { baseMs, capMs } = this.#o.backoff ?? defaultBackoff;
    let progress: ExchangeProgress = {};
    this.#firstAttempt = new Promise((resolve) => (this.#settle = resolve));
    for (let attempt = 1; !signal.aborted; attempt++) {
      let step: ExchangeStep = "input";
      try {
        const { verdict, held, bootstrap, learnedCaPem } = await this.decide();
        if (verdict.valid && held) {
          logger.info(
            { reason: verdict.reason, secret: secretLabel(this.#ref) },
            `hub kubeconfig is valid, skipping bootstrap: ${verdict.message}`,
          );
          await this.#ensureConnection(held.credentials.server);
          return this.#ran(held);
        }
        if (attempt === 1) {
          logger.info(
            { reason: verdict.reason, secret: secretLabel(this.#ref) },
            `hub kubeconfig is not valid, bootstrapping: ${verdict.message}`,
          );
        }
        return this.#ran(await this.#join(bootstrap, learnedCaPem, progress, (next) => (step = next)));
      } catch (error) {
        this.#settle?.();
        const failure = describeJoinFailure(step, error);
        // A refused or used-up CSR token cannot be retried; a network failure can, with the same one.
        if (!(error instanceof HubError && error.transient)) progress = {};
        const delay = backoffDelay(attempt, baseMs, capMs);
        this.#problem = `${failure.reason}: ${failure.message}`;
        logger.warn(
          { reason: failure.reason, step, attempt, retryInSeconds: Math.round(delay / 1000) },
          `bootstrap failed: ${failure.message}`,
        );
        try {
          await clock.sleep(delay, signal);
        } catch {
          return;
        }
      }
    }
    this.#settle?.();
  }

  #ran(held: HeldCredential): void {
    this.#settle?.();
    this.#joined = true;
    this.#problem = undefined;
    this.#o.onJoined?.(held);
  }

  /** `bootstrap`: as the decision just read it. */
  async #join(
    bootstrap: BootstrapKubeconfig | undefined,
    learnedCaPem: string | undefined,
    progress: ExchangeProgress,
    at: (step: ExchangeStep) => void,
  ): Promise<HeldCredential> {
    const { kube, hub, clock, logger, events, config } = this.#o;
    if (bootstrap === undefined) {
      throw new JoinError(
        "BootstrapKubeconfigMissing",
        `the bootstrap kubeconfig ${config.kubeconfigFile} cannot be read: mount Secret ${config.kubeconfigSecret} there`,
      );
    }
    if (bootstrap.view === undefined) {
      throw new JoinError("BootstrapKubeconfigInvalid", bootstrap.problem ?? "unusable bootstrap kubeconfig");
    }
    const { server, token, caPem, proxyUrl } = bootstrap.view;
    const bootstrapTrust = caPem ?? this.#o.hubCaPem;
    const trust =
      learnedCaPem === undefined || bootstrapTrust === undefined
        ? bootstrapTrust
        : [...new Set([...splitPemBundle(bootstrapTrust), ...splitPemBundle(learnedCaPem)])].join("");
    const credentials = await exchangeToken(
      hub,
      {
        infoUrl: hubUrl(server, routes.csrInfo.path),
        call: { bearerToken: token, caPem: trust, proxyUrl },
        server,
        accept: (info) => this.#acceptInfo(info),
      },
      progress,
      at,
    );
    at("store");
    await writeCredentialSecret(kube, this.#ref, config.clusterName, credentials);
    const connection = await upsertConnection(
      kube,
      config.clusterName,
      progress.info!.api.infoUrl,
      this.#ref,
      clock.now(),
    );
    const held = await heldFromIssued(credentials);
    const message = `joined the hub ${server} with the bootstrap kubeconfig: certificate ${held.certificate.serial} valid until ${held.certificate.notAfter.toISOString()}, stored in Secret ${secretLabel(this.#ref)}`;
    events.record(connection, "Normal", "Issued", message);
    logger.info({ connection: config.clusterName, serial: held.certificate.serial, server }, message);
    return held;
  }

  /**
   * A valid hub kubeconfig needs its CentralConnection for upkeep; one deleted by the operator is
   * made again (the hub's routes are fixed paths under the server the kubeconfig names).
   */
  async #ensureConnection(server: string): Promise<void> {
    const { kube, clock, config } = this.#o;
    if ((await kube.centralConnections.get(config.clusterName)) !== undefined) return;
    await upsertConnection(
      kube,
      config.clusterName,
      hubUrl(server, routes.managementInfo.path),
      this.#ref,
      clock.now(),
    );
    this.#o.logger.info(
      { connection: config.clusterName },
      "CentralConnection was missing: created it again",
    );
  }

  /** A bootstrap kubeconfig made for another runtime would join as someone else: refuse before the CSR. */
  #acceptInfo(info: CsrInfo): void {
    const cn = parseSubject(info.certificate.subject).CN;
    if (cn !== this.#o.config.clusterName) {
      throw new JoinError(
        "OtherCluster",
        `the bootstrap kubeconfig is for runtime "${cn}", but --cluster-name is "${this.#o.config.clusterName}": make one with \`tether-hub bootstrap-kubeconfig --runtime ${this.#o.config.clusterName}\``,
      );
    }
  }

  async #readBootstrap(): Promise<BootstrapKubeconfig | undefined> {
    const text = await this.#o.readBootstrapFile();
    return text === undefined
      ? undefined
      : readBootstrapKubeconfig(`bootstrap kubeconfig ${this.#o.config.kubeconfigFile}`, text);
  }
}

/** The certificate the hub refused as one of a retired CA, as the connection's status says. */
export function retiredCertificate(connection: CentralConnection | undefined): string | undefined {
  const ready = connection?.status?.conditions?.find((c) => c.type === "Ready");
  return ready?.status === "False" && ready.reason === "IssuerRetired"
    ? connection?.status?.certificateStatus?.sha256
    : undefined;
}

function fingerprintsOf(pem: string | undefined): string[] {
  try {
    return pemFingerprints(pem);
  } catch {
    return [];
  }
}

/** A hub route under the server URL, which may carry a path prefix. */
function hubUrl(server: string, path: string): string {
  return new URL(path.replace(/^\//, ""), `${server.replace(/\/+$/, "")}/`).href;
}

/** The words of the log and /readyz: what went wrong and what the operator can do. */
export function describeJoinFailure(step: ExchangeStep, error: unknown): Violation<JoinFailureReason> {
  if (error instanceof JoinError) return { reason: error.reason, message: error.message };
  const text = error instanceof Error ? error.message : String(error);
  if (error instanceof HubError && error.kind === "http" && error.status === 403 && step === "info") {
    return {
      reason: "BootstrapTokenRefused",
      message: `the hub refused the bootstrap token (hub: ${error.hubMessage ?? "403"}): it is unknown or expired, or the runtime was deleted; make a new bootstrap kubeconfig with \`tether-hub bootstrap-kubeconfig --runtime <cluster name>\` and update the bootstrap Secret`,
    };
  }
  const where: Record<ExchangeStep, string> = {
    input: "reading the hub kubeconfig Secret",
    info: "asking the hub for CSR info",
    key: "making the key and CSR",
    csr: "having the hub sign the CSR",
    issued: "reading the issued certificate",
    store: "storing the hub kubeconfig",
  };
  return { reason: "BootstrapFailed", message: `${where[step]}: ${text}` };
}
