/**
 * The README and docs/ say what the code does: the README's configuration and metrics reference is
 * the one the flag tables and metric registries make, docs/openapi/ holds the documents the hub
 * serves, its two commands are the ones CI and the tests run, every relative link resolves, and code
 * comments cite docs/ rather than the specification that lived outside the repository.
 */
import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import t from "tap";
import { repoRoot } from "@tether/e2e/harness";
import { regenerate, staleOpenApiFiles } from "../../scripts/openapi.ts";
import { expectedReadme } from "../../scripts/reference.ts";

const readme = await readFile(join(repoRoot, "README.md"), "utf8");

t.test("the configuration and metrics reference is up to date", async (t) => {
  t.equal(readme, await expectedReadme(readme), "run ./dev node scripts/reference.ts --write");
  for (const name of [
    "--bootstrap-kubeconfig",
    "--cert-health-period",
    "--public-url",
    "tether_spoke_sync_total",
  ]) {
    t.match(readme, `\`${name}\``, `${name} is documented`);
  }
});

t.test("the README's two commands are what CI and the tests run", async (t) => {
  const quickStart = /## Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
  t.match(quickStart, /^\.\/dev demo\b/m, "the demo command");
  t.match(quickStart, /^\.\/dev test\b/m, "the test command");
  const ci = await readFile(join(repoRoot, ".ci/run"), "utf8");
  t.match(ci, /^exec \.\/dev test$/m, ".ci/run runs exactly ./dev test");
  const demoTest = await readFile(join(repoRoot, "e2e/test/demo.test.ts"), "utf8");
  t.match(
    demoTest,
    /spawn\(join\(repoRoot, "dev"\), \["demo", "--once"\]/,
    "the demo test runs ./dev demo --once",
  );
});

t.test("docs/openapi holds the OpenAPI documents the hub serves", async (t) => {
  t.same(await staleOpenApiFiles(), [], `stale OpenAPI documents; run: ${regenerate}`);
});

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to '-', repeats numbered. */
function headingSlugs(markdown: string): Set<string> {
  const slugs = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(markdown)) {
    const heading = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const text = heading.replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1");
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
      .replace(/ /g, "-");
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    slugs.add(count === 0 ? base : `${base}-${count}`);
  }
  return slugs;
}

/** The lines outside fenced code blocks. */
function proseLines(markdown: string): string[] {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split("\n")) {
    const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (marker !== undefined && (fence === undefined || marker.startsWith(fence))) {
      fence = fence === undefined ? marker : undefined;
      continue;
    }
    if (fence === undefined) lines.push(line);
  }
  return lines;
}

/** Targets of inline links and link definitions, outside code blocks and code spans. */
function linkTargets(markdown: string): string[] {
  const targets: string[] = [];
  for (const line of proseLines(markdown)) {
    const prose = line.replace(/(`+)[^`]*?\1/g, "");
    for (const match of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(match[1]!);
    const definition = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(\s|$)/.exec(prose)?.[1];
    if (definition !== undefined) targets.push(definition);
  }
  return targets;
}

/** Files under `dir` whose name `keep` accepts; dependencies and tool output are skipped. */
async function filesUnder(dir: string, keep: (name: string) => boolean): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && !["node_modules", ".tap", "coverage"].includes(entry.name))
      found.push(...(await filesUnder(path, keep)));
    else if (entry.isFile() && keep(entry.name)) found.push(path);
  }
  return found;
}

t.test("the slug rule is GitHub's", async (t) => {
  const slugs = headingSlugs(
    [
      "# The hub's HTTP API",
      "### `POST /v1/runtimes/{id}/bootstrap-kubeconfig`",
      "## Ready condition",
      "## Ready condition",
      "```",
      "## not a heading",
      "```",
      "## A [link](x.md) and status.error_text",
    ].join("\n"),
  );
  t.same(
    [...slugs],
    [
      "the-hubs-http-api",
      "post-v1runtimesidbootstrap-kubeconfig",
      "ready-condition",
      "ready-condition-1",
      "a-link-and-statuserror_text",
    ],
  );
});

t.test("every relative link in the README, e2e/README.md and docs/ resolves", async (t) => {
  const files = [
    join(repoRoot, "README.md"),
    join(repoRoot, "e2e/README.md"),
    ...(await filesUnder(join(repoRoot, "docs"), (name) => name.endsWith(".md"))),
  ];
  const slugCache = new Map<string, Set<string>>();
  const slugsOf = async (file: string) => {
    let slugs = slugCache.get(file);
    if (slugs === undefined) {
      slugs = headingSlugs(await readFile(file, "utf8"));
      slugCache.set(file, slugs);
    }
    return slugs;
  };
  const broken: string[] = [];
  let checked = 0;
  for (const file of files) {
    for (const target of linkTargets(await readFile(file, "utf8"))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      checked++;
      const [path = "", anchor] = target.split("#", 2);
      const linked = path === "" ? file : resolve(dirname(file), decodeURIComponent(path));
      const where = `${relative(repoRoot, file)}: ${target}`;
      if (!existsSync(linked)) broken.push(`${where} (no such file)`);
      else if (anchor !== undefined) {
        if (!linked.endsWith(".md")) broken.push(`${where} (an anchor into a file that is not Markdown)`);
        else if (!(await slugsOf(linked)).has(anchor)) broken.push(`${where} (no such heading)`);
      }
    }
  }
  t.ok(checked > 50, `links were found and checked (${checked})`);
  t.same(broken, [], "broken links");
});

/** Built from parts so that this file does not cite the old specification itself. */
const oldCitation = `SPEC ${"\u00a7"}`;

t.test("code cites docs/, not the specification outside the repository", async (t) => {
  const citations: string[] = [];
  for (const root of ["packages", "e2e"]) {
    for (const file of await filesUnder(join(repoRoot, root), () => true)) {
      const lines = (await readFile(file, "utf8")).split("\n");
      lines.forEach((line, i) => {
        if (line.includes(oldCitation)) citations.push(`${relative(repoRoot, file)}:${i + 1}`);
      });
    }
  }
  t.same(citations, [], `replace each "${oldCitation}x.y" with the docs/ section it means`);
});
