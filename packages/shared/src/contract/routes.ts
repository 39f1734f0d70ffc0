/**
 * Every route of docs/api.md#routes in one table. The hub registers each entry with Fastify
 * (`app.route({ method, url: route.path, schema: route.schema, handler })`), @fastify/swagger turns the
 * schemas into `/v1/api.yaml`, and the spoke and the CLI take methods, paths and response schemas from
 * here instead of repeating them.
 */
import {
  adminTokenIdParamsSchema,
  adminTokenRequestSchema,
  adminTokenResponseSchema,
  bootstrapKubeconfigRequestSchema,
  caActivateRequestSchema,
  caRetireRequestSchema,
  caRotateRequestSchema,
  caStatusSchema,
  revocationByHashRequestSchema,
  revocationByHashResponseSchema,
  runtimeIdParamsSchema,
  runtimeListQuerySchema,
  runtimeListSchema,
  runtimeViewSchema,
  tokenHeadersSchema,
  tokenRequestSchema,
  tokenResponseSchema,
} from "./admin-api.ts";
import { errorBodySchema } from "./errors.ts";
import { trustBundleSchema } from "./trust.ts";
import {
  certificatesResponseSchema,
  csrInfoSchema,
  crlParamsSchema,
  csrRequestSchema,
  managementInfoSchema,
  tokenQuerySchema,
} from "./runtime-api.ts";

export type Listener = "external" | "internal";
/** none; one-time or bootstrap token; hub-issued client certificate; admin bearer token. */
export type RouteAuth = "none" | "token" | "mtls" | "admin";
export type HttpMethod = "GET" | "POST" | "DELETE";

/** A Fastify route schema plus the OpenAPI annotations @fastify/swagger reads. */
export interface RouteSchema {
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly security?: readonly Readonly<Record<string, readonly string[]>>[];
  readonly querystring?: object;
  readonly headers?: object;
  readonly params?: object;
  readonly body?: object;
  readonly response: Readonly<Record<number, object>>;
}

/**
 * How the hub reads a request body (docs/api.md#runtime-api, decoding). "go": the route is one Kyma's Connector
 * Service has, and Kyma's Go clients call it with no Content-Type: the body is JSON whatever the
 * Content-Type says, and an open body schema's keys match as Go's encoding/json matches struct
 * fields (case-insensitively, unknown keys ignored); a closed schema (`additionalProperties: false`)
 * holds tether's own additions and stays strict. "json": tether's own routes, `application/json` only.
 */
export type BodyDecoding = "go" | "json";

export interface RouteSpec {
  readonly method: HttpMethod;
  /** Fastify syntax (`:id`); `fillPath` substitutes parameters. */
  readonly path: string;
  readonly listener: Listener;
  readonly auth: RouteAuth;
  readonly decoding: BodyDecoding;
  readonly schema: RouteSchema;
}

// Each status gets its own copy without `$id`, so that one id never names two different objects.
const { $id: _errorBodyId, ...errorBodyShape } = errorBodySchema;
const error = (description: string) => ({ ...errorBodyShape, description });
const tokenErrors = {
  403: error("Token missing, unknown, expired, already used or of another purpose."),
  429: error("Rate limit hit."),
};
const csrErrors = {
  400: error("Bad base64, PEM, CSR, signature, subject or key."),
  413: error("Body too large."),
};
const mtlsErrors = {
  403: error("No client certificate, or it is untrusted, expired, unknown or revoked."),
};
const adminErrors = {
  401: error("Admin token missing."),
  403: error("Admin token invalid."),
};
const notFound = { 404: error("Unknown runtime.") };
const empty = (description: string) => ({ description, type: "null" });
const text = (description: string, contentType: string) => ({
  description,
  content: { [contentType]: { schema: { type: "string" } } },
});

/** A YAML document (an object once parsed), e.g. the OpenAPI document or a kubeconfig. */
const yamlDocument = (description: string) => ({
  description,
  content: { "application/yaml": { schema: { type: "object" } } },
});

const binary = (description: string, contentType: string) => ({
  description,
  content: { [contentType]: { schema: { type: "string", format: "binary" } } },
});

const mtlsNote = "Requires a client certificate issued by the hub (mutual TLS).";

export const routes = {
  csrInfo: {
    method: "GET",
    path: "/v1/runtimes/signingRequests/info",
    listener: "external",
    auth: "token",
    decoding: "go",
    schema: {
      operationId: "getCsrInfo",
      summary: "Exchange a one-time token for CSR info and a CSR token",
      description: "Accepts the one-time token in `token`, or a bootstrap token as `Authorization: Bearer`.",
      tags: ["enrolment"],
      security: [{ oneTimeToken: [] }, { bootstrapToken: [] }],
      querystring: tokenQuerySchema,
      response: { 200: csrInfoSchema, ...tokenErrors },
    },
  },
  issueCertificate: {
    method: "POST",
    path: "/v1/runtimes/certificates",
    listener: "external",
    auth: "token",
    decoding: "go",
    schema: {
      operationId: "issueCertificate",
      summary: "Sign a CSR with the one-time token from csrUrl",
      tags: ["enrolment"],
      security: [{ oneTimeToken: [] }],
      querystring: tokenQuerySchema,
      body: csrRequestSchema,
      response: { 201: certificatesResponseSchema, ...csrErrors, ...tokenErrors },
    },
  },
  managementInfo: {
    method: "GET",
    path: "/v1/runtimes/management/info",
    listener: "external",
    auth: "mtls",
    decoding: "go",
    schema: {
      operationId: "getManagementInfo",
      summary: "Identity of the calling certificate and the renewal and revocation URLs",
      description: mtlsNote,
      tags: ["management"],
      response: { 200: managementInfoSchema, ...mtlsErrors },
    },
  },
  trustBundle: {
    method: "GET",
    path: "/v1/runtimes/management/trust",
    listener: "external",
    auth: "mtls",
    decoding: "json",
    schema: {
      operationId: "getTrustBundle",
      summary: "The CAs to trust and the one that signs now (tether only: CA rotation)",
      description: mtlsNote,
      tags: ["management"],
      response: { 200: trustBundleSchema, ...mtlsErrors },
    },
  },
  renewCertificate: {
    method: "POST",
    path: "/v1/runtimes/certificates/renewals",
    listener: "external",
    auth: "mtls",
    decoding: "go",
    schema: {
      operationId: "renewCertificate",
      summary: "Sign a CSR carrying the calling certificate's subject",
      description: mtlsNote,
      tags: ["management"],
      body: csrRequestSchema,
      response: { 201: certificatesResponseSchema, ...csrErrors, ...mtlsErrors },
    },
  },
  revokeOwnCertificate: {
    method: "POST",
    path: "/v1/runtimes/certificates/revocations",
    listener: "external",
    auth: "mtls",
    decoding: "go",
    schema: {
      operationId: "revokeOwnCertificate",
      summary: "Revoke the calling certificate",
      description: mtlsNote,
      tags: ["management"],
      response: { 201: empty("Revoked."), ...mtlsErrors },
    },
  },
  crl: {
    method: "GET",
    path: "/v1/crl/:issuer.crl",
    listener: "external",
    auth: "none",
    decoding: "json",
    schema: {
      operationId: "getCrl",
      summary: "The CRL of a trusted hub CA, as its certificates' CRL Distribution Point names it",
      description:
        "DER, signed by that CA. Answers `304` to `If-None-Match` with its ETag or `If-Modified-Since` its thisUpdate.",
      tags: ["revocation"],
      params: crlParamsSchema,
      response: {
        200: binary("The CRL (DER).", "application/pkix-crl"),
        304: empty("Not modified since the copy the client holds."),
        400: error("Not a SHA-256."),
        404: error("No trusted hub CA has this SHA-256."),
      },
    },
  },
  apiRoot: {
    method: "GET",
    path: "/v1",
    listener: "external",
    auth: "none",
    decoding: "json",
    schema: {
      operationId: "getApiRoot",
      summary: "Redirect to the OpenAPI document",
      tags: ["documentation"],
      response: { 301: empty("Moved to /v1/api.yaml.") },
    },
  },
  apiDocument: {
    method: "GET",
    path: "/v1/api.yaml",
    listener: "external",
    auth: "none",
    decoding: "json",
    schema: {
      operationId: "getApiDocument",
      summary: "OpenAPI 3 document of the runtime API",
      tags: ["documentation"],
      response: { 200: yamlDocument("The OpenAPI document.") },
    },
  },
  createToken: {
    method: "POST",
    path: "/v1/runtimes/tokens",
    listener: "internal",
    auth: "admin",
    decoding: "go",
    schema: {
      operationId: "createToken",
      summary: "Mint a one-time token URL for a new runtime, or to re-enrol one",
      tags: ["admin"],
      security: [{ adminToken: [] }],
      headers: tokenHeadersSchema,
      body: tokenRequestSchema,
      response: {
        201: tokenResponseSchema,
        400: error("Tenant or Group missing, or invalid body."),
        ...adminErrors,
        ...notFound,
      },
    },
  },
  revokeByHash: {
    method: "POST",
    path: "/v1/runtimes/certificates/revocations",
    listener: "internal",
    auth: "admin",
    decoding: "go",
    schema: {
      operationId: "revokeCertificateByHash",
      summary: "Revoke a certificate by the SHA-256 of its DER",
      tags: ["admin"],
      security: [{ adminToken: [] }],
      body: revocationByHashRequestSchema,
      response: {
        201: {
          ...revocationByHashResponseSchema,
          description: "Revoked with its renewals (also when already revoked or never issued).",
        },
        400: error("Invalid hash."),
        ...adminErrors,
      },
    },
  },
  bootstrapKubeconfig: {
    method: "POST",
    path: "/v1/runtimes/:id/bootstrap-kubeconfig",
    listener: "internal",
    auth: "admin",
    decoding: "json",
    schema: {
      operationId: "createBootstrapKubeconfig",
      summary: "A bootstrap kubeconfig carrying a new bootstrap token for this runtime",
      tags: ["admin"],
      security: [{ adminToken: [] }],
      params: runtimeIdParamsSchema,
      body: bootstrapKubeconfigRequestSchema,
      response: {
        200: yamlDocument("The bootstrap kubeconfig."),
        400: error("Invalid ttl."),
        ...adminErrors,
        ...notFound,
      },
    },
  },
  listRuntimes: {
    method: "GET",
    path: "/v1/runtimes",
    listener: "internal",
    auth: "admin",
    decoding: "json",
    schema: {
      operationId: "listRuntimes",
      summary: "Registered runtimes, one page at a time",
      tags: ["admin"],
      security: [{ adminToken: [] }],
      querystring: runtimeListQuerySchema,
      response: { 200: runtimeListSchema, 400: error("Invalid limit or continue."), ...adminErrors },
    },
  },
  getRuntime: {
    method: "GET",
    path: "/v1/runtimes/:id",
    listener: "internal",
    auth: "admin",
    decoding: "json",
    schema: {
      operationId: "getRuntime",
      summary: "One runtime with its certificates and revocations",
      tags: ["admin"],
      security: [{ adminToken: [] }],
      params: runtimeIdParamsSchema,
      response: { 200: runtimeViewSchema, 400: error("Invalid runtime id."), ...adminErrors, ...notFound },
    },
  },
  deleteRuntime: {
    method: "DELETE",
    path: "/v1/runtimes/:id",
    listener: "internal",
    auth: "admin",
    decoding: "json",
    schema: {
      operationId: "deleteRuntime",
      summary: "Delete a runtime and revoke every certificate it holds",
      tags: ["admin"],
      security: [{ adminToken: [] }],
      params: runtimeIdParamsSchema,
      response: { 204: empty("Deleted."), 400: error("Invalid runtime id."), ...adminErrors, ...notFound },
    },
  },
  metrics: {
    method: "GET",
    path: "/metrics",
    listener: "internal",
    auth: "admin",
    decoding: "json",
    schema: {
      operationId: "getMetrics",
      summary: "Prometheus metrics",
      tags: ["admin"],
      security: [{ adminToken: [] }],
      response: { 200: text("Prometheus text exposition format.", "text/plain"), ...adminErrors },
    },
  },
  createAdminToken: {
    method: "POST",
    path: "/v1/admin-tokens",
    listener: "internal",
    auth: "admin",
    decoding: "json",
    schema: {
      operationId: "createAdminToken",
      summary: "Mint a scoped, expiring admin token (full admin token only)",
      tags: ["admin"],
      security: [{ adminToken: [] }],
      body: adminTokenRequestSchema,
      response: { 201: adminTokenResponseSchema, 400: error("Invalid scopes or ttl."), ...adminErrors },
    },
  },
  revokeAdminToken: {
    method: "DELETE",
    path: "/v1/admin-tokens/:id",
    listener: "internal",
    auth: "admin",
    decoding: "json",
    schema: {
      operationId: "revokeAdminToken",
      summary: "Revoke a scoped admin token by id (full admin token only)",
      tags: ["admin"],
      security: [{ adminToken: [] }],
      params: adminTokenIdParamsSchema,
      response: {
        204: empty("Revoked."),
        400: error("Invalid id."),
        ...adminErrors,
        404: error("No such admin token."),
      },
    },
  },
  caStatus: {
    method: "GET",
    path: "/v1/cas",
    listener: "internal",
    auth: "admin",
    decoding: "json",
    schema: {
      operationId: "getCaStatus",
      summary: "Every hub CA with its phase, live certificates and how many runtimes trust it",
      tags: ["ca"],
      security: [{ adminToken: [] }],
      response: { 200: caStatusSchema, ...adminErrors },
    },
  },
  caRotate: {
    method: "POST",
    path: "/v1/cas",
    listener: "internal",
    auth: "admin",
    decoding: "json",
    schema: {
      operationId: "rotateCa",
      summary: "Prepare the next CA (generated or imported): published in the trust bundle, not signing yet",
      tags: ["ca"],
      security: [{ adminToken: [] }],
      body: caRotateRequestSchema,
      response: {
        201: caStatusSchema,
        400: error("Bad CA certificate or key, or only one of them."),
        ...adminErrors,
        413: error("Body larger than --body-limit."),
        409: error("A next CA is prepared already, or this CA is known."),
      },
    },
  },
  caActivate: {
    method: "POST",
    path: "/v1/cas/activation",
    listener: "internal",
    auth: "admin",
    decoding: "json",
    schema: {
      operationId: "activateCa",
      summary: "The next CA signs from now on; the active one becomes retiring (still trusted)",
      tags: ["ca"],
      security: [{ adminToken: [] }],
      body: caActivateRequestSchema,
      response: {
        200: caStatusSchema,
        400: error("The body is not a CA reference."),
        ...adminErrors,
        404: error("No such CA."),
        409: error("No next CA, or this CA is not next."),
      },
    },
  },
  caRetire: {
    method: "POST",
    path: "/v1/cas/retirement",
    listener: "internal",
    auth: "admin",
    decoding: "json",
    schema: {
      operationId: "retireCa",
      summary: "Remove a retiring (or an unused next) CA from the trust bundle",
      description:
        "Refused while unexpired, unrevoked certificates it issued remain, unless `force`; a client certificate it issued is then refused `403`.",
      tags: ["ca"],
      security: [{ adminToken: [] }],
      body: caRetireRequestSchema,
      response: {
        200: caStatusSchema,
        400: error("The body is not a CA reference."),
        ...adminErrors,
        404: error("No such CA."),
        409: error("The CA is active or retired, or live certificates of it remain."),
      },
    },
  },
} as const satisfies Record<string, RouteSpec>;

export type RouteName = keyof typeof routes;

export const routeList: readonly RouteSpec[] = Object.values(routes);

/** The routes one listener serves. */
export function routesFor(listener: Listener): RouteSpec[] {
  return routeList.filter((route) => route.listener === listener);
}

/** Substitutes `:name` segments, URL-encoded; a missing parameter is a programming error. */
export function fillPath(path: string, params: Readonly<Record<string, string>> = {}): string {
  return path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`fillPath: parameter "${name}" of ${path} is missing`);
    return encodeURIComponent(value);
  });
}
