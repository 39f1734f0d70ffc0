/**
 * The CA operations of the admin API (docs/api.md#ca-rotation): status, rotate (prepare the next CA),
 * activate, retire. Registered inside the admin plugin, so the admin token check applies; scopes
 * `ca:read` and `ca:manage` let automation do these without the full admin token.
 */
import { routes, type CaStatus } from "@tether/shared/contract";
import type { HubRoutes } from "./context.ts";

export const adminCaRoutes: HubRoutes = (app, ctx, done) => {
  const { rotation } = ctx;

  app.route({
    method: routes.caStatus.method,
    url: routes.caStatus.path,
    schema: routes.caStatus.schema,
    config: { scope: "ca:read" },
    handler: (): Promise<CaStatus> => rotation.status(),
  });

  app.route({
    method: routes.caRotate.method,
    url: routes.caRotate.path,
    schema: routes.caRotate.schema,
    config: { scope: "ca:manage" },
    handler: async (request, reply) => {
      await rotation.prepare(request.body, "admin");
      return reply.code(201).send(await rotation.status());
    },
  });

  app.route({
    method: routes.caActivate.method,
    url: routes.caActivate.path,
    schema: routes.caActivate.schema,
    config: { scope: "ca:manage" },
    handler: async (request): Promise<CaStatus> => {
      await rotation.activate(request.body.sha256, "admin");
      return rotation.status();
    },
  });

  app.route({
    method: routes.caRetire.method,
    url: routes.caRetire.path,
    schema: routes.caRetire.schema,
    config: { scope: "ca:manage" },
    handler: async (request): Promise<CaStatus> => {
      await rotation.retire(request.body.sha256, { force: request.body.force ?? false, by: "admin" });
      return rotation.status();
    },
  });
  done();
};
