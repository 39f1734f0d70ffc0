/**
 * The CertificateRequest controller, the token exchange of docs/resources.md#token-exchange (enrolment/): for each
 * CertificateRequest, read the CSR info behind the token URL, make a key of the advertised algorithm,
 * have the hub sign a CSR with the advertised subject, store everything in the credential Secret in
 * one write, create or update the CentralConnection and delete the request. What was obtained is kept
 * in memory across retries, because the tokens are one-time: a retry after the info call must not
 * spend the info token again (a private key cannot go into status).
 */
import { updateWithRetry } from "../kube/conflict.ts";
import type { Watcher } from "../kube/port.ts";
import type { CertificateRequest } from "../kube/types.ts";
import { defaultSecretName } from "../kube/types.ts";
import { backoffDelay, defaultBackoff } from "../runtime/backoff.ts";
import { upsertConnection } from "../enrolment/connection-upsert.ts";
import { heldFromIssued, secretLabel, writeCredentialSecret } from "../credential/secret.ts";
import {
  type ExchangeStep,
  describeExchangeFailure,
  isRetryable,
  readRequest,
} from "../enrolment/exchange-failure.ts";
import type { ControllerDeps } from "../runtime/deps.ts";
import { WorkQueue } from "../runtime/queue.ts";
import { type ExchangeProgress, exchangeToken } from "../enrolment/token-exchange.ts";

/** `hubCaPem` serves requests without spec.caBundle. */
export interface CertificateRequestControllerOptions extends ControllerDeps {
  /** How long transient failures are retried: the longest a token can live (docs/tokens.md#lifetimes-and-leeway: 24h). */
  giveUpAfterMs?: number;
}

/** What one exchange has obtained so far; keyed to the request's uid and generation. */
interface Exchange extends ExchangeProgress {
  uid: string | undefined;
  generation: number | undefined;
  startedAt: number;
  attempts: number;
  /** A permanent failure: nothing more is tried until the request changes. */
  settled?: boolean;
  lastError?: string;
}

export class CertificateRequestController {
  readonly #o: CertificateRequestControllerOptions;
  readonly #exchanges = new Map<string, Exchange>();
  readonly #queue: WorkQueue;
  #watcher: Watcher | undefined;

  constructor(options: CertificateRequestControllerOptions) {
    this.#o = options;
    this.#queue = new WorkQueue({
      clock: options.clock,
      handle: (name) => this.reconcile(name),
      onError: (name, error) =>
        options.logger.error({ err: error, request: name }, "certificate request failed"),
    });
  }

  start(): void {
    this.#watcher = this.#o.kube.certificateRequests.watch(({ type, object }) => {
      const name = object.metadata.name;
      const exchange = this.#exchanges.get(name);
      // Our own status writes do not move the generation; they need no second look.
      if (type === "MODIFIED" && exchange?.generation === object.metadata.generation) return;
      this.#queue.add(name);
    });
  }

  async stop(): Promise<void> {
    this.#watcher?.stop();
    await this.#queue.stop();
  }

  idle(): Promise<void> {
    return this.#queue.idle();
  }

  async reconcile(name: string): Promise<void> {
    const request = await this.#o.kube.certificateRequests.get(name);
    if (request === undefined) {
      this.#exchanges.delete(name);
      this.#queue.forget(name);
      return;
    }
    const exchange = this.#exchangeFor(request);
    if (exchange.settled) return;
    let step: ExchangeStep = "input";
    try {
      await this.#exchange(request, exchange, (next) => (step = next));
    } catch (error) {
      await this.#failed(request, exchange, step, error);
    }
  }

  async #exchange(
    request: CertificateRequest,
    exchange: Exchange,
    at: (step: ExchangeStep) => void,
  ): Promise<void> {
    const { hub, kube, clock, logger, events } = this.#o;
    const name = request.metadata.name;
    const { infoUrl, caPem } = readRequest(request, this.#o.hubCaPem);
    const credentials = await exchangeToken(
      hub,
      { infoUrl, call: { caPem }, server: new URL(infoUrl).origin },
      exchange,
      at,
    );
    at("store");
    const info = exchange.info!;
    const existing = await kube.centralConnections.get(name);
    const ref = existing?.spec.secretRef ?? { name: defaultSecretName(name), namespace: this.#o.namespace };
    await writeCredentialSecret(kube, ref, name, credentials);
    const connection = await upsertConnection(kube, name, info.api.infoUrl, ref, clock.now());
    const held = await heldFromIssued(credentials);
    const message = `certificate ${held.certificate.serial} for ${held.certificate.subject.CN} issued by the hub, valid until ${held.certificate.notAfter.toISOString()}; stored in Secret ${secretLabel(ref)}`;
    events.record(request, "Normal", "Issued", message);
    events.record(connection, "Normal", "Issued", message);
    await kube.certificateRequests.delete(name);
    this.#exchanges.delete(name);
    logger.info(
      { request: name, serial: held.certificate.serial, runtime: held.certificate.subject.CN },
      "certificate issued",
    );
  }

  async #failed(
    request: CertificateRequest,
    exchange: Exchange,
    step: ExchangeStep,
    error: unknown,
  ): Promise<void> {
    const { clock, logger, events } = this.#o;
    const name = request.metadata.name;
    const now = clock.now().getTime();
    const giveUpAfter = this.#o.giveUpAfterMs ?? 24 * 3_600_000;
    // Once the hub has issued, only Kubernetes writes remain: retry them for as long as it takes.
    const retry =
      isRetryable(step, error) &&
      (exchange.credentials !== undefined || now - exchange.startedAt < giveUpAfter);
    let message = describeExchangeFailure(step, error);
    if (retry) {
      exchange.attempts++;
      const { baseMs, capMs } = this.#o.backoff ?? defaultBackoff;
      const delay = backoffDelay(exchange.attempts, baseMs, capMs);
      message = `${message} (attempt ${exchange.attempts}; retrying in ${Math.round(delay / 1000)}s)`;
      this.#queue.addAfter(name, delay);
    } else {
      exchange.settled = true;
    }
    logger.warn({ request: name, step, retry }, message);
    const summary = message.replace(/ \(attempt \d+; retrying in \d+s\)$/, "");
    if (exchange.lastError !== summary) {
      exchange.lastError = summary;
      events.record(request, "Warning", "IssueFailed", summary);
    }
    await updateWithRetry(
      () => this.#o.kube.certificateRequests.get(name),
      (current) => {
        if (current.metadata.uid !== request.metadata.uid || current.status?.error === message)
          return undefined;
        current.status = { error: message };
        return current;
      },
      (next) => this.#o.kube.certificateRequests.updateStatus(next),
    );
  }

  #exchangeFor(request: CertificateRequest): Exchange {
    const name = request.metadata.name;
    const known = this.#exchanges.get(name);
    if (known && known.uid === request.metadata.uid && known.generation === request.metadata.generation)
      return known;
    const exchange: Exchange = {
      uid: request.metadata.uid,
      generation: request.metadata.generation,
      startedAt: this.#o.clock.now().getTime(),
      attempts: 0,
    };
    this.#exchanges.set(name, exchange);
    return exchange;
  }
}
