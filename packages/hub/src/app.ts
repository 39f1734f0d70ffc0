/**
 * `buildApp(config, deps)` wires the hub: an external TLS listener (the Kyma-compatible runtime API,
 * client certificates asked for but checked per route) and an internal plain-HTTP listener (the
 * admin API and metrics). Nothing listens until `listen()`; tests can `inject()` into either.
 */
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import rateLimit from "@fastify/rate-limit";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { ErrorMessages } from "@tether/shared/contract";
import { createKeyring, trustBundlePem, type CaKeyring } from "@tether/shared/pki";
import { systemClock, type Clock } from "@tether/shared/time";
import { Audit } from "./audit.ts";
import { CrlPublisher } from "./ca/crl.ts";
import { Issuer } from "./ca/issuer.ts";
import { loadKek } from "./ca/kek.ts";
import { CaRotation } from "./ca/rotation.ts";
import type { ServingCertificate, ServingCredentials } from "./ca/serving.ts";
import type { HubConfig } from "./config.ts";
import { HttpError } from "./errors.ts";
import {
  clientErrorHandler,
  connectionOptions,
  frameworkErrors,
  routerOptions,
  setupInstance,
} from "./http.ts";
import { createLogger } from "./logger.ts";
import { HubMetrics } from "./metrics.ts";
import { ClientAuthenticator } from "./mtls/client-identity.ts";
import { adminRoutes } from "./routes/admin.ts";
import type { HubContext } from "./routes/context.ts";
import { crlRoutes } from "./routes/crl.ts";
import { enrolmentRoutes } from "./routes/enrolment.ts";
import { healthRoutes } from "./routes/health.ts";
import { managementRoutes } from "./routes/management.ts";
import { openApiRoutes, registerOpenApi } from "./routes/openapi.ts";
import { trustRoutes } from "./routes/trust.ts";
import { guardStore } from "./store/guard.ts";
import type { Store } from "./store/store.ts";
import { scopedAdminSecret } from "./tokens/scoped-admin.ts";
import { TokenService } from "./tokens/tokens.ts";
import { PublicUrls } from "./urls.ts";

export interface HubDeps {
  store: Store;
  /** The first active CA of a store that has none yet; ignored when `rotation` is given. */
  keyring: CaKeyring;
  /** The CAs kept in the store (ca/rotation.ts); without it, one is opened on the store with `keyring`. */
  rotation?: CaRotation;
  serving: ServingCertificate;
  clock?: Clock;
  logger?: Logger;
  metrics?: HubMetrics;
  /**
   * The TLS session-ticket key (48 bytes): the same in every worker process (cluster.ts), so a
   * client resumes its session on any of them. Random when not given.
   */
  ticketKeys?: Buffer;
}

export interface HubApp {
  external: FastifyInstance;
  internal: FastifyInstance;
  context: HubContext;
  /** Binds both listeners (port 0 picks a free port) and returns where they ended up. */
  listen(): Promise<{ external: AddressInfo; internal: AddressInfo }>;
  /** Stops accepting, lets in-flight requests finish, stops certificate upkeep. Does not close the store. */
  close(): Promise<void>;
}

export async function buildApp(config: HubConfig, deps: HubDeps): Promise<HubApp> {
  const { serving } = deps;
  const store = guardStore(deps.store);
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? createLogger({ level: config.logLevel });
  const metrics = deps.metrics ?? new HubMetrics();
  const audit = new Audit(store, clock, logger);
  const rotation = deps.rotation ?? (await openRotation(config, { ...deps, store, clock, logger, audit }));
  // Every part reads this keyring at use, so a phase change reaches them all without a restart.
  const keyring = rotation.keyring;
  metrics.setKeyring(keyring);
  const urls = new PublicUrls(config.publicUrl);
  const context: HubContext = {
    config,
    store,
    clock,
    keyring,
    serving,
    audit,
    metrics,
    tokens: new TokenService({ store, clock, audit, metrics }),
    issuer: new Issuer({
      keyring,
      store,
      clock,
      audit,
      metrics,
      keyAlgorithm: config.keyAlgorithm,
      validityMs: config.certValidityMs,
      crlUrl: (caSha256) => urls.crl(caSha256),
    }),
    clients: new ClientAuthenticator({ keyring, store, clock, supersededGraceMs: config.supersededGraceMs }),
    crls: new CrlPublisher({ keyring, store, clock, validityMs: config.crlValidityMs }),
    urls,
    // The founding CA's key, not the active one's: rotation must not void every scoped token.
    scopedAdminSecret: await scopedAdminSecret(createKeyring(keyring.founding)),
    rotation,
  };

  // The CA list sent in the handshake is the trust bundle, so that curl, Go and openssl clients offer
  // their hub-issued certificate; nothing is rejected at the TLS layer (docs/api.md#listeners).
  // The ticket key is given again with each new certificate, so that sessions outlive a renewal.
  const ticketKeys = deps.ticketKeys ?? randomBytes(48);
  const tlsOptions = (credentials: ServingCredentials) => ({
    key: credentials.keyPem,
    cert: credentials.certPem,
    ca: trustBundlePem(keyring),
    ticketKeys,
  });
  const baseLogger: FastifyBaseLogger = logger;
  // Unknown fields are refused, not silently dropped: a mistyped "runtime" must not mint a new runtime.
  // No type coercion either (Fastify's default is "array"): `"runtime": false` is no runtime id, and
  // every value the contract reads is a string, an array or an object as sent.
  const ajv = { customOptions: { removeAdditional: false as const, coerceTypes: false } };
  // Every error, the framework's and the HTTP parser's included, answers in the `{code, error}` shape.
  const errors = { frameworkErrors, clientErrorHandler };
  // Slow or silent clients (half-open connections, slowloris) are bounded in number and in time.
  const limits = config.connections;
  const { node: nodeServer, fastify: timeouts } = connectionOptions(limits);
  const external = Fastify({
    https: {
      ...tlsOptions(serving.current()),
      requestCert: true,
      rejectUnauthorized: false,
      handshakeTimeout: limits.handshakeTimeoutMs,
      ...nodeServer,
    },
    loggerInstance: baseLogger.child({ listener: "external" }),
    bodyLimit: config.bodyLimit,
    ajv,
    routerOptions,
    ...errors,
    ...timeouts,
    // Fastify's own "incoming request"/"request completed" are two info lines per request; http.ts
    // logs each request at debug instead (docs/hub.md#logs). Audit events stay at info.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: false,
  });
  // A connection's client certificate is read once (mtls/client-identity.ts): a TLS 1.2
  // renegotiation could present another, so there is none (TLS 1.3 has no renegotiation at all).
  external.server.on("secureConnection", (socket: TLSSocket) => socket.disableRenegotiation());
  // Open connections keep the context they shook hands with; new ones get the renewed certificate.
  serving.onChange((credentials) => external.server.setSecureContext(tlsOptions(credentials)));
  // A prepared or retired CA changes the CA list the handshake offers to clients.
  keyring.onChange(() => {
    metrics.setKeyring(keyring);
    external.server.setSecureContext(tlsOptions(serving.current()));
  });
  const internal: FastifyInstance = Fastify({
    loggerInstance: baseLogger.child({ listener: "internal" }),
    http: nodeServer,
    bodyLimit: config.bodyLimit,
    ajv,
    routerOptions,
    ...errors,
    ...timeouts,
    // Fastify's own "incoming request"/"request completed" are two info lines per request; http.ts
    // logs each request at debug instead (docs/hub.md#logs). Audit events stay at info.
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: false,
  });
  external.server.maxConnections = limits.max;
  internal.server.maxConnections = limits.max;

  let closing = false;
  setupInstance(external, { listener: "external", metrics, closing: () => closing });
  setupInstance(internal, { listener: "internal", metrics, closing: () => closing });
  external.addHook("onListen", (done) => {
    context.urls.bound((external.server.address() as AddressInfo).port);
    done();
  });

  await registerOpenApi(external, "tether hub runtime API");
  await external.register(rateLimit, {
    global: false,
    errorResponseBuilder: () => new HttpError(429, ErrorMessages.rateLimited),
  });
  // Each routes plugin is its own scope, so that its hooks (mTLS, admin token) apply to it alone.
  await external.register(enrolmentRoutes, context);
  await external.register(managementRoutes, context);
  await external.register(trustRoutes, context);
  await external.register(crlRoutes, context);
  await external.register(healthRoutes, context);
  await external.register(openApiRoutes, context);

  await registerOpenApi(internal, "tether hub admin API");
  await internal.register(adminRoutes, context);
  await internal.register(healthRoutes, context);
  await internal.register(openApiRoutes, context);

  if (config.internalAuth === "none") {
    logger.warn(
      "--internal-auth=none: the internal API accepts every caller; use only on an isolated network",
    );
  }

  return {
    external,
    internal,
    context,
    async listen() {
      await external.listen({ host: config.listen.host, port: config.listen.port });
      await internal.listen({ host: config.internalListen.host, port: config.internalListen.port });
      rotation.start();
      return {
        external: external.server.address() as AddressInfo,
        internal: internal.server.address() as AddressInfo,
      };
    },
    async close() {
      closing = true;
      serving.stop();
      rotation.stop();
      await Promise.all([external.close(), internal.close()]);
    },
  };
}

/** A store without CAs gets `deps.keyring`'s active CA; the key-encryption key follows the flags. */
async function openRotation(
  config: HubConfig,
  deps: { store: Store; keyring: CaKeyring; clock: Clock; logger: Logger; audit: Audit },
): Promise<CaRotation> {
  const { kek } = await loadKek({ kek: config.caKek, kekFile: config.caKekFile, dataDir: config.dataDir });
  return CaRotation.open({
    store: deps.store,
    kek,
    clock: deps.clock,
    audit: deps.audit,
    log: deps.logger,
    settings: { ...config.caRotation, supersededGraceMs: config.supersededGraceMs },
    initial: () => Promise.resolve(deps.keyring.active),
    local: [deps.keyring.active],
  });
}
