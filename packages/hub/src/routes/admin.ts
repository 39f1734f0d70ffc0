/**
 * The internal/admin API (docs/api.md#admin-api): token URLs, bootstrap kubeconfigs, the runtime registry,
 * revocation by hash and metrics. Every route needs the admin bearer token unless the hub runs with
 * `--internal-auth=none`.
 */
import { randomUUID } from "node:crypto";
import fastifyJwt from "@fastify/jwt";
import type { FastifyRequest } from "fastify";
import {
  ErrorMessages,
  routes,
  tenantSchema,
  type AdminScope,
  type AdminTokenResponse,
  type RevocationByHashResponse,
  type RuntimeList,
  type TokenResponse,
} from "@tether/shared/contract";
import { buildBootstrapKubeconfig } from "@tether/shared/kubeconfig";
import { formatDuration, parseDuration } from "@tether/shared/time";
import { MAX_BOOTSTRAP_TOKEN_TTL_MS, MAX_TOKEN_TTL_MS } from "../config.ts";
import { HttpError, runtimeNotFound } from "../errors.ts";
import { DuplicateRuntimeError } from "../store/errors.ts";
import type { Runtime } from "../store/store.ts";
import { ScopedAdminTokens, isJwt } from "../tokens/scoped-admin.ts";
import { adminCaRoutes } from "./admin-ca.ts";
import { bearerToken } from "./bearer.ts";
import type { HubRoutes } from "./context.ts";
import { pageLimit, runtimePage } from "./runtime-page.ts";
import { runtimeView } from "./runtime-view.ts";

/** The rule of the contract's tenant and group schemas, for the headers of routes that do not declare them. */
const SUBJECT_VALUE = new RegExp(tenantSchema.pattern, "u");

declare module "fastify" {
  interface FastifyContextConfig {
    /** The scope a scoped admin token needs for this route; without one, only the full admin token. */
    scope?: AdminScope;
  }
}

export const adminRoutes: HubRoutes = (app, ctx, done) => {
  const { store, clock, tokens, urls, config, audit, metrics, serving } = ctx;
  void app.register(fastifyJwt, { secret: ctx.scopedAdminSecret });
  const scoped = new ScopedAdminTokens({ store, clock, jwt: () => app.jwt });

  if (config.internalAuth === "bearer") {
    app.addHook("onRequest", async (request) => {
      const token = bearerToken(request.headers.authorization);
      if (token === undefined) throw new HttpError(401, ErrorMessages.adminTokenRequired);
      if (isJwt(token)) await scoped.check(token, request.routeOptions.config.scope);
      else await tokens.checkAdmin(token);
    });
  }

  // The bodies of the POST routes are optional: an empty one reads as {}.
  app.addHook("preValidation", (request, _reply, done) => {
    if (request.method === "POST" && request.body === undefined) request.body = {};
    done();
  });

  /** The runtime to enrol: an existing one (same tenant and group), or a new one under `id`. */
  const runtimeFor = async (id: string, tenant: string, group: string, labels: Record<string, string>) => {
    const existing = await store.getRuntime(id);
    if (existing?.deletedAt) throw runtimeNotFound();
    if (existing) {
      if (existing.tenant !== tenant || existing.group !== group) {
        throw new HttpError(
          400,
          `Runtime "${id}" belongs to tenant "${existing.tenant}" and group "${existing.group}"; its subject cannot change.`,
        );
      }
      return existing;
    }
    const runtime: Runtime = {
      id,
      tenant,
      group,
      labels,
      createdAt: clock.now(),
      lastSeenAt: null,
      deletedAt: null,
    };
    try {
      await store.createRuntime(runtime);
    } catch (error) {
      // Two admins enrolling the same new id at once: the loser re-enrols the winner's runtime.
      if (error instanceof DuplicateRuntimeError) return runtimeFor(id, tenant, group, labels);
      throw error;
    }
    await audit.record("runtime.created", id, { tenant, group });
    return runtime;
  };

  /** Checked before anything is created: a refused ttl leaves no runtime behind. */
  const ttl = (text: string | undefined, fallback: number, max: number): number => {
    if (text === undefined) return fallback;
    const bounds = `ttl: must be more than 0 and at most ${formatDuration(max)}`;
    let ms: number;
    try {
      ms = parseDuration(text);
    } catch {
      throw new HttpError(400, bounds);
    }
    if (ms <= 0 || ms > max) throw new HttpError(400, bounds);
    return ms;
  };

  app.route({
    method: routes.createToken.method,
    url: routes.createToken.path,
    schema: routes.createToken.schema,
    config: { scope: "tokens:create" },
    handler: async (request, reply) => {
      const { tenant, group } = request.headers;
      const { runtime: id = randomUUID(), labels = {}, ttl: ttlText } = request.body;
      const lifetime = ttl(ttlText, config.tokenTtlMs, MAX_TOKEN_TTL_MS);
      const runtime = await runtimeFor(id, tenant, group, labels);
      // Labels given for an existing runtime replace its labels when the token is used (enrolment.ts).
      const token = await tokens.issue("info", runtime.id, lifetime, request.body.labels ?? null);
      const response: TokenResponse = { url: urls.csrInfo(token), token };
      return reply.code(201).send(response);
    },
  });

  app.route({
    method: routes.revokeByHash.method,
    url: routes.revokeByHash.path,
    schema: routes.revokeByHash.schema,
    config: { scope: "certificates:revoke" },
    handler: async (request, reply) => {
      const sha256 = request.body.hash.toLowerCase();
      // The certificate and every renewal made from it: a stolen certificate renewed before it was
      // revoked leaves nothing valid behind.
      const revoked = await store.revokeLineage({ sha256, revokedAt: clock.now(), reason: "admin" });
      const certificate = await store.getCertificate(sha256);
      await audit.record("certificate.revoked", certificate?.runtimeId ?? null, {
        sha256,
        by: "admin",
        revoked,
      });
      const response: RevocationByHashResponse = { revoked };
      return reply.code(201).send(response);
    },
  });

  app.route({
    method: routes.bootstrapKubeconfig.method,
    url: routes.bootstrapKubeconfig.path,
    schema: routes.bootstrapKubeconfig.schema,
    config: { scope: "bootstrap:create" },
    handler: async (request, reply) => {
      const lifetime = ttl(request.body.ttl, config.bootstrapTokenTtlMs, MAX_BOOTSTRAP_TOKEN_TTL_MS);
      const runtime = await existingOrNamed(request, request.params.id);
      const token = await tokens.issue("bootstrap", runtime.id, lifetime);
      const kubeconfig = buildBootstrapKubeconfig({
        server: urls.base,
        caPem: serving.current().caPem,
        token,
      });
      return reply.code(200).type("application/yaml").send(kubeconfig);
    },
  });

  /** Bootstrap kubeconfigs are made before the cluster first enrols: Tenant and Group headers create it. */
  const existingOrNamed = async (request: FastifyRequest, id: string): Promise<Runtime> => {
    const runtime = await store.getRuntime(id);
    if (runtime && !runtime.deletedAt) return runtime;
    const { tenant, group } = request.headers;
    if (runtime || typeof tenant !== "string" || typeof group !== "string") throw runtimeNotFound();
    if (![tenant, group].every((value) => SUBJECT_VALUE.test(value))) {
      throw new HttpError(400, "Tenant and Group: 1-64 printable ASCII characters, without ',' or '='.");
    }
    return runtimeFor(id, tenant, group, {});
  };

  app.route({
    method: routes.listRuntimes.method,
    url: routes.listRuntimes.path,
    schema: routes.listRuntimes.schema,
    config: { scope: "runtimes:read" },
    handler: async (request): Promise<RuntimeList> => {
      const after = request.query.continue ?? null;
      return runtimePage(store, after, pageLimit(request.query.limit), clock.now());
    },
  });

  app.route({
    method: routes.getRuntime.method,
    url: routes.getRuntime.path,
    schema: routes.getRuntime.schema,
    config: { scope: "runtimes:read" },
    handler: async (request) => {
      const runtime = await store.getRuntime(request.params.id);
      if (!runtime) throw runtimeNotFound();
      return runtimeView(store, runtime, clock.now());
    },
  });

  app.route({
    method: routes.deleteRuntime.method,
    url: routes.deleteRuntime.path,
    schema: routes.deleteRuntime.schema,
    config: { scope: "runtimes:delete" },
    handler: async (request, reply) => {
      const { id } = request.params;
      if (!(await store.deleteRuntime(id, clock.now()))) throw runtimeNotFound();
      await audit.record("runtime.deleted", id, { by: "admin" });
      return reply.code(204).send();
    },
  });

  app.route({
    method: routes.metrics.method,
    url: routes.metrics.path,
    schema: routes.metrics.schema,
    config: { scope: "metrics:read" },
    handler: async (_request, reply) => {
      return reply.type(metrics.registry.contentType).send(await metrics.collect());
    },
  });

  // No scope: minting and revoking scoped tokens needs the full admin token.
  app.route({
    method: routes.createAdminToken.method,
    url: routes.createAdminToken.path,
    schema: routes.createAdminToken.schema,
    handler: async (request, reply) => {
      const { scopes, ttl: ttlText } = request.body;
      const minted = await scoped.mint(scopes, ttl(ttlText, 0, MAX_BOOTSTRAP_TOKEN_TTL_MS));
      const response: AdminTokenResponse = {
        id: minted.id,
        token: minted.token,
        scopes,
        expiresAt: minted.expiresAt.toISOString(),
      };
      return reply.code(201).send(response);
    },
  });

  app.route({
    method: routes.revokeAdminToken.method,
    url: routes.revokeAdminToken.path,
    schema: routes.revokeAdminToken.schema,
    handler: async (request, reply) => {
      if (!(await scoped.revoke(request.params.id))) throw new HttpError(404, "No such admin token.");
      return reply.code(204).send();
    },
  });

  // A child plugin: the admin token hook above applies to it as well.
  void app.register(adminCaRoutes, ctx);
  done();
};
