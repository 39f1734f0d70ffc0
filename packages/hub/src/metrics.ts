/**
 * Prometheus metrics with exactly the names of docs/hub.md#operate-it, in a registry of their own so that two
 * hubs in one process (tests) do not collide. Served on the internal listener at `/metrics`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { CaKeyring } from "@tether/shared/pki";

export class HubMetrics {
  readonly registry = new Registry();

  readonly certificatesIssued = new Counter({
    name: "tether_hub_certificates_issued_total",
    help: "Client certificates issued, by kind (initial, renewal).",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });

  readonly tokens = new Counter({
    name: "tether_hub_tokens_total",
    help: "Tokens issued, used and refused, by purpose.",
    labelNames: ["purpose", "result"] as const,
    registers: [this.registry],
  });

  readonly csrRejections = new Counter({
    name: "tether_hub_csr_rejections_total",
    help: "CSRs refused, by reason (bad-base64, bad-pem, bad-csr, bad-signature, subject, weak-key, key-not-allowed).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: "tether_hub_request_duration_seconds",
    help: "HTTP request duration on both listeners, by listener, method, route and status.",
    labelNames: ["listener", "method", "route", "status_code"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly caNotAfter = new Gauge({
    name: "tether_hub_ca_not_after_timestamp_seconds",
    help: "Expiry of each trusted hub CA (Unix seconds), by the CA certificate's SHA-256 and whether it signs.",
    labelNames: ["sha256", "active"] as const,
    // Every worker process reports the same CAs: added up they would be nonsense.
    aggregator: "first",
    registers: [this.registry],
  });

  /** The /metrics text: this registry's, or every worker's added up (cluster.ts). */
  collect: () => Promise<string> = () => this.registry.metrics();

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  setKeyring(keyring: CaKeyring): void {
    this.caNotAfter.reset();
    for (const ca of keyring.trusted) {
      this.caNotAfter.set(
        { sha256: ca.sha256, active: String(ca.sha256 === keyring.active.sha256) },
        Math.floor(ca.cert.notAfter.getTime() / 1000),
      );
    }
  }
}
