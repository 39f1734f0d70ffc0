/**
 * `GET /v1/api.yaml`: the OpenAPI 3 document @fastify/swagger builds from the route schemas of the
 * listener serving it, and `GET /v1` redirecting there. Each listener documents its own routes: the
 * runtime API and the admin API both have a `POST /v1/runtimes/certificates/revocations`, which one
 * document could not hold twice.
 */
import swagger from "@fastify/swagger";
import type { FastifyInstance } from "fastify";
import {
  openApiDocumentBase,
  refineOpenApiDocument,
  routes,
  swaggerRefResolver,
} from "@tether/shared/contract";
import type { HubRoutes } from "./context.ts";

/** Registers the collector; must run before the routes it documents are added. */
export async function registerOpenApi(app: FastifyInstance, title: string): Promise<void> {
  await app.register(swagger, {
    openapi: { ...openApiDocumentBase, info: { ...openApiDocumentBase.info, title } },
    refResolver: swaggerRefResolver,
    // The hub registers only the `openapi` option, so the document is always an OpenAPI 3 one.
    transformObject: (document) =>
      "openapiObject" in document ? refineOpenApiDocument(document.openapiObject) : document.swaggerObject,
  });
}

export const openApiRoutes: HubRoutes = (app, _ctx, done) => {
  app.route({
    method: routes.apiRoot.method,
    url: routes.apiRoot.path,
    schema: routes.apiRoot.schema,
    handler: (_request, reply) => reply.redirect(routes.apiDocument.path, 301),
  });
  app.route({
    method: routes.apiDocument.method,
    url: routes.apiDocument.path,
    schema: routes.apiDocument.schema,
    handler: (_request, reply) => reply.type("application/yaml").send(app.swagger({ yaml: true })),
  });
  done();
};
