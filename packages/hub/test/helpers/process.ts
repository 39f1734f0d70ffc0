/**
 * The hub as an operator runs it: `node packages/hub/src/cli.ts serve` in a child process, the other
 * CLI commands, and curl/openssl. Children are stopped by their own pid when the test ends.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { Test } from "tap";

export const CLI = fileURLToPath(new URL("../../src/cli.ts", import.meta.url));
const run = promisify(execFile);

export interface HubProcess {
  child: ChildProcess;
  publicUrl: string;
  internalUrl: string;
  output: () => string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** A port that was free a moment ago, for hubs that must come back on the same address. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function spawnHub(
  t: Test,
  args: string[],
  /** startTimeoutMs: how long to wait for "tether hub ready" (default 30 s). */
  options: { env?: Record<string, string>; cwd?: string; startTimeoutMs?: number } = {},
): Promise<HubProcess> {
  const child = spawn(process.execPath, [CLI, "serve", ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  while (!output.includes("tether hub ready")) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`hub did not start (exit ${child.exitCode}):\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    child,
    publicUrl: /public URL (\S+)/.exec(output)![1]!,
    internalUrl: /internal API:\s+(\S+)/.exec(output)![1]!,
    output: () => output,
    async stop() {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

/** Runs a CLI command other than serve; resolves with stdout, rejects with stderr in the message. */
export async function cli(args: string[], env: Record<string, string> = {}): Promise<string> {
  try {
    const { stdout } = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    return stdout;
  } catch (error) {
    const { stderr, code } = error as { stderr: string; code: number };
    throw new Error(`tether-hub ${args.join(" ")} exited ${code}: ${stderr}`, { cause: error });
  }
}

export async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const { stdout } = await run("curl", ["-sS", "-w", "\n%{http_code}", ...args]);
  const at = stdout.lastIndexOf("\n");
  return { status: Number(stdout.slice(at + 1)), body: stdout.slice(0, at) };
}

export async function openssl(args: string[]): Promise<string> {
  return (await run("openssl", args)).stdout;
}
