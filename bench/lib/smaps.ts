/**
 * Where a process's resident memory lies, by mapping (/proc/PID/smaps), for `bench footprint
 * --smaps`. File-backed pages (the node binary, shared libraries) are shared by every process of an
 * image; the anonymous ones are the process's own. Unnamed anonymous mappings are told apart by
 * their shape only: executable ones hold machine code (V8's code space, WebAssembly), the rest is
 * V8's heap pages, malloc's arenas and thread stacks together.
 */
import { readFile } from "node:fs/promises";

interface Mapping {
  perms: string;
  path: string;
  kib: Record<string, number>;
}

export interface Part {
  part: string;
  mappings: number;
  rssKiB: number;
  anonKiB: number;
}

export async function smapsParts(pid: number): Promise<Part[]> {
  const maps: Mapping[] = [];
  for (const line of (await readFile(`/proc/${pid}/smaps`, "utf8")).split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      maps.push({ perms: head[1] ?? "", path: head[2] ?? "", kib: {} });
      continue;
    }
    const field = /^(\w+):\s+(\d+) kB/.exec(line);
    const current = maps.at(-1);
    if (field && current) current.kib[field[1] ?? ""] = Number(field[2]);
  }
  const parts = new Map<string, Part>();
  for (const map of maps) {
    const part = partOf(map);
    const entry = parts.get(part) ?? { part, mappings: 0, rssKiB: 0, anonKiB: 0 };
    entry.mappings += 1;
    entry.rssKiB += map.kib.Rss ?? 0;
    entry.anonKiB += map.kib.Anonymous ?? 0;
    parts.set(part, entry);
  }
  return [...parts.values()].filter((p) => p.rssKiB > 0).sort((a, b) => b.rssKiB - a.rssKiB);
}

function partOf(map: Mapping): string {
  if (map.path.startsWith("/")) {
    const file = map.path.split("/").pop() ?? map.path;
    if (file === "node") return map.perms.includes("x") ? "node binary: code" : "node binary: data";
    return "shared libraries";
  }
  if (map.path !== "") return map.path === "[heap]" ? "malloc main arena ([heap])" : map.path;
  return map.perms.includes("x") ? "anonymous, executable (JIT code)" : "anonymous (V8 heap, malloc, stacks)";
}

export function partsTable(title: string, parts: Part[]): string {
  const mib = (kib: number) => (kib / 1024).toFixed(1).padStart(6);
  return [
    title,
    ...parts.map((p) => `  ${mib(p.rssKiB)} RSS ${mib(p.anonKiB)} anon  ${p.part} (${p.mappings} mappings)`),
  ].join("\n");
}
