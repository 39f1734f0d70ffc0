import { durationSchema } from "./fields.ts";

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

/** Operations whose body may be left out entirely (every field is optional and the hub reads none as `{}`). */
export const optionalBodyOperations: readonly string[] = [
  "createToken",
  "createBootstrapKubeconfig",
  // No body: a CA generated with the hub's key algorithm; the next CA activated.
  "rotateCa",
  "activateCa",
];

/**
 * The `ttl` the document promises: durations in canonical form (units in descending order, each part
 * below the next unit, whole numbers), more than 0 and at most the route's bound; the hub also reads
 * other spellings of the same durations ("90s", "1.5h"). A pattern cannot sum free-form parts, so
 * the document names the canonical subset: every value it allows is one the hub takes.
 */
const parts = "(?:(?:1?\\d|2[0-3])h)?(?:[1-5]?\\dm)?(?:[1-5]?\\ds)?(?:\\d{1,3}ms)?";
/** More than 0 and at most 1d (MAX_TOKEN_TTL_MS). */
export const ttlDayPattern = `^(?:1d|24h|(?=.*[1-9])${parts})$`;
/** More than 0 and at most 365d (MAX_BOOTSTRAP_TOKEN_TTL_MS). */
export const ttlYearPattern = `^(?:365d|(?=.*[1-9])(?:(?:[1-2]?\\d?\\d|3[0-5]\\d|36[0-4])d)?${parts})$`;
/** Operations whose `ttl` is at most 1d; the others' is at most 365d. */
const dayTtlOperations: readonly string[] = ["createToken"];

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null;

/** Every schema object below `value`, depth first. */
function* schemas(value: unknown): Generator<Json> {
  if (Array.isArray(value)) for (const item of value) yield* schemas(item);
  else if (isObject(value)) {
    yield value;
    for (const child of Object.values(value)) yield* schemas(child);
  }
}

/**
 * `@fastify/swagger`'s `transformObject` option: the document says what the routes really accept
 * where the route schemas are kept loose on purpose, so that the handlers answer with their own
 * messages (Kyma's exact 400 for a `csr` that is no base64, docs/api.md#errors; "ttl: must be more
 * than 0 and at most …"), and marks the bodies that may be left out (@fastify/swagger always
 * writes `requestBody.required: true`).
 */
export function refineOpenApiDocument(document: Json): Json {
  const paths = isObject(document.paths) ? document.paths : {};
  for (const path of Object.values(paths)) {
    if (!isObject(path)) continue;
    for (const operation of Object.values(path)) {
      if (!isObject(operation)) continue;
      if (!isObject(operation.requestBody)) continue;
      if (optionalBodyOperations.includes(String(operation.operationId))) {
        operation.requestBody.required = false;
      }
      for (const schema of schemas(operation.requestBody)) {
        if (schema.pattern === durationSchema.pattern) {
          const day = dayTtlOperations.includes(String(operation.operationId));
          schema.pattern = day ? ttlDayPattern : ttlYearPattern;
        }
        const properties = isObject(schema.properties) ? schema.properties : {};
        // An empty `csr` is refused with Kyma's base64 message.
        if (isObject(properties.csr)) properties.csr.minLength = 1;
      }
    }
  }
  return document;
}
