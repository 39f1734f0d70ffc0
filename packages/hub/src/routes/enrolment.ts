/**
 * The token half of the runtime API (SPEC §2.2): exchange a one-time (or bootstrap) token for CSR
 * info and a CSR token, then exchange the CSR token and a CSR for a certificate.
 */
import type { FastifyInstance, FastifyRequest } from "fastify";
import { routes, type CsrInfo, type CsrRequest, type TokenQuery } from "@tether/shared/contract";
import { invalidToken, tokenNotProvided } from "../errors.ts";
import type { Runtime, TokenRecord } from "../store/store.ts";
import { certificateTemplate, runtimeSubject, type HubContext } from "./context.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The csr token of an issue request, checked (not yet used) before the body is validated. */
    csrToken: TokenRecord | null;
  }
}

function queryToken(request: FastifyRequest): string | undefined {
  const token = (request.query as TokenQuery).token;
  return token === undefined || token === "" ? undefined : token;
}

function bearerToken(request: FastifyRequest): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? "");
  return match?.[1];
}

export function enrolmentRoutes(app: FastifyInstance, ctx: HubContext): void {
  const { tokens, store, config, urls, issuer } = ctx;
  const rateLimit = { max: config.rateLimit.max, timeWindow: config.rateLimit.windowMs };

  /** A deleted runtime keeps its tokens in the store, but can no longer enrol. */
  const enrollableRuntime = async (id: string): Promise<Runtime> => {
    const runtime = await store.getRuntime(id);
    if (!runtime || runtime.deletedAt !== null) throw invalidToken();
    return runtime;
  };

  app.decorateRequest("csrToken", null);

  app.route({
    method: routes.csrInfo.method,
    url: routes.csrInfo.path,
    schema: routes.csrInfo.schema,
    config: { rateLimit },
    handler: async (request): Promise<CsrInfo> => {
      const oneTime = queryToken(request);
      const bootstrap = oneTime === undefined ? bearerToken(request) : undefined;
      if (oneTime === undefined && bootstrap === undefined) throw tokenNotProvided();
      const record =
        oneTime !== undefined
          ? await tokens.consume(oneTime, "info")
          : await tokens.consume(bootstrap!, "bootstrap");
      const runtime = await enrollableRuntime(record.runtimeId);
      const csrToken = await tokens.issue("csr", runtime.id, config.tokenTtlMs);
      return {
        csrUrl: urls.csr(csrToken),
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
      const token = queryToken(request);
      if (token === undefined) throw tokenNotProvided();
      request.csrToken = await tokens.peek(token, "csr");
    },
    handler: async (request, reply) => {
      const runtime = await enrollableRuntime(request.csrToken!.runtimeId);
      const csr = await issuer.check(
        (request.body as CsrRequest).csr,
        runtimeSubject(runtime, config),
        runtime.id,
      );
      // Only now is the token used: of many requests carrying it, exactly one gets past this line.
      await tokens.consume(queryToken(request)!, "csr");
      return reply.code(201).send(await issuer.issue(csr, runtime.id, "initial"));
    },
  });
}
