/**
 * The parts of the OpenAPI document that are not per route: the hub passes this as
 * `@fastify/swagger`'s `openapi` option so that the `security` names used in `routes` resolve.
 * OpenAPI 3.0 has no mutual-TLS scheme; mTLS routes say so in their description instead.
 */
export const openApiDocumentBase = {
  openapi: "3.0.3",
  info: {
    title: "tether hub runtime API",
    description: "Wire-compatible with the Kyma Connector Service runtime API v1.",
    version: "1",
  },
  components: {
    securitySchemes: {
      oneTimeToken: { type: "apiKey", in: "query", name: "token", description: "One-time token." },
      bootstrapToken: {
        type: "http",
        scheme: "bearer",
        description: "Bootstrap token from a bootstrap kubeconfig.",
      },
      adminToken: { type: "http", scheme: "bearer", description: "Admin token of the internal API." },
    },
  },
} as const;

/**
 * `@fastify/swagger`'s `refResolver` option: names the document's components after the schemas'
 * `$id`s ("CertificateTemplate") instead of "def-0".
 */
export const swaggerRefResolver = {
  buildLocalReference(
    json: Record<string, unknown>,
    _baseUri: unknown,
    _fragment: unknown,
    i: number,
  ): string {
    return typeof json.$id === "string" ? json.$id : `def-${i}`;
  },
};
