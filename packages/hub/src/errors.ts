/**
 * The hub's one error type. Whatever refuses a request throws an HttpError; the error handler in
 * http.ts turns it, and Fastify's own errors (validation, body limit, 404), into the `{code, error}`
 * body of docs/api.md#errors.
 */
import { ErrorMessages } from "@tether/shared/contract";

export class HttpError extends Error {
  readonly statusCode: number;

  constructor(statusCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "HttpError";
    this.statusCode = statusCode;
  }
}

export const invalidToken = (): HttpError => new HttpError(403, ErrorMessages.invalidToken);
export const tokenNotProvided = (): HttpError => new HttpError(403, ErrorMessages.tokenNotProvided);
export const runtimeNotFound = (): HttpError => new HttpError(404, ErrorMessages.runtimeNotFound);
