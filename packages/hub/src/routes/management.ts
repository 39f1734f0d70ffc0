/**
 * The mTLS half of the runtime API (docs/api.md#mtls-routes): management info, renewal and revocation of the
 * calling certificate. Every route authenticates the client certificate before anything else,
 * revocation included, so a revoked certificate can do nothing at all.
 */
import { ErrorMessages, routes, type ManagementInfo } from "@tether/shared/contract";
import { HttpError } from "../errors.ts";
import type { ClientIdentity } from "../mtls/client-identity.ts";
import { certificateTemplate, type HubRoutes } from "./context.ts";
import { requestValue } from "./request-value.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The authenticated client certificate; set on the mTLS routes, before validation. */
    client: ClientIdentity;
  }
}

export const managementRoutes: HubRoutes = (app, ctx, done) => {
  const { clients, config, urls, issuer, store, clock, audit } = ctx;

  const client = requestValue<ClientIdentity>("client");
  app.decorateRequest("client", { getter: client.getter });
  // preValidation: an unauthenticated renewal is a 403 whatever its body says.
  app.addHook("preValidation", async (request) => {
    client.set(request, await clients.authenticate(request));
  });

  app.route({
    method: routes.managementInfo.method,
    url: routes.managementInfo.path,
    schema: routes.managementInfo.schema,
    handler: (request): ManagementInfo => {
      const { subject } = request.client;
      return {
        clientIdentity: { tenant: subject.O, group: subject.OU, runtimeId: subject.CN },
        urls: { renewCertUrl: urls.renewals, revokeCertUrl: urls.revocations },
        // The calling certificate's subject: exactly what a renewal CSR must carry.
        certificate: certificateTemplate(subject, config),
      };
    },
  });

  app.route({
    method: routes.renewCertificate.method,
    url: routes.renewCertificate.path,
    schema: routes.renewCertificate.schema,
    handler: async (request, reply) => {
      const { subject, certificate } = request.client;
      const csr = await issuer.check(request.body.csr, subject, certificate.runtimeId);
      // One certificate renewing again and again (a stolen key minting fresh ones) is bounded.
      const since = clock.now().getTime() - config.renewalLimit.windowMs;
      const recent = (await store.listCertificates(certificate.runtimeId)).filter(
        (c) => c.kind === "renewal" && c.issuedAt.getTime() > since,
      );
      if (recent.length >= config.renewalLimit.max)
        throw new HttpError(429, ErrorMessages.renewalsRateLimited);
      const renewed = await issuer.issue(csr, certificate.runtimeId, "renewal", certificate.sha256);
      return reply.code(201).send(renewed);
    },
  });

  app.route({
    method: routes.revokeOwnCertificate.method,
    url: routes.revokeOwnCertificate.path,
    schema: routes.revokeOwnCertificate.schema,
    handler: async (request, reply) => {
      const { certificate } = request.client;
      // Only this certificate: a spoke revokes its previous certificate once its renewal is in place,
      // and the renewal must survive that. Revoking a whole lineage is the admin's (revokeByHash).
      await store.revoke({ sha256: certificate.sha256, revokedAt: clock.now(), reason: "runtime request" });
      await audit.record("certificate.revoked", certificate.runtimeId, {
        sha256: certificate.sha256,
        serial: certificate.serial,
        by: "runtime",
      });
      return reply.code(201).send();
    },
  });
  done();
};
