/**
 * The hub's pino logger, shared by both listeners. Tokens must never reach a log line (SPEC §2.4):
 * request URLs are logged with the `token` query value replaced, and Authorization headers, should
 * anything log headers, are redacted.
 */
import type { IncomingMessage } from "node:http";
import { pino, type Logger } from "pino";

export const REDACTED = "[redacted]";

/** `/v1/...?token=abc&x=1` → `/v1/...?token=[redacted]&x=1`. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]token=)[^&#]*/gi, `$1${REDACTED}`);
}

interface LoggedRequest {
  method?: string;
  url?: string;
  ip?: string;
  raw?: IncomingMessage;
}

export function createLogger(options: { level: string; destination?: NodeJS.WritableStream }): Logger {
  return pino(
    {
      level: options.level,
      redact: {
        paths: ["req.headers.authorization", "headers.authorization", "token", "*.token"],
        censor: REDACTED,
      },
      serializers: {
        req: (req: LoggedRequest) => ({
          method: req.method,
          url: redactUrl(req.url ?? ""),
          remoteAddress: req.ip ?? req.raw?.socket?.remoteAddress,
        }),
      },
    },
    options.destination as pino.DestinationStream | undefined,
  );
}
