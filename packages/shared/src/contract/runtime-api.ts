/**
 * Requests and responses of the external runtime API (docs/api.md#shapes), wire-compatible with the Kyma
 * Connector Service v1. Response shapes are closed (`additionalProperties: false`): in particular
 * `api` and `urls` never carry Kyma's metadataUrl/eventsUrl/eventsInfoUrl keys.
 */
import { type KeyAlgorithm, absoluteUrlSchema, base64Schema, keyAlgorithms } from "./fields.ts";

/** What the hub asks the spoke to put in its CSR; identical in CSR info and management info. */
export interface CertificateTemplate {
  /** "O=<tenant>,OU=<group>,L=<l>,ST=<st>,C=<c>,CN=<runtime id>" (formatSubject of pki). */
  subject: string;
  /** Always empty; kept because Kyma clients expect the key. */
  extensions: "";
  "key-algorithm": KeyAlgorithm;
}

export const certificateTemplateSchema = {
  $id: "CertificateTemplate",
  type: "object",
  required: ["subject", "extensions", "key-algorithm"],
  additionalProperties: false,
  properties: {
    subject: {
      type: "string",
      pattern: "^[A-Za-z]+=[^,=]*(,[A-Za-z]+=[^,=]*)*$",
      description: 'Subject the CSR must carry, e.g. "O=acme,OU=prod,L=Berlin,ST=Berlin,C=DE,CN=cluster-1".',
    },
    extensions: { type: "string", enum: [""], description: "Always empty (Kyma compatibility)." },
    "key-algorithm": {
      type: "string",
      enum: keyAlgorithms,
      description: "Key the spoke should generate; the hub accepts any allowed key at least this strong.",
    },
  },
} as const;

export interface CsrInfo {
  /** Absolute URL with the one-time `csr` token, where the CSR is posted. */
  csrUrl: string;
  api: { infoUrl: string; certificatesUrl: string };
  certificate: CertificateTemplate;
}

export const csrInfoSchema = {
  $id: "CsrInfo",
  description: "CSR info: where to post the CSR and which subject and key it must carry.",
  type: "object",
  required: ["csrUrl", "api", "certificate"],
  additionalProperties: false,
  properties: {
    csrUrl: absoluteUrlSchema,
    api: {
      type: "object",
      required: ["infoUrl", "certificatesUrl"],
      additionalProperties: false,
      properties: { infoUrl: absoluteUrlSchema, certificatesUrl: absoluteUrlSchema },
    },
    certificate: certificateTemplateSchema,
  },
} as const;

/** Each value is base64 of PEM text. */
export interface CertificatesResponse {
  /** Client certificate followed by its issuing CA. */
  crt: string;
  clientCrt: string;
  /** The issuing CA only (Kyma clients count the certificates in `crt`). */
  caCrt: string;
}

export const certificatesResponseSchema = {
  $id: "CertificatesResponse",
  description: "The issued client certificate and its issuing CA.",
  type: "object",
  required: ["crt", "clientCrt", "caCrt"],
  additionalProperties: false,
  properties: {
    crt: {
      ...base64Schema,
      description: "Base64 of the client certificate PEM followed by the issuing CA PEM.",
    },
    clientCrt: { ...base64Schema, description: "Base64 of the client certificate PEM." },
    caCrt: { ...base64Schema, description: "Base64 of the issuing CA certificate PEM." },
  },
} as const;

export interface ManagementInfo {
  clientIdentity: { tenant: string; group: string; runtimeId: string };
  urls: { renewCertUrl: string; revokeCertUrl: string };
  certificate: CertificateTemplate;
}

export const managementInfoSchema = {
  $id: "ManagementInfo",
  description: "Identity of the calling certificate and the URLs to renew or revoke it.",
  type: "object",
  required: ["clientIdentity", "urls", "certificate"],
  additionalProperties: false,
  properties: {
    clientIdentity: {
      type: "object",
      required: ["tenant", "group", "runtimeId"],
      additionalProperties: false,
      // Echoes what the hub issued; the request-side constraints (fields.ts) are not repeated here.
      properties: { tenant: { type: "string" }, group: { type: "string" }, runtimeId: { type: "string" } },
    },
    urls: {
      type: "object",
      required: ["renewCertUrl", "revokeCertUrl"],
      additionalProperties: false,
      properties: { renewCertUrl: absoluteUrlSchema, revokeCertUrl: absoluteUrlSchema },
    },
    certificate: certificateTemplateSchema,
  },
} as const;

export interface CsrRequest {
  /** Base64 of the PEM CSR. */
  csr: string;
}

/**
 * The body of issue and renewal. `csr` is only typed as a string here: a value that is not base64
 * must reach the handler, which answers with the exact Kyma message instead of a schema error. Open,
 * as Kyma's: the hub matches `csr` as Go does (`{"CSR": ...}`) and ignores other keys.
 */
export const csrRequestSchema = {
  $id: "CsrRequest",
  description: 'The key matches case-insensitively ("CSR"); other keys are ignored.',
  type: "object",
  required: ["csr"],
  properties: { csr: { type: "string", description: "Base64 of the PEM certificate signing request." } },
} as const;

/** Which CA's CRL: the SHA-256 of the CA certificate's DER, as in the CRL Distribution Point. */
export interface CrlParams {
  issuer: string;
}

export const crlParamsSchema = {
  $id: "CrlParams",
  type: "object",
  required: ["issuer"],
  properties: {
    issuer: {
      type: "string",
      pattern: "^[0-9a-f]{64}$",
      description: "SHA-256 (lower-case hex) of the CA certificate's DER.",
    },
  },
} as const;

/** Query of the token routes. `token` is not required: its absence is a 403 with a Kyma message. */
export interface TokenQuery {
  token?: string;
}

export const tokenQuerySchema = {
  $id: "TokenQuery",
  type: "object",
  properties: { token: { type: "string", description: "One-time token." } },
} as const;
