/**
 * Dockerfile.hub / Dockerfile.spoke performed on the host, because this machine has a Docker client
 * but no engine. The build stage: its COPY steps from the repository into a temporary directory
 * (standing in for the image's /app), its pnpm steps there with the toolchain's pnpm (the version
 * corepack would fetch from package.json's packageManager) and its `node` steps (the bundle) with
 * this Node. The runtime stage: its `COPY --from=build` into another directory standing in for the
 * image's root, which holds nothing else (no node_modules above it). A step it does not know fails
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
      for (const [, key, value] of args.matchAll(/([A-Z_]+)=("[^"]*"|\S+)/g))
        env[key ?? ""] = (value ?? "").replace(/^"(.*)"$/, "$1");
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
    } else if (op === "RUN" && (args.startsWith("pnpm ") || args.startsWith("node "))) {
      const command = args.startsWith("node ") ? `"${process.execPath}" ${args.slice(5)}` : args;
      await run("sh", ["-c", command], {
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

export interface RuntimeImage {
  /** The image's WORKDIR on this host. */
  workdir: string;
  env: Record<string, string>;
  entrypoint: string[];
  cmd: string[];
  /** Steps not performed because they need root or only describe the image (RUN mkdir/chown, USER, EXPOSE). */
  skipped: string[];
}

/** The runtime stage's files, copied from the build stage's `/app` (`buildDir`) into `into` (`/`). */
export async function performRuntimeStage(
  stage: Stage,
  buildDir: string,
  into: string,
): Promise<RuntimeImage> {
  const image: RuntimeImage = { workdir: into, env: {}, entrypoint: [], cmd: [], skipped: [] };
  const onHost = (path: string) => join(into, relative("/", path));
  for (const { op, args } of stage.instructions) {
    if (op === "WORKDIR") {
      image.workdir = onHost(args);
    } else if (op === "ENV") {
      for (const [, key, value] of args.matchAll(/([A-Z_]+)=("[^"]*"|\S+)/g))
        image.env[key ?? ""] = (value ?? "").replace(/^"(.*)"$/, "$1");
    } else if (op === "COPY" && args.startsWith("--from=build ")) {
      const parts = args.slice("--from=build ".length).split(/\s+/);
      const dest = parts.pop() ?? "";
      for (const source of parts) {
        if (!source.startsWith("/app/")) throw new Error(`COPY --from=build outside /app: ${source}`);
        const target = dest.endsWith("/") ? join(onHost(dest), basename(source)) : onHost(dest);
        await cp(join(buildDir, relative("/app", source)), target, { recursive: true });
      }
    } else if (op === "ENTRYPOINT" || op === "CMD") {
      image[op === "ENTRYPOINT" ? "entrypoint" : "cmd"] = JSON.parse(args) as string[];
    } else if (op === "USER" || op === "EXPOSE" || (op === "RUN" && /^mkdir -p \S+ && chown /.test(args))) {
      image.skipped.push(`${op} ${args}`);
    } else {
      throw new Error(`Dockerfile step not performed by this test: ${op} ${args}`);
    }
  }
  return image;
}

export async function readDockerfile(name: string): Promise<Stage[]> {
  return parseDockerfile(await readFile(join(repoRoot, name), "utf8"));
}
