/**
 * The build stage of Dockerfile.hub / Dockerfile.spoke performed on the host, because this machine
 * has a Docker client but no engine: its COPY steps from the repository into a temporary directory
 * (standing in for the image's /app) and its pnpm steps there, with the toolchain's pnpm (the
 * version corepack would fetch from package.json's packageManager). A step it does not know fails
 * the test rather than being skipped, so the Dockerfile cannot drift from what is checked.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, readFile } from "node:fs/promises";
import { basename, join, relative } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "@tether/e2e/harness";

const run = promisify(execFile);

export interface Instruction {
  op: string;
  args: string;
}

export interface Stage {
  from: string;
  instructions: Instruction[];
}

/** Stages of a Dockerfile, continuation lines joined, comments dropped. */
export function parseDockerfile(text: string): Stage[] {
  const lines = text.replace(/\\\n/g, " ").split("\n");
  const stages: Stage[] = [];
  for (const line of lines.map((l) => l.trim())) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([A-Z]+)\s+(.*)$/.exec(line);
    if (!match?.[1] || match[2] === undefined) throw new Error(`cannot read Dockerfile line: ${line}`);
    const [op, args] = [match[1], match[2]];
    if (op === "FROM") stages.push({ from: args, instructions: [] });
    else stages.at(-1)?.instructions.push({ op, args });
  }
  return stages;
}

/** The image's /app, built into `into`; returns the steps it ran, for the test's log. */
export async function performBuildStage(stage: Stage, into: string): Promise<string[]> {
  let workdir = into;
  const env: Record<string, string> = {};
  const steps: string[] = [];
  for (const { op, args } of stage.instructions) {
    if (op === "WORKDIR") {
      workdir = join(into, relative("/app", args));
      await mkdir(workdir, { recursive: true });
    } else if (op === "ENV") {
      for (const [, key, value] of args.matchAll(/([A-Z_]+)=(\S+)/g)) env[key ?? ""] = value ?? "";
    } else if (op === "COPY") {
      const parts = args.split(/\s+/);
      if (parts.some((p) => p.startsWith("--")))
        throw new Error(`COPY with options is not performed here: ${args}`);
      const dest = parts.pop() ?? "";
      for (const source of parts) {
        const target = dest.endsWith("/") ? join(workdir, dest, basename(source)) : join(workdir, dest);
        await cp(join(repoRoot, source), target, {
          recursive: true,
          filter: (path) => !path.split("/").includes("node_modules"),
        });
      }
      steps.push(`COPY ${args}`);
    } else if (op === "RUN" && args === "corepack enable") {
      steps.push("RUN corepack enable (the toolchain's pnpm instead)");
    } else if (op === "RUN" && args.startsWith("pnpm ")) {
      await run("sh", ["-c", args], {
        cwd: workdir,
        env: { ...process.env, ...env },
        maxBuffer: 16 * 1024 * 1024,
      });
      steps.push(`RUN ${args}`);
    } else {
      throw new Error(`Dockerfile step not performed by this test: ${op} ${args}`);
    }
  }
  return steps;
}

export async function readDockerfile(name: string): Promise<Stage[]> {
  return parseDockerfile(await readFile(join(repoRoot, name), "utf8"));
}
