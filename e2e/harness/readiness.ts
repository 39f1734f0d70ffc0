/** Polls kube-apiserver's /readyz until every check passes, as the admin (anonymous may be off). */
import { request } from "node:https";
import type { ManagedProcess } from "./process.ts";
import { tail } from "./process.ts";

function readyz(server: string, caPem: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${server}/readyz`,
      { ca: caPem, headers: { authorization: `Bearer ${token}` }, timeout: 5000 },
      (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
}

export async function waitForReady(opts: {
  server: string;
  caPem: string;
  token: string;
  processes: ManagedProcess[];
  timeoutMs: number;
}): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let last: string;
  for (;;) {
    const dead = opts.processes.find((p) => !p.running());
    if (dead) {
      const status = await dead.exited;
      throw new Error(
        `${dead.name} exited during start-up (code ${status.code}, signal ${status.signal}):\n${tail(dead.logs())}`,
      );
    }
    try {
      const answer = await readyz(opts.server, opts.caPem, opts.token);
      if (answer.status === 200) return;
      last = `HTTP ${answer.status}: ${answer.body.trim()}`;
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) {
      const logs = opts.processes.map((p) => `--- ${p.name} ---\n${tail(p.logs(), 20)}`).join("\n");
      throw new Error(`kube-apiserver not ready within ${opts.timeoutMs} ms; last /readyz: ${last}\n${logs}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
}
