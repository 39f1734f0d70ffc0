/**
 * The trust bundle route (docs/api.md#trust-bundle): what a spoke must trust while the hub's CA rotates.
 * mTLS like the management routes; each read is recorded per runtime (once per CA generation), so that
 * `tether-hub ca status` can say how many spokes already trust the next CA.
 */
import { routes, type TrustBundle } from "@tether/shared/contract";
import type { HubRoutes } from "./context.ts";

export const trustRoutes: HubRoutes = (app, ctx, done) => {
  const { clients, rotation, serving } = ctx;
  app.route({
    method: routes.trustBundle.method,
    url: routes.trustBundle.path,
    schema: routes.trustBundle.schema,
    handler: async (request): Promise<TrustBundle> => {
      const { certificate } = await clients.authenticate(request);
      // The generation recorded is the one served, even if a refresh lands in between.
      const generation = rotation.keyring.generation;
      const bundle = rotation.trustBundle(serving.current().caPem ?? "");
      await rotation.seen(certificate.runtimeId, generation);
      return bundle;
    },
  });
  done();
};
