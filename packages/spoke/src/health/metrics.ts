/**
 * The spoke's Prometheus metrics (docs/spoke.md#health-and-metrics), in a registry of their own so that two agents in one
 * process (tests) do not share series.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";

export interface ConnectionMetrics {
  observeCertificate(connection: string, notAfter: Date | undefined, renewalTime: Date | undefined): void;
  observeReady(connection: string, ready: boolean): void;
  countSync(connection: string, result: "success" | "failure"): void;
  /** The CA that issued the connection's certificate (SHA-256 of its DER); undefined: unknown. */
  observeIssuer(connection: string, issuerSha256: string | undefined): void;
  /** The connection is gone: its series go too. */
  forget(connection: string): void;
}

export interface RolloutMetrics {
  /** A workload that uses the connection's credential was rolled. */
  countWorkloadRestart(connection: string, kind: string): void;
}

export interface SpokeMetrics extends ConnectionMetrics, RolloutMetrics {
  registry: Registry;
}

export function createSpokeMetrics(options: { processMetrics?: boolean } = {}): SpokeMetrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const expiration = new Gauge({
    name: "tether_spoke_certificate_expiration_timestamp_seconds",
    help: "notAfter of the connection's client certificate, in seconds since the epoch.",
    labelNames: ["connection"],
    registers: [registry],
  });
  const renewal = new Gauge({
    name: "tether_spoke_certificate_renewal_timestamp_seconds",
    help: "When the connection's client certificate will be renewed, in seconds since the epoch.",
    labelNames: ["connection"],
    registers: [registry],
  });
  const ready = new Gauge({
    name: "tether_spoke_certificate_ready_status",
    help: "1 when the connection is Ready (usable certificate accepted by the hub), else 0.",
    labelNames: ["connection"],
    registers: [registry],
  });
  const syncs = new Counter({
    name: "tether_spoke_sync_total",
    help: "Calls to the hub's management info, by result.",
    labelNames: ["connection", "result"],
    registers: [registry],
  });
  const restarts = new Counter({
    name: "tether_spoke_workload_restarts_total",
    help: "Workloads rolled because the connection's credential changed, by kind.",
    labelNames: ["connection", "kind"],
    registers: [registry],
  });
  const issuer = new Gauge({
    name: "tether_spoke_certificate_issuer",
    help: "1 for the CA (SHA-256 of its DER) that issued the connection's client certificate.",
    labelNames: ["connection", "issuer_sha256"],
    registers: [registry],
  });
  const issuers = new Map<string, string>();
  const forgetIssuer = (connection: string) => {
    const known = issuers.get(connection);
    if (known !== undefined) issuer.remove({ connection, issuer_sha256: known });
    issuers.delete(connection);
  };
  const seconds = (date: Date) => Math.floor(date.getTime() / 1000);
  return {
    registry,
    observeCertificate(connection, notAfter, renewalTime) {
      if (notAfter) expiration.set({ connection }, seconds(notAfter));
      else expiration.remove({ connection });
      if (renewalTime) renewal.set({ connection }, seconds(renewalTime));
      else renewal.remove({ connection });
    },
    observeReady(connection, isReady) {
      ready.set({ connection }, isReady ? 1 : 0);
    },
    countSync(connection, result) {
      syncs.inc({ connection, result });
    },
    observeIssuer(connection, issuerSha256) {
      if (issuers.get(connection) === issuerSha256) return;
      forgetIssuer(connection);
      if (issuerSha256 === undefined) return;
      issuers.set(connection, issuerSha256);
      issuer.set({ connection, issuer_sha256: issuerSha256 }, 1);
    },
    countWorkloadRestart(connection, kind) {
      restarts.inc({ connection, kind });
    },
    forget(connection) {
      expiration.remove({ connection });
      renewal.remove({ connection });
      ready.remove({ connection });
      forgetIssuer(connection);
      syncs.remove({ connection, result: "success" });
      syncs.remove({ connection, result: "failure" });
      for (const kind of ["Deployment", "StatefulSet", "DaemonSet"]) restarts.remove({ connection, kind });
    },
  };
}
