/**
 * One watch request (`?watch=true`): the API server's stream of JSON lines, each an event
 * `{type, object}`, handed to onEvent; onDone is called once, when the stream ends (null), fails,
 * is aborted, or has been silent for inactivityMs (an error named TimeoutError): an idle watch
 * is then resumed by the caller, as client-node's Watch does. A status other than 200 fails with
 * the status in `statusCode`.
 */
import type { Open, Query } from "./transport.ts";

/** client-node's Watch timeout: the API server sends nothing on a watch where nothing changes. */
const inactivityMs = 30_000;

export type EventHandler = (type: string, object: never) => void;

export function watchStream(
  open: Open,
  path: string,
  query: Query,
  onEvent: EventHandler,
  onDone: (error: unknown) => void,
): AbortController {
  const controller = new AbortController();
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const finish = (error: unknown) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    controller.abort();
    onDone(error);
  };
  const quiet = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const timeout = new Error(`the watch of ${path} was silent for ${inactivityMs / 1000} s`);
      timeout.name = "TimeoutError";
      finish(timeout);
    }, inactivityMs);
    timer.unref();
  };
  quiet();
  open({ method: "GET", path, query: { ...query, watch: "true" }, signal: controller.signal }).then(
    (response) => {
      if (response.statusCode !== 200) {
        response.resume();
        const error = new Error(`the watch of ${path} was answered ${response.statusCode}`);
        finish(Object.assign(error, { statusCode: response.statusCode }));
        return;
      }
      quiet();
      let pending = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        quiet();
        pending += chunk;
        for (let end = pending.indexOf("\n"); end >= 0; end = pending.indexOf("\n")) {
          const line = pending.slice(0, end);
          pending = pending.slice(end + 1);
          const event = parse(line);
          if (event !== undefined) onEvent(event.type, event.object as never);
        }
      });
      response.on("error", finish);
      response.on("end", () => finish(null));
      response.on("close", () => finish(null));
    },
    finish,
  );
  return controller;
}

function parse(line: string): { type: string; object: unknown } | undefined {
  try {
    const event = JSON.parse(line) as { type?: unknown; object?: unknown };
    return typeof event.type === "string" ? { type: event.type, object: event.object } : undefined;
  } catch {
    // A line that is not JSON is not an event; the next one may be.
    return undefined;
  }
}
