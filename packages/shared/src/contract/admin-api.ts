/**
 * Requests and responses of the internal/admin API (docs/api.md#admin-api). Times are ISO 8601 UTC strings,
 * hashes lower-case hex, serials upper-case hex as openssl prints them.
 */
import {
  absoluteUrlSchema,
  keyAlgorithms,
  type KeyAlgorithm,
  durationSchema,
  groupSchema,
  labelsSchema,
  nullableTimestampSchema,
  runtimeIdSchema,
  serialSchema,
  sha256HexSchema,
  tenantSchema,
  timestampSchema,
} from "./fields.ts";

/** Headers of `POST /v1/runtimes/tokens`. Node lower-cases header names, so the schema does too. */
export interface TokenHeaders {
  tenant: string;
  group: string;
}

export const tokenHeadersSchema = {
  $id: "TokenHeaders",
  type: "object",
  required: ["tenant", "group"],
  properties: { tenant: tenantSchema, group: groupSchema },
} as const;

export interface TokenRequest {
  /** Re-enrol this runtime (same CN); without it the hub creates a runtime with a generated id. */
  runtime?: string;
  /**
   * A new runtime's labels; for an existing runtime they replace its labels when the token is used
   * (audited). Without them an existing runtime keeps its labels.
   */
  labels?: Record<string, string>;
  /** Token lifetime, e.g. "10m"; the hub caps it at 24h. */
  ttl?: string;
}

/** tether's own addition to Kyma's token route: closed, and its keys match exactly. */
export const tokenRequestSchema = {
  $id: "TokenRequest",
  type: "object",
  additionalProperties: false,
  properties: { runtime: runtimeIdSchema, labels: labelsSchema, ttl: durationSchema },
} as const;

export interface TokenResponse {
  /** The token URL to paste into a CertificateRequest. */
  url: string;
  token: string;
}

export const tokenResponseSchema = {
  $id: "TokenResponse",
  description: "The token URL and the token.",
  type: "object",
  required: ["url", "token"],
  additionalProperties: false,
  properties: { url: absoluteUrlSchema, token: { type: "string", minLength: 1 } },
} as const;

export interface RevocationByHashRequest {
  /** SHA-256 hex of the certificate's DER; matched case-insensitively. */
  hash: string;
}

/** Open, as Kyma's: the hub matches `hash` as Go does (`{"Hash": ...}`) and ignores other keys. */
export const revocationByHashRequestSchema = {
  $id: "RevocationByHashRequest",
  description: 'The key matches case-insensitively ("Hash"); other keys are ignored.',
  type: "object",
  required: ["hash"],
  properties: { hash: sha256HexSchema },
} as const;

/** The answer to a revocation by hash: how many certificates it revoked (docs/api.md). */
export interface RevocationByHashResponse {
  /** The certificate and every certificate renewed from it, directly or not, that was not revoked yet. */
  revoked: number;
}

export const revocationByHashResponseSchema = {
  $id: "RevocationByHashResponse",
  type: "object",
  required: ["revoked"],
  additionalProperties: false,
  properties: {
    revoked: {
      type: "integer",
      minimum: 0,
      description: "Certificates newly revoked: the one named and its renewals, 0 if all already were.",
    },
  },
} as const;

export interface BootstrapKubeconfigRequest {
  /** Lifetime of the embedded bootstrap token, e.g. "24h". */
  ttl?: string;
}

export const bootstrapKubeconfigRequestSchema = {
  $id: "BootstrapKubeconfigRequest",
  type: "object",
  additionalProperties: false,
  properties: { ttl: durationSchema },
} as const;

export interface RuntimeIdParams {
  id: string;
}

export const runtimeIdParamsSchema = {
  $id: "RuntimeIdParams",
  type: "object",
  required: ["id"],
  properties: { id: runtimeIdSchema },
} as const;

export interface CertificateSummary {
  serial: string;
  sha256: string;
  notBefore: string;
  notAfter: string;
}

const certificateSummaryProperties = {
  serial: serialSchema,
  sha256: sha256HexSchema,
  notBefore: timestampSchema,
  notAfter: timestampSchema,
} as const;

export interface CertificateView extends CertificateSummary {
  kind: "initial" | "renewal";
  issuedAt: string;
  /** SHA-256 of the issuing CA's DER: which keyring entry signed it. */
  issuerSha256: string;
}

export const certificateViewSchema = {
  $id: "CertificateView",
  type: "object",
  required: ["serial", "sha256", "notBefore", "notAfter", "kind", "issuedAt", "issuerSha256"],
  additionalProperties: false,
  properties: {
    ...certificateSummaryProperties,
    kind: { type: "string", enum: ["initial", "renewal"] },
    issuedAt: timestampSchema,
    issuerSha256: sha256HexSchema,
  },
} as const;

/** A revocation may name a hash the hub never issued (Kyma semantics), so it carries no serial. */
export interface RevokedCertificateView {
  sha256: string;
  revokedAt: string;
  reason: string;
}

export const revokedCertificateViewSchema = {
  $id: "RevokedCertificateView",
  type: "object",
  required: ["sha256", "revokedAt", "reason"],
  additionalProperties: false,
  properties: { sha256: sha256HexSchema, revokedAt: timestampSchema, reason: { type: "string" } },
} as const;

export interface RuntimeView {
  id: string;
  tenant: string;
  group: string;
  labels: Record<string, string>;
  createdAt: string;
  lastSeenAt: string | null;
  deletedAt: string | null;
  /** The newest certificate that is neither expired nor revoked, if any. */
  currentCertificate: CertificateSummary | null;
  certificates: CertificateView[];
  revokedCertificates: RevokedCertificateView[];
}

export const runtimeViewSchema = {
  $id: "RuntimeView",
  description: "A registered runtime with its certificates.",
  type: "object",
  required: [
    "id",
    "tenant",
    "group",
    "labels",
    "createdAt",
    "lastSeenAt",
    "deletedAt",
    "currentCertificate",
    "certificates",
    "revokedCertificates",
  ],
  additionalProperties: false,
  properties: {
    id: runtimeIdSchema,
    tenant: { type: "string" },
    group: { type: "string" },
    labels: labelsSchema,
    createdAt: timestampSchema,
    lastSeenAt: nullableTimestampSchema,
    deletedAt: nullableTimestampSchema,
    currentCertificate: {
      type: ["object", "null"],
      required: ["serial", "sha256", "notBefore", "notAfter"],
      additionalProperties: false,
      properties: certificateSummaryProperties,
    },
    certificates: { type: "array", items: certificateViewSchema },
    revokedCertificates: { type: "array", items: revokedCertificateViewSchema },
  },
} as const;

/** `GET /v1/runtimes` answers page by page (docs/api.md#list-runtimes). */
export const RUNTIME_PAGE_DEFAULT = 500;
export const RUNTIME_PAGE_MAX = 1000;

export interface RuntimeListQuery {
  /** Runtimes per page, 1 to RUNTIME_PAGE_MAX; RUNTIME_PAGE_DEFAULT without it. */
  limit?: string;
  /** The `continue` of the previous page, unchanged. */
  continue?: string;
}

export const runtimeListQuerySchema = {
  $id: "RuntimeListQuery",
  type: "object",
  properties: {
    limit: {
      type: "string",
      // 1 to 1000 in decimal, without leading zeros: the query string is text, and only this is a limit.
      pattern: "^(?:[1-9][0-9]{0,2}|1000)$",
      description: `Runtimes per page: 1 to ${RUNTIME_PAGE_MAX}; ${RUNTIME_PAGE_DEFAULT} without it.`,
    },
    continue: {
      ...runtimeIdSchema,
      description:
        "The `continue` of the previous page (the id of its last runtime): the next page starts after it.",
    },
  },
} as const;

export interface RuntimeList {
  runtimes: RuntimeView[];
  /** Present when more runtimes may follow: pass it back as `?continue=` for the next page. */
  continue?: string;
}

export const runtimeListSchema = {
  $id: "RuntimeList",
  description:
    "One page of registered runtimes in id order, deleted ones included; `continue` names the next page.",
  type: "object",
  required: ["runtimes"],
  additionalProperties: false,
  properties: {
    runtimes: { type: "array", items: runtimeViewSchema },
    continue: {
      type: "string",
      description:
        "The id of this page's last runtime; present when more runtimes may follow. Absent on the last page.",
    },
  },
} as const;

/** What a scoped admin token may do: one scope per group of admin routes. */
export const adminScopes = [
  "tokens:create",
  "bootstrap:create",
  "runtimes:read",
  "runtimes:delete",
  "certificates:revoke",
  "metrics:read",
  "ca:read",
  "ca:manage",
] as const;
export type AdminScope = (typeof adminScopes)[number];

export interface AdminTokenRequest {
  scopes: AdminScope[];
  /** Lifetime, e.g. "24h"; at most 365d. */
  ttl: string;
}

export const adminTokenRequestSchema = {
  $id: "AdminTokenRequest",
  type: "object",
  required: ["scopes", "ttl"],
  additionalProperties: false,
  properties: {
    scopes: { type: "array", minItems: 1, uniqueItems: true, items: { type: "string", enum: adminScopes } },
    ttl: durationSchema,
  },
} as const;

export interface AdminTokenResponse {
  /** Revoke it with DELETE /v1/admin-tokens/{id}. */
  id: string;
  /** A signed JWT, sent as `Authorization: Bearer`; shown once. */
  token: string;
  scopes: AdminScope[];
  expiresAt: string;
}

export const adminTokenResponseSchema = {
  $id: "AdminTokenResponse",
  type: "object",
  required: ["id", "token", "scopes", "expiresAt"],
  additionalProperties: false,
  properties: {
    id: { type: "string" },
    token: { type: "string" },
    scopes: { type: "array", items: { type: "string", enum: adminScopes } },
    expiresAt: { type: "string", format: "date-time" },
  },
} as const;

export const adminTokenIdParamsSchema = {
  $id: "AdminTokenIdParams",
  type: "object",
  required: ["id"],
  additionalProperties: false,
  properties: { id: { type: "string", pattern: "^[0-9a-f-]{36}$" } },
} as const;

/** A CA of the hub in any phase (docs/pki.md#ca-rotation); `retired` ones are no longer trusted. */
export type CaLifePhase = "next" | "active" | "retiring" | "retired";

export interface CaView {
  sha256: string;
  phase: CaLifePhase;
  subject: string;
  notBefore: string;
  notAfter: string;
  createdAt: string;
  activatedAt: string | null;
  retiringAt: string | null;
  retiredAt: string | null;
  /** Unexpired, unrevoked, not superseded certificates it issued. */
  liveCertificates: number;
  /** Runtimes holding at least one of them. */
  runtimes: number;
  /** Runtimes that read a trust bundle holding this CA. */
  trustedBy: number;
}

const caViewSchema = {
  $id: "CaView",
  type: "object",
  required: [
    "sha256",
    "phase",
    "subject",
    "notBefore",
    "notAfter",
    "createdAt",
    "activatedAt",
    "retiringAt",
    "retiredAt",
    "liveCertificates",
    "runtimes",
    "trustedBy",
  ],
  additionalProperties: false,
  properties: {
    sha256: sha256HexSchema,
    phase: { type: "string", enum: ["next", "active", "retiring", "retired"] },
    subject: { type: "string" },
    notBefore: timestampSchema,
    notAfter: timestampSchema,
    createdAt: timestampSchema,
    activatedAt: nullableTimestampSchema,
    retiringAt: nullableTimestampSchema,
    retiredAt: nullableTimestampSchema,
    liveCertificates: { type: "integer", minimum: 0 },
    runtimes: { type: "integer", minimum: 0 },
    trustedBy: { type: "integer", minimum: 0 },
  },
} as const;

export interface CaStatus {
  /** Grows with every phase change; a spoke's trust bundle carries the generation it was built from. */
  generation: number;
  /** Runtimes not deleted. */
  runtimes: number;
  autoRotate: boolean;
  /** What automatic mode would do now, and why. */
  decision: { action: "none" | "prepare" | "activate" | "retire"; reason: string; message: string };
  /** Active, next, retiring, then retired; newest first within a phase. */
  cas: CaView[];
}

export const caStatusSchema = {
  $id: "CaStatus",
  description: "Every CA of the hub with its phase and how far the fleet has moved.",
  type: "object",
  required: ["generation", "runtimes", "autoRotate", "decision", "cas"],
  additionalProperties: false,
  properties: {
    generation: { type: "integer", minimum: 0 },
    runtimes: { type: "integer", minimum: 0 },
    autoRotate: { type: "boolean" },
    decision: {
      type: "object",
      required: ["action", "reason", "message"],
      additionalProperties: false,
      properties: {
        action: { type: "string", enum: ["none", "prepare", "activate", "retire"] },
        reason: { type: "string" },
        message: { type: "string" },
      },
    },
    cas: { type: "array", items: caViewSchema },
  },
} as const;

/** Prepare the next CA: generated (`algorithm`, default the active CA's), or imported (both PEMs). */
export interface CaRotateRequest {
  algorithm?: KeyAlgorithm;
  /** The CA certificate, optionally followed by its chain (an intermediate of a company root). */
  certPem?: string;
  keyPem?: string;
}

export const caRotateRequestSchema = {
  $id: "CaRotateRequest",
  type: "object",
  additionalProperties: false,
  properties: {
    algorithm: { type: "string", enum: keyAlgorithms },
    // 16 KiB each: a chain of a few certificates and an RSA-4096 key fit, and both stay within the
    // default --body-limit (64KiB), so a body the schema allows is not refused as too large.
    certPem: { type: "string", minLength: 1, maxLength: 16384 },
    keyPem: { type: "string", minLength: 1, maxLength: 16384 },
  },
} as const;

export interface CaActivateRequest {
  /** The next CA; omitted: the one next CA there is. */
  sha256?: string;
}

export const caActivateRequestSchema = {
  $id: "CaActivateRequest",
  type: "object",
  additionalProperties: false,
  properties: { sha256: sha256HexSchema },
} as const;

export interface CaRetireRequest {
  sha256: string;
  /** Retire although live certificates of it remain: their holders must enrol again. */
  force?: boolean;
}

export const caRetireRequestSchema = {
  $id: "CaRetireRequest",
  type: "object",
  required: ["sha256"],
  additionalProperties: false,
  properties: { sha256: sha256HexSchema, force: { type: "boolean" } },
} as const;
