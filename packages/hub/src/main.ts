/**
 * `tether-hub serve`: open the store, load or create the CA and the admin token, get a serving
 * certificate, build the app and listen. SIGTERM/SIGINT stop accepting, let in-flight requests finish
 * and close the store.
 */
import { isPostgresUrl, openStore } from "./store/open.ts";
import { buildApp, type HubApp } from "./app.ts";
import { Audit } from "./audit.ts";
import { loadKek } from "./ca/kek.ts";
import { CA_CERT_FILE, loadKeyring } from "./ca/keyring.ts";
import { CaRotation } from "./ca/rotation.ts";
import { fileServingCertificate, issuedServingCertificate, type ServingCertificate } from "./ca/serving.ts";
import { ConfigError, type HubConfig } from "./config.ts";
import { createLogger } from "./logger.ts";
import { HubMetrics } from "./metrics.ts";
import { ensureAdminToken } from "./tokens/admin-token.ts";
import { systemClock, type Clock } from "@tether/shared/time";
import type { Logger } from "pino";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { guardStore } from "./store/guard.ts";

export interface RunningHub {
  app: HubApp;
  externalUrl: string;
  internalUrl: string;
  publicUrl: string;
  caCertPath: string;
  /** Undefined when the admin token came from --admin-token. */
  adminTokenFile: string | undefined;
  /** Stops both listeners (in-flight requests finish first), then closes the store. */
  stop(): Promise<void>;
}

export async function serve(
  config: HubConfig,
  options: { clock?: Clock; logger?: Logger } = {},
): Promise<RunningHub> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  if (config.store !== "sqlite" && !isPostgresUrl(config.store)) {
    throw new ConfigError(`--store: "${config.store}" is neither sqlite nor a postgres:// URL`);
  }
  const store = await openStore({
    url: config.store === "sqlite" ? undefined : config.store,
    dataDir: config.dataDir,
  });
  let serving: ServingCertificate | undefined;
  try {
    const { kek, generated } = await loadKek({
      kek: config.caKek,
      kekFile: config.caKekFile,
      dataDir: config.dataDir,
    });
    if (generated && isPostgresUrl(config.store)) {
      logger.warn(
        { kek: kek.source },
        "generated a CA key-encryption key in the data directory: other replicas cannot use the CA keys in the store; give every replica the same --ca-kek-file",
      );
    }
    // The files (or the CA generated into the data directory) seed a store that has no CA yet, and
    // stand in for the stored key of the same CA (replicas that share CA files but no KEK).
    const fromFiles =
      config.caCert !== undefined || existsSync(join(config.dataDir, CA_CERT_FILE))
        ? (await loadKeyring({ ...config, clock })).keyring.active
        : undefined;
    const rotation = await CaRotation.open({
      store: guardStore(store),
      kek,
      clock,
      audit: new Audit(store, clock, logger),
      log: logger,
      settings: { ...config.caRotation, supersededGraceMs: config.supersededGraceMs },
      initial: async () => fromFiles ?? (await loadKeyring({ ...config, clock })).keyring.active,
      local: fromFiles === undefined ? [] : [fromFiles],
    });
    if (fromFiles !== undefined && !keyringHas(rotation, fromFiles.sha256)) {
      logger.warn(
        { caCert: config.caCert, sha256: fromFiles.sha256, active: rotation.keyring.active.sha256 },
        "the CA in the files is not one the store trusts: the store's CAs apply; change CAs with tether-hub ca rotate",
      );
    }
    const keyring = rotation.keyring;
    const certPath = config.caCert ?? join(config.dataDir, CA_CERT_FILE);
    const { file: adminTokenFile } = await ensureAdminToken({
      store,
      clock,
      dataDir: config.dataDir,
      explicit: config.adminToken,
    });
    serving =
      config.tlsCert !== undefined && config.tlsKey !== undefined
        ? await fileServingCertificate({
            certFile: config.tlsCert,
            keyFile: config.tlsKey,
            caFile: config.tlsCa,
            intervalMs: config.tlsReloadIntervalMs,
            log: logger,
          })
        : await issuedServingCertificate({
            keyring,
            hosts: [
              config.publicUrl === undefined ? "localhost" : new URL(config.publicUrl).hostname,
              ...config.sans,
            ],
            validityMs: config.servingCertValidityMs,
            clock,
            log: logger,
          });
    const app = await buildApp(config, {
      store,
      keyring,
      rotation,
      serving,
      clock,
      logger,
      metrics: new HubMetrics({ processMetrics: true }),
    });
    const addresses = await app.listen();
    const running: RunningHub = {
      app,
      externalUrl: `https://${hostPort(addresses.external.address, addresses.external.port)}`,
      internalUrl: `http://${hostPort(addresses.internal.address, addresses.internal.port)}`,
      publicUrl: app.context.urls.base,
      caCertPath: certPath,
      adminTokenFile,
      async stop() {
        await app.close();
        await store.close();
      },
    };
    logger.info(
      {
        publicUrl: running.publicUrl,
        external: running.externalUrl,
        internal: running.internalUrl,
        caCert: certPath,
        adminTokenFile,
        store: isPostgresUrl(config.store) ? "postgres" : "sqlite",
      },
      "tether hub listening",
    );
    return running;
  } catch (error) {
    serving?.stop();
    await store.close();
    throw error;
  }
}

/** Stops on the first SIGTERM or SIGINT; a second one exits at once. */
export function stopOnSignals(hub: RunningHub, logger: Logger): void {
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, "shutting down: finishing in-flight requests");
    process.once(signal, () => process.exit(1));
    hub.stop().then(
      () => {
        logger.info("stopped");
        process.exitCode = 0;
      },
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
}

function keyringHas(rotation: CaRotation, sha256: string): boolean {
  return rotation.keyring.entries.some((entry) => entry.record.sha256 === sha256);
}

function hostPort(address: string, port: number): string {
  const host = address === "0.0.0.0" || address === "::" ? "localhost" : address;
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
