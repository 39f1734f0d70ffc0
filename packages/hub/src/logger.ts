/**
 * The hub's pino logger, shared by both listeners. Tokens must never reach a log line (docs/tokens.md#tokens-never-logged):
 * request URLs are logged with the `token` query value (and anything shaped like a token) replaced,
 * and Authorization headers, should anything log headers, are redacted.
 */
import type { IncomingMessage } from "node:http";
import { pino, type Logger } from "pino";

export const REDACTED = "[redacted]";

/** A token's text (256 bits in base64url) standing alone, wherever it appears in a URL. */
const TOKEN_TEXT = /(?<![\w-])[\w-]{43}(?![\w-])/g;

/**
 * `/v1/...?token=abc&x=1` → `/v1/...?token=[redacted]&x=1`. Parameters are judged by the name the
 * query parser reads (`tok%65n` and `+token` are `token` too), not by their text; and anything
 * shaped like a token is replaced wherever it stands, in the path as well.
 */
export function redactUrl(url: string): string {
  const at = url.indexOf("?");
  const path = (at === -1 ? url : url.slice(0, at)).replace(TOKEN_TEXT, REDACTED);
  if (at === -1) return path;
  const query = url
    .slice(at + 1)
    .split("&")
    .map((pair) => {
      const name = pair.split("=", 1)[0]!;
      if (decodeName(name).trim().toLowerCase() === "token") return `${name}=${REDACTED}`;
      return pair.replace(TOKEN_TEXT, REDACTED);
    });
  return `${path}?${query.join("&")}`;
}

function decodeName(name: string): string {
  const text = name.replaceAll("+", " ");
  try {
    return decodeURIComponent(text);
  } catch {
    // The query parser keeps what it cannot decode and decodes the rest; so does this.
    return text.replace(/%[0-9a-f]{2}/gi, (escape) => String.fromCharCode(parseInt(escape.slice(1), 16)));
  }
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
