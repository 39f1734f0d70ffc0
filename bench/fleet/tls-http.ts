/**
 * One HTTP/1.1 exchange on a TLS socket, written and parsed by hand: the simulator plays 100k spokes
 * on the cores the hub needs, so a request costs a write and a header scan, not a client library's
 * dispatcher, pool and body stream. Enough HTTP for the hub's answers: a status line and a
 * Content-Length body.
 */
import type { TLSSocket } from "node:tls";

export interface Answer {
  status: number;
  body: string;
}

const HEADER_END = Buffer.from("\r\n\r\n");

export function requestText(
  method: "GET" | "POST",
  path: string,
  options: { close: boolean; body?: string },
): string {
  const lines = [`${method} ${path} HTTP/1.1`, "Host: localhost", "Accept: application/json"];
  if (options.close) lines.push("Connection: close");
  if (options.body !== undefined) {
    lines.push("Content-Type: application/json", `Content-Length: ${Buffer.byteLength(options.body)}`);
  }
  return `${lines.join("\r\n")}\r\n\r\n${options.body ?? ""}`;
}

/** Writes `text` and resolves with the answer; rejects on close, error or `timeoutMs`. */
export function exchange(socket: TLSSocket, text: string, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let received: Buffer = Buffer.alloc(0);
    let need = -1;
    let status = 0;
    let bodyStart = 0;
    const finish = (error: Error | undefined, answer?: Answer) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.off("error", onError);
      if (error) reject(error);
      else resolve(answer!);
    };
    const onData = (chunk: Buffer) => {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      if (need < 0) {
        const end = received.indexOf(HEADER_END);
        if (end < 0) return;
        const head = received.subarray(0, end).toString("latin1");
        status = Number(head.slice(9, 12));
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (!length) return finish(new Error(`answer ${status} without Content-Length`));
        bodyStart = end + HEADER_END.length;
        need = bodyStart + Number(length[1]);
      }
      if (received.length >= need) {
        finish(undefined, { status, body: received.subarray(bodyStart, need).toString("utf8") });
      }
    };
    const onClose = () => finish(new Error("connection closed before the answer"));
    const onError = (error: Error) => finish(error);
    const timer = setTimeout(() => {
      finish(new Error("timeout"));
      socket.destroy();
    }, timeoutMs);
    socket.on("data", onData);
    socket.once("close", onClose);
    socket.once("error", onError);
    socket.write(text);
  });
}
