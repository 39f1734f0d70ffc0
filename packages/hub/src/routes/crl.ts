/**
 * `GET /v1/crl/<issuer>.crl`: each trusted CA's CRL, DER, without authentication, as the CRL
 * Distribution Point of the certificates it issues names it. Served from the publisher's cache, with
 * an ETag and Last-Modified so that a client holding the current copy gets a `304`.
 */
import type { FastifyRequest } from "fastify";
import { routes } from "@tether/shared/contract";
import type { PublishedCrl } from "../ca/crl.ts";
import { HttpError } from "../errors.ts";
import type { HubRoutes } from "./context.ts";

export const crlRoutes: HubRoutes = (app, { crls }, done) => {
  app.route({
    method: routes.crl.method,
    url: routes.crl.path,
    schema: routes.crl.schema,
    handler: async (request, reply) => {
      const crl = await crls.crl(request.params.issuer);
      if (crl === undefined) throw new HttpError(404, "No trusted hub CA has this SHA-256.");
      reply
        .header("etag", crl.etag)
        .header("last-modified", crl.thisUpdate.toUTCString())
        .header("expires", crl.nextUpdate.toUTCString())
        // Clients may keep it, but ask again (cheaply, with the validators) before relying on it.
        .header("cache-control", "no-cache");
      if (notModified(request, crl)) return reply.code(304).send();
      return reply.type("application/pkix-crl").send(crl.der);
    },
  });
  done();
};

/** RFC 9110 §13.1: If-None-Match decides when present; otherwise If-Modified-Since. */
function notModified(request: FastifyRequest, crl: PublishedCrl): boolean {
  const { "if-none-match": ifNoneMatch, "if-modified-since": ifModifiedSince } = request.headers;
  if (ifNoneMatch !== undefined) {
    return ifNoneMatch
      .split(",")
      .map((tag) => tag.trim().replace(/^W\//, ""))
      .some((tag) => tag === "*" || tag === crl.etag);
  }
  if (ifModifiedSince === undefined) return false;
  const since = Date.parse(ifModifiedSince);
  return !Number.isNaN(since) && crl.thisUpdate.getTime() <= since;
}
