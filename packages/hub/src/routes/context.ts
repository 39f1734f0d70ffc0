/**
 * What the route plugins share: configuration, the store and the services built on it. app.ts builds
 * one HubContext and registers every plugin with it as its options.
 */
import type { FastifyPluginCallbackJsonSchemaToTs } from "@fastify/type-provider-json-schema-to-ts";
import type { CertificateTemplate } from "@tether/shared/contract";
import { formatSubject, type CaKeyring, type Subject } from "@tether/shared/pki";
import type { Clock } from "@tether/shared/time";
import type { Audit } from "../audit.ts";
import type { CrlPublisher } from "../ca/crl.ts";
import type { Issuer } from "../ca/issuer.ts";
import type { CaRotation } from "../ca/rotation.ts";
import type { ServingCertificate } from "../ca/serving.ts";
import type { HubConfig } from "../config.ts";
import type { HubMetrics } from "../metrics.ts";
import type { ClientAuthenticator } from "../mtls/client-identity.ts";
import type { Runtime, Store } from "../store/store.ts";
import type { TokenService } from "../tokens/tokens.ts";
import type { PublicUrls } from "../urls.ts";

export interface HubContext {
  config: HubConfig;
  store: Store;
  clock: Clock;
  keyring: CaKeyring;
  serving: ServingCertificate;
  tokens: TokenService;
  issuer: Issuer;
  clients: ClientAuthenticator;
  crls: CrlPublisher;
  audit: Audit;
  metrics: HubMetrics;
  urls: PublicUrls;
  /** Signs scoped admin tokens (tokens/scoped-admin.ts). */
  scopedAdminSecret: Buffer;
  /** The CAs in the store, their phases and the trust bundle (docs/pki.md#ca-rotation). */
  rotation: CaRotation;
}

/**
 * A routes file: a plugin taking the HubContext as its options. The type provider gives its handlers
 * bodies, headers, params and queries typed from the route schemas of `@tether/shared/contract`.
 */
export type HubRoutes = FastifyPluginCallbackJsonSchemaToTs<{ Options: HubContext }>;

/** The subject a runtime's certificates carry: O and OU from the runtime, L, ST and C from the hub. */
export function runtimeSubject(runtime: Runtime, config: HubConfig): Subject {
  const { locality, province, country } = config.subject;
  return { CN: runtime.id, O: runtime.tenant, OU: runtime.group, L: locality, ST: province, C: country };
}

export function certificateTemplate(subject: Subject, config: HubConfig): CertificateTemplate {
  return { subject: formatSubject(subject), extensions: "", "key-algorithm": config.keyAlgorithm };
}
