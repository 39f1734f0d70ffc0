/**
 * How request bodies are read (docs/api.md#decoding; the rule is `BodyDecoding` in the contract).
 * On the routes Kyma's Connector Service also has, a body is JSON whatever its Content-Type (Kyma's
 * Go clients send none, `curl -d` sends a form type) and its keys match the schema's fields the way
 * Go's encoding/json matches struct fields; tether's own routes take `application/json` only.
 */
import type { FastifyInstance } from "fastify";
import { routesFor, type Listener } from "@tether/shared/contract";
import { HttpError } from "./errors.ts";

export function decodeBodies(app: FastifyInstance, listener: Listener): void {
  const goRoutes = new Set(
    routesFor(listener)
      .filter((route) => route.decoding === "go")
      .map((route) => `${route.method} ${route.path}`),
  );
  const json = app.getDefaultJsonParser("error", "error");
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "string" }, (request, body, done) => {
    const text = body.toString();
    const go = goRoutes.has(`${request.method} ${request.routeOptions.url}`);
    const schema = request.routeOptions.schema?.body;
    if (!go && !isJson(request.headers["content-type"])) {
      // An unknown route is a 404, whatever it was sent.
      if (request.is404) return done(null, undefined);
      return done(new HttpError(415, "Unsupported Media Type: send the body as application/json."));
    }
    // A route without a body ignores whatever it was sent, as Kyma's revocation does; an empty body
    // reads as none (Kyma clients POST revocations with an empty body, some with a JSON type).
    if ((go && schema === undefined) || text.trim() === "") return done(null, undefined);
    // The default parser is synchronous and calls done; its type also allows a promise.
    void json(request, text, (error, value: unknown) => {
      if (error) done(new HttpError(400, `The body is not valid JSON: ${error.message}`, { cause: error }));
      else done(null, go ? goFields(value, schema) : value);
    });
  });
}

function isJson(contentType: string | undefined): boolean {
  const mediaType = contentType?.split(";")[0]?.trim().toLowerCase();
  return mediaType === "application/json";
}

/**
 * The object as Go's encoding/json would fill a struct with the schema's fields: a key matches a
 * field by exact name or else case-insensitively, a later key overwrites an earlier one for the same
 * field, unknown keys are dropped. A closed schema is tether's own and left to strict validation.
 */
export function goFields(value: unknown, schema: unknown): unknown {
  if (!isObject(value) || !isObject(schema) || schema.additionalProperties === false) return value;
  if (!isObject(schema.properties)) return value;
  const fields = Object.keys(schema.properties);
  const byFold = new Map(fields.map((field) => [goFold(field), field]));
  const result: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(value)) {
    const field = fields.includes(key) ? key : byFold.get(goFold(key));
    if (field !== undefined) result[field] = child;
  }
  return result;
}

/**
 * Go's key folding (encoding/json foldName): ASCII letters upper-cased, every other character
 * replaced by the smallest one of its simple case-folding set, so that "ſ" (long s) matches "s" and
 * the Kelvin sign matches "k", as in Go. The set is approximated by the character's single-character
 * upper and lower cases, which covers those two.
 */
export function goFold(name: string): string {
  let out = "";
  for (const char of name) {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x80) {
      out += char.toUpperCase();
      continue;
    }
    const upper = char.toUpperCase();
    const lower = char.toLowerCase();
    const candidates = [char, upper, lower, upper.toLowerCase(), lower.toUpperCase()].filter(
      (c) => [...c].length === 1,
    );
    out += candidates.reduce((a, b) => ((a.codePointAt(0) ?? 0) <= (b.codePointAt(0) ?? 0) ? a : b));
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
