/**
 * What both listeners share: the one error handler that gives every non-2xx answer the
 * `{"code": <status>, "error": "<message>"}` body (docs/api.md#errors), a 404 in the same shape, the body
 * decoding of body-decoding.ts, connection draining on shutdown, and the request-duration metric.
 */
import { maxHeaderSize, STATUS_CODES } from "node:http";
import type { Duplex } from "node:stream";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ErrorMessages, type ErrorBody, type Listener } from "@tether/shared/contract";
import { decodeBodies } from "./body-decoding.ts";
import type { ConnectionLimits } from "./config.ts";
import { HttpError } from "./errors.ts";
import { StoreUnavailableError } from "./store/errors.ts";
import type { HubMetrics } from "./metrics.ts";

export function errorBody(error: FastifyError | HttpError | Error): ErrorBody {
  const fastifyError = error as Partial<FastifyError>;
  let code = 500;
  if (error instanceof HttpError) code = error.statusCode;
  else if (error instanceof StoreUnavailableError) code = 503;
  else if (fastifyError.validation) code = 400;
  else if (fastifyError.statusCode !== undefined && fastifyError.statusCode >= 400)
    code = fastifyError.statusCode;
  switch (code) {
    case 413:
      return { code, error: ErrorMessages.bodyTooLarge };
    case 429:
      return { code, error: error instanceof HttpError ? error.message : ErrorMessages.rateLimited };
    case 503:
      return { code, error: error instanceof HttpError ? error.message : ErrorMessages.storeUnavailable };
    case 500:
      // Internals (store, CA) stay in the log.
      return { code, error: "Internal server error." };
    default:
      return { code, error: error.message };
  }
}

function handleError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const body = errorBody(error);
  if (body.code >= 500 && !(error instanceof HttpError)) request.log.error({ err: error }, "request failed");
  else request.log.info({ status: body.code, error: body.error }, "request refused");
  return reply.code(body.code).send(body);
}

/**
 * A path parameter is judged by its route schema alone, so an over-long id is a `400` naming its
 * `maxLength` like any other invalid parameter (docs/api.md#errors), not first by the router's own
 * limit (100 characters, a `414` outside the contract). The router's limit is set to Node's header
 * limit: the request line counts against it (a `431` beyond), so no parameter reaches the router's.
 */
export const routerOptions = { maxParamLength: maxHeaderSize };

/**
 * Errors Fastify meets before a route runs (Fastify's `frameworkErrors` option): a URL whose
 * percent-encoding is broken. The path is not repeated: it may hold a token.
 */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const body: ErrorBody =
    error.code === "FST_ERR_BAD_URL"
      ? { code: 400, error: "The URL is not valid: broken percent-encoding." }
      : errorBody(error);
  void reply.code(body.code).send(body);
}

/**
 * What the HTTP parser refuses before Fastify sees a request (the node server's `clientError`):
 * headers over the size limit, a request that is not HTTP, a request timeout. The answer is written to
 * the socket by hand, in the same `{code, error}` shape, and the connection closed.
 */
export function clientErrorHandler(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === "ECONNRESET" || socket.destroyed) return;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  let body: ErrorBody;
  if (error.code === "HPE_HEADER_OVERFLOW")
    body = { code: 431, error: "Request header fields are too large." };
  else if (error.code === "ERR_HTTP_REQUEST_TIMEOUT") body = { code: 408, error: "Request timeout." };
  else body = { code: 400, error: "Malformed HTTP request." };
  const text = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${body.code} ${STATUS_CODES[body.code]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

/**
 * How long the node server lets a connection be slow or silent (docs/hub.md#start-it): `node` goes to
 * the node server's options, `fastify` to Fastify's. Header and request timeouts are checked by one
 * sweep per server (connectionsCheckingInterval), not a timer per socket; idle and keep-alive are the
 * socket's own timeout, re-armed at each request and answer.
 */
export function connectionOptions(limits: ConnectionLimits) {
  return {
    node: {
      requireHostHeader: false,
      headersTimeout: limits.headerTimeoutMs,
      // How often Node looks for requests past their header or request timeout.
      connectionsCheckingInterval: Math.min(limits.headerTimeoutMs, 5000),
    },
    fastify: {
      requestTimeout: limits.requestTimeoutMs,
      connectionTimeout: limits.idleTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
    },
  };
}

export function setupInstance(
  app: FastifyInstance,
  options: { listener: Listener; metrics: HubMetrics; closing: () => boolean },
): void {
  const { listener, metrics, closing } = options;
  app.setErrorHandler(handleError);
  // Node answers a request without Host with an empty 400 unless told not to (app.ts turns that
  // off with requireHostHeader: false); the refusal is made here, in the contract's shape.
  app.addHook("onRequest", (request, _reply, done) => {
    done(request.headers.host === undefined ? new HttpError(400, "Host header required.") : undefined);
  });
  // A path served with other methods is a 405 naming them (Allow), not a 404.
  const served: { pattern: RegExp; method: string }[] = [];
  app.addHook("onRoute", (route) => {
    const pattern = new RegExp(`^${route.url.replace(/:[^/]+/g, "[^/]+")}$`);
    for (const method of [route.method].flat()) served.push({ pattern, method });
  });
  // Before the body is parsed: a method the path does not take is refused whatever its body.
  app.addHook("onRequest", (request, reply, done) => {
    if (!request.is404) return done();
    const path = request.url.split("?")[0] ?? "";
    const allowed = [...new Set(served.filter((r) => r.pattern.test(path)).map((r) => r.method))];
    // A method the path's pattern takes but the router did not match (e.g. a parameter holding a
    // newline) is no 405 "use GET" to a GET: it falls through to the 404.
    if (allowed.length === 0 || allowed.includes(request.method)) return done();
    void reply.header("allow", allowed.join(", "));
    done(new HttpError(405, `Method ${request.method} not allowed; use ${allowed.join(" or ")}.`));
  });
  app.setNotFoundHandler((request, reply) => {
    // The path only: the query may hold a token.
    const path = request.url.split("?")[0];
    return reply.code(404).send({ code: 404, error: `Route ${request.method} ${path} not found.` });
  });
  decodeBodies(app, listener);

  // Requests arriving on keep-alive connections after shutdown began are refused in the usual shape
  // (Fastify's own 503 has another body; app.ts turns it off), so that a client retries elsewhere.
  app.addHook("onRequest", (_request, _reply, done) => {
    done(closing() ? new HttpError(503, "The hub is shutting down; retry.") : undefined);
  });

  // While shutting down, a keep-alive connection ends with the answer in flight: otherwise close()
  // would wait for the client to hang up or for the keep-alive timeout.
  app.addHook("onSend", (_request, reply, payload, done) => {
    if (closing()) reply.header("connection", "close");
    done(null, payload);
  });

  app.addHook("onResponse", async (request, reply) => {
    request.log.debug(
      { req: request, res: { statusCode: reply.statusCode }, responseTime: reply.elapsedTime },
      "request completed",
    );
    metrics.requestDuration.observe(
      {
        listener,
        method: request.method,
        route: request.routeOptions.url ?? "unmatched",
        status_code: String(reply.statusCode),
      },
      reply.elapsedTime / 1000,
    );
  });
}
