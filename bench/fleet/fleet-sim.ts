/**
 * N simulated spokes in one process, each doing what the agent does (packages/spoke/src/controllers/
 * connection): management info every sync period (±10 % jitter), a renewal at its renewal time, and
 * now and then a revocation by the admin followed by a re-enrolment. Schedules live on one timer
 * wheel; each spoke holds at most one request at a time, as the agent does.
 *
 * Connection modes:
 *   keep-alive  one TLS connection per spoke, held open between syncs (reconnects when the hub closed it);
 *   resume      a new connection per request, resuming the spoke's last TLS session (its ticket):
 *               what the agent does (packages/spoke/src/hub-client/connections.ts);
 *   handshake   a new connection per request with a full handshake (what the agent did before it
 *               kept its sessions: a new https.Agent for every call).
 */
import { X509Certificate } from "node:crypto";
import { connect as netConnect } from "node:net";
import { connect, createSecureContext, type SecureContext, type TLSSocket } from "node:tls";
import type { Agent } from "undici";
import type { CredentialJournal, IssuingHub, SpokeCredential } from "./credentials.ts";
import { enrol } from "./credentials.ts";
import { Latencies } from "./latency.ts";
import { exchange, requestText, type Answer } from "./tls-http.ts";
import { TimerWheel } from "./wheel.ts";

export const CONNECTION_MODES = ["keep-alive", "resume", "handshake"] as const;
export type ConnectionMode = (typeof CONNECTION_MODES)[number];

export interface Target {
  host: string;
  port: number;
}

export interface SimOptions {
  mode: ConnectionMode;
  syncPeriodMs: number;
  /** 0: no renewals but the bursts asked for. */
  renewalPeriodMs: number;
  revocationsPerMinute: number;
  /** Spoke i talks to targets[i % length]: replicas behind a load balancer. */
  targets: Target[];
  /** Source addresses, 127.0.0.x: each gives ~28k ephemeral ports towards one hub address. */
  sourceAddresses: string[];
  caPem: string;
  timeoutMs: number;
  /** For revocations (revoke by hash, then enrol again) and for the credential journal. */
  issuer: IssuingHub;
  issuerAgent: Agent;
  journal: CredentialJournal;
}

export class WindowStats {
  requests = 0;
  errors = 0;
  readonly latencies = new Latencies();
  renewals = 0;
  renewalErrors = 0;
  readonly renewalLatencies = new Latencies();
  revocations = 0;
  connects = 0;
  resumed = 0;
  /** A sync that came due while the spoke's previous request was still out. */
  late = 0;
  readonly errorKinds = new Map<string, number>();

  fail(kind: string): void {
    this.errorKinds.set(kind, (this.errorKinds.get(kind) ?? 0) + 1);
  }
}

interface SimSpoke {
  index: number;
  credential: SpokeCredential;
  context: SecureContext | undefined;
  session: Buffer | undefined;
  socket: TLSSocket | undefined;
  busy: boolean;
}

type Event = { kind: "sync" | "renew"; spoke: SimSpoke };

const MANAGEMENT = "/v1/runtimes/management/info";
const RENEWALS = "/v1/runtimes/certificates/renewals";
/** Contexts kept per spoke up to this fleet size; above it each connection parses its key again. */
const CONTEXT_CACHE_LIMIT = 20_000;

export class FleetSim {
  readonly #o: SimOptions;
  readonly #spokes: SimSpoke[];
  readonly #wheel = new TimerWheel<Event>(10, 8192);
  #stats = new WindowStats();
  #revoker: NodeJS.Timeout | undefined;
  #running = false;
  #inFlight = 0;

  constructor(credentials: SpokeCredential[], options: SimOptions) {
    this.#o = options;
    this.#spokes = credentials.map((credential, index) => ({
      index,
      credential,
      context: undefined,
      session: undefined,
      socket: undefined,
      busy: false,
    }));
  }

  get stats(): WindowStats {
    return this.#stats;
  }

  /** Starts a new measurement window and returns the one that ended. */
  nextWindow(): WindowStats {
    const ended = this.#stats;
    this.#stats = new WindowStats();
    return ended;
  }

  start(): void {
    this.#running = true;
    for (const spoke of this.#spokes) {
      this.#wheel.schedule(Math.random() * this.#o.syncPeriodMs, { kind: "sync", spoke });
      if (this.#o.renewalPeriodMs > 0) {
        this.#wheel.schedule(Math.random() * this.#o.renewalPeriodMs, { kind: "renew", spoke });
      }
    }
    this.#wheel.start((event) => void this.#fire(event));
    if (this.#o.revocationsPerMinute > 0) {
      this.#revoker = setInterval(() => void this.#revokeOne(), 60_000 / this.#o.revocationsPerMinute);
    }
  }

  /** Stops scheduling, waits for requests in flight, closes every connection. */
  async stop(): Promise<void> {
    this.#running = false;
    this.#wheel.stop();
    clearInterval(this.#revoker);
    while (this.#inFlight > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const spoke of this.#spokes) spoke.socket?.destroy();
  }

  /** `fraction` of the fleet renews now (a CA rotation, a mass re-enrolment); resolves when all answered. */
  async burst(fraction: number): Promise<{ seconds: number; count: number }> {
    const chosen = this.#spokes.filter((_, i) => i % Math.round(1 / fraction) === 0);
    const started = performance.now();
    await Promise.all(chosen.map((spoke) => this.#waitIdle(spoke).then(() => this.#renew(spoke))));
    return { seconds: (performance.now() - started) / 1000, count: chosen.length };
  }

  async #waitIdle(spoke: SimSpoke): Promise<void> {
    while (spoke.busy) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  async #fire(event: Event): Promise<void> {
    if (!this.#running) return;
    const { spoke } = event;
    if (event.kind === "renew") {
      this.#wheel.schedule(this.#o.renewalPeriodMs, event);
      if (!spoke.busy) await this.#renew(spoke);
      return;
    }
    const jitter = 1 + (Math.random() - 0.5) * 0.2;
    this.#wheel.schedule(this.#o.syncPeriodMs * jitter, event);
    if (spoke.busy) {
      this.#stats.late++;
      return;
    }
    const stats = this.#stats;
    const started = performance.now();
    try {
      const answer = await this.#call(spoke, requestText("GET", MANAGEMENT, { close: this.#closes }));
      // 403: a certificate the hub no longer takes (revoked, or superseded by a renewal whose answer was
      // lost): counted, then the spoke is enrolled again so that it and the credential cache recover.
      if (answer.status === 403) void this.#reenrol(spoke);
      if (answer.status !== 200) throw new Error(`status ${answer.status}`);
      stats.latencies.add(performance.now() - started);
    } catch (error) {
      stats.errors++;
      stats.fail((error as Error).message);
    } finally {
      stats.requests++;
    }
  }

  async #renew(spoke: SimSpoke): Promise<void> {
    const stats = this.#stats;
    const started = performance.now();
    try {
      const body = JSON.stringify({ csr: spoke.credential.csr });
      const answer = await this.#call(spoke, requestText("POST", RENEWALS, { close: this.#closes, body }));
      if (answer.status !== 201) throw new Error(`renewal: status ${answer.status} ${answer.body}`);
      const { clientCrt } = JSON.parse(answer.body) as { clientCrt: string };
      this.#replace(spoke, {
        ...spoke.credential,
        certPem: Buffer.from(clientCrt, "base64").toString("utf8"),
      });
      stats.renewalLatencies.add(performance.now() - started);
    } catch (error) {
      stats.renewalErrors++;
      stats.fail(`renewal: ${(error as Error).message}`);
    } finally {
      stats.renewals++;
    }
  }

  /**
   * The admin revokes a spoke's certificate; the hub must refuse it at once, on a connection the spoke
   * already holds too; then the spoke is enrolled again, as an operator brings a cluster back.
   */
  async #revokeOne(): Promise<void> {
    const spoke = this.#spokes[Math.floor(Math.random() * this.#spokes.length)]!;
    if (spoke.busy || !this.#running) return;
    const stats = this.#stats;
    spoke.busy = true;
    this.#inFlight++;
    try {
      const hash = new X509Certificate(spoke.credential.certPem).fingerprint256
        .replaceAll(":", "")
        .toLowerCase();
      const revoked = await fetch(`${this.#o.issuer.internalUrl}/v1/runtimes/certificates/revocations`, {
        method: "POST",
        headers: { authorization: `Bearer ${this.#o.issuer.adminToken}`, "content-type": "application/json" },
        body: JSON.stringify({ hash }),
      });
      await revoked.text();
      if (revoked.status !== 201) throw new Error(`revocation: status ${revoked.status}`);
      try {
        const probe = await this.#callHeld(spoke, requestText("GET", MANAGEMENT, { close: this.#closes }));
        if (probe.status !== 403) throw new Error(`revoked certificate answered ${probe.status}`);
        stats.revocations++;
      } finally {
        // Revoked whatever the probe saw: without a new certificate the spoke (and the cache) is dead.
        this.#replace(spoke, await enrol(this.#o.issuer, this.#o.issuerAgent, spoke.credential.id));
      }
    } catch (error) {
      stats.errors++;
      stats.fail(`revocation: ${(error as Error).message}`);
    } finally {
      spoke.busy = false;
      this.#inFlight--;
    }
  }

  async #reenrol(spoke: SimSpoke): Promise<void> {
    if (spoke.busy) return;
    spoke.busy = true;
    this.#inFlight++;
    try {
      this.#replace(spoke, await enrol(this.#o.issuer, this.#o.issuerAgent, spoke.credential.id));
    } catch (error) {
      this.#stats.fail(`re-enrolment: ${(error as Error).message}`);
    } finally {
      spoke.busy = false;
      this.#inFlight--;
    }
  }

  get #closes(): boolean {
    return this.#o.mode !== "keep-alive";
  }

  /** New credentials: a new TLS identity, so no old connection or session carries over. */
  #replace(spoke: SimSpoke, credential: SpokeCredential): void {
    spoke.credential = credential;
    spoke.context = undefined;
    spoke.session = undefined;
    spoke.socket?.destroy();
    spoke.socket = undefined;
    this.#o.journal.record(credential);
  }

  async #call(spoke: SimSpoke, text: string): Promise<Answer> {
    spoke.busy = true;
    this.#inFlight++;
    try {
      return await this.#callHeld(spoke, text);
    } finally {
      spoke.busy = false;
      this.#inFlight--;
    }
  }

  async #callHeld(spoke: SimSpoke, text: string): Promise<Answer> {
    const reused = spoke.socket !== undefined && !spoke.socket.destroyed && spoke.socket.writable;
    if (reused) {
      try {
        return await exchange(spoke.socket!, text, this.#o.timeoutMs);
      } catch (error) {
        // The hub closed an idle connection as this request left: retried once on a new one, as undici does.
        if ((error as Error).message === "timeout") throw error;
        spoke.socket?.destroy();
      }
    }
    const socket = await this.#connect(spoke);
    try {
      return await exchange(socket, text, this.#o.timeoutMs);
    } finally {
      if (this.#closes) socket.destroy();
      else spoke.socket = socket;
    }
  }

  #connect(spoke: SimSpoke): Promise<TLSSocket> {
    const { host, port } = this.#o.targets[spoke.index % this.#o.targets.length]!;
    const sources = this.#o.sourceAddresses;
    const context =
      spoke.context ??
      createSecureContext({
        ca: this.#o.caPem,
        cert: spoke.credential.certPem,
        key: spoke.credential.keyPem,
      });
    if (this.#spokes.length <= CONTEXT_CACHE_LIMIT) spoke.context = context;
    const stats = this.#stats;
    return new Promise((resolve, reject) => {
      const tcp = netConnect({
        host,
        port,
        localAddress: sources.length === 0 ? undefined : sources[spoke.index % sources.length],
        // As the agent's https.Agent does (Node's default there). Measured both ways with
        // --connection-cost: Nagle is not what makes resume's tail (docs/fleet.md#what-a-connection-costs).
        noDelay: true,
      });
      const socket = connect({
        socket: tcp,
        servername: "localhost",
        secureContext: context,
        session: this.#o.mode === "resume" ? spoke.session : undefined,
      });
      if (this.#o.mode === "resume") socket.on("session", (session: Buffer) => (spoke.session = session));
      const failed = (error: Error) => {
        socket.destroy();
        reject(error);
      };
      const timer = setTimeout(() => failed(new Error("connect timeout")), this.#o.timeoutMs);
      tcp.once("error", failed);
      socket.once("error", failed);
      socket.once("secureConnect", () => {
        tcp.off("error", failed);
        tcp.on("error", () => socket.destroy());
        clearTimeout(timer);
        socket.off("error", failed);
        // An idle keep-alive connection may still fail (the hub resets it): nothing is waiting on it then.
        socket.on("error", () => socket.destroy());
        stats.connects++;
        if (socket.isSessionReused()) stats.resumed++;
        resolve(socket);
      });
    });
  }
}
