/**
 * `GET /healthz` (the process answers) and `GET /readyz` (the store answers and the signing CA is
 * within its validity) on both listeners, without authentication, for probes and load balancers.
 */
import { errorBodySchema } from "@tether/shared/contract";
import type { HubContext, HubRoutes } from "./context.ts";

const { $id: _errorBodyId, ...errorShape } = errorBodySchema;

const statusSchema = {
  type: "object",
  required: ["status"],
  properties: { status: { type: "string" } },
} as const;

export const healthRoutes: HubRoutes = (app, ctx, done) => {
  app.get(
    "/healthz",
    { schema: { summary: "Liveness", tags: ["health"], response: { 200: statusSchema } } },
    () => ({ status: "ok" }),
  );
  app.get(
    "/readyz",
    {
      schema: {
        summary: "Readiness: store and CA usable",
        tags: ["health"],
        response: { 200: statusSchema, 503: errorShape },
      },
    },
    async (_request, reply) => {
      const problem = await notReady(ctx);
      if (problem === undefined) return { status: "ready" };
      return reply.code(503).send({ code: 503, error: problem });
    },
  );
  done();
};

async function notReady(ctx: HubContext): Promise<string | undefined> {
  try {
    await ctx.store.ping();
  } catch (error) {
    return `Store not writable: ${((error as Error).cause as Error | undefined)?.message ?? (error as Error).message}`;
  }
  const now = ctx.clock.now();
  const ca = ctx.keyring.active.cert;
  if (now < ca.notBefore || now >= ca.notAfter) return "The signing CA is outside its validity period.";
  return undefined;
}
