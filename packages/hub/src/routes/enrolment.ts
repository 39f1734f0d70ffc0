/**
 * The token half of the runtime API (docs/api.md#token-routes): exchange a one-time (or bootstrap) token for CSR
 * info and a CSR token, then exchange the CSR token and a CSR for a certificate.
 */
import type { CsrInfo } from "@tether/shared/contract";
import { routes } from "@tether/shared/contract";
import { invalidToken, tokenNotProvided } from "../errors.ts";
import type { Runtime, TokenRecord } from "../store/store.ts";
import { bearerToken } from "./bearer.ts";
import { certificateTemplate, runtimeSubject, type HubRoutes } from "./context.ts";
import { requestValue } from "./request-value.ts";

interface CsrToken {
  token: string;
  record: TokenRecord;
}

declare module "fastify" {
  interface FastifyRequest {
    /** The csr token of an issue request, checked (not yet used) before the body is validated. */
    csrToken: CsrToken;
  }
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return (
    keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && b[key] === a[key])
  );
}

/** An empty `token` is no token. */
const given = (token: string | undefined): string | undefined => (token === "" ? undefined : token);

export const enrolmentRoutes: HubRoutes = (app, ctx, done) => {
  const { tokens, store, config, urls, issuer, audit } = ctx;
  const rateLimit = { max: config.rateLimit.max, timeWindow: config.rateLimit.windowMs };
  const csrToken = requestValue<CsrToken>("csrToken");
  app.decorateRequest("csrToken", { getter: csrToken.getter });

  /** A deleted runtime keeps its tokens in the store, but can no longer enrol. */
  const enrollableRuntime = async (id: string): Promise<Runtime> => {
    const runtime = await store.getRuntime(id);
    if (!runtime || runtime.deletedAt !== null) throw invalidToken();
    return runtime;
  };

  app.route({
    method: routes.csrInfo.method,
    url: routes.csrInfo.path,
    schema: routes.csrInfo.schema,
    config: { rateLimit },
    handler: async (request): Promise<CsrInfo> => {
      const oneTime = given(request.query.token);
      const bootstrap = bearerToken(request.headers.authorization);
      let token: string;
      let purpose: "info" | "bootstrap";
      if (oneTime !== undefined) [token, purpose] = [oneTime, "info"];
      else if (bootstrap !== undefined) [token, purpose] = [bootstrap, "bootstrap"];
      else throw tokenNotProvided();
      const record = await tokens.peek(token, purpose);
      const runtime = await enrollableRuntime(record.runtimeId);
      // A re-enrolment token's labels replace the runtime's, in the transaction that uses the token.
      const relabel =
        record.labels !== null && !sameLabels(record.labels, runtime.labels) ? record.labels : undefined;
      // The CSR token is stored in the transaction that uses the info token: one never exists without the other.
      const csrToken = tokens.mint("csr", runtime.id, config.tokenTtlMs);
      await tokens.spend(token, purpose, {
        token: csrToken.record,
        labels: relabel && { runtimeId: runtime.id, labels: relabel },
        audit: relabel
          ? [audit.event("runtime.labels.replaced", runtime.id, { from: runtime.labels, to: relabel })]
          : [],
      });
      return {
        csrUrl: urls.csr(csrToken.token),
        api: { infoUrl: urls.managementInfo, certificatesUrl: urls.certificates },
        certificate: certificateTemplate(runtimeSubject(runtime, config), config),
      };
    },
  });

  app.route({
    method: routes.issueCertificate.method,
    url: routes.issueCertificate.path,
    schema: routes.issueCertificate.schema,
    config: { rateLimit },
    // Before validation: a request without a valid token is a 403 whatever its body says.
    preValidation: async (request) => {
      const token = given(request.query.token);
      if (token === undefined) throw tokenNotProvided();
      csrToken.set(request, { token, record: await tokens.peek(token, "csr") });
    },
    handler: async (request, reply) => {
      const { token, record } = request.csrToken;
      const runtime = await enrollableRuntime(record.runtimeId);
      const csr = await issuer.check(request.body.csr, runtimeSubject(runtime, config), runtime.id);
      const signed = await issuer.sign(csr, runtime.id, "initial");
      // Only now is the token used, in the transaction that stores the certificate: of many requests
      // carrying it, exactly one gets past this line, and a failed write leaves it usable.
      await tokens.spend(token, "csr", { certificate: signed.certificate, audit: signed.audit });
      issuer.issued(signed);
      return reply.code(201).send(signed.response);
    },
  });
  done();
};
