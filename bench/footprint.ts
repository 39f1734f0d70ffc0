/**
 * What a spoke and a hub hold at idle, in the way a cluster would see them. For each variant (the
 * TypeScript sources or the bundle that ships, with and without the memory flags the images set)
 * it starts a fresh control plane (etcd + kube-apiserver), a hub (SQLite), applies a
 * CertificateRequest from `tether-hub token create -o yaml`, starts the spoke, waits until the
 * CentralConnection is Ready, lets both idle, and then reads from /proc/PID/status the RSS and the
 * anonymous RSS, and from each /metrics the V8 heap (used / committed). A bare
 * `node -e 'setInterval(()=>{},1e9)'` started at the beginning of the run is measured beside them.
 * "idle CPU" is the CPU time (/proc/PID/stat utime + stime) each used during the idle wait, as a
 * share of one core.
 * Start-up is timed from spawning the spoke: to `/readyz` ok, and to the Ready connection.
 *
 *   pnpm bench footprint [--wait SECONDS] [--quick] [--only sources|bundle] [--flags="..."]...
 *     --wait S     idle time before measuring (default 60); --quick is --wait 5
 *     --only B     one build only
 *     --flags=F    measure these Node flags instead of the defaults (space-separated, "" for none;
 *                  repeat it for more variants); NAME=VALUE words are environment variables
 *                  (e.g. --flags="MALLOC_ARENA_MAX=2 --max-semi-space-size=1")
 *     --bundles D  run the bundles in directory D (tether-hub.mjs, tether-spoke.mjs) instead of
 *                  building this checkout's, e.g. to compare with another build in one run
 *     --smaps      also print where the spoke's memory lies, by mapping, and V8's heap spaces
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { Agent, request } from "undici";
import { partsTable, smapsParts } from "./lib/smaps.ts";
import type { ControlPlane, ManagedProcess, ProgramBuild } from "@tether/e2e/harness";
import { freePorts, programPath, startControlPlane, startProcess } from "@tether/e2e/harness";

const run = promisify(execFile);

/**
 * What Dockerfile.spoke and charts/spoke give the spoke (docs/footprint.md says why); the hub's
 * image and chart keep --max-semi-space-size=1 alone. --jitless cannot run the sources: Node's
 * type stripper is WebAssembly.
 */
const shippedFlags = "MALLOC_ARENA_MAX=1 MALLOC_TRIM_THRESHOLD_=131072 --max-semi-space-size=1 --jitless";
const defaultFlags: Record<ProgramBuild, string[]> = {
  sources: ["", "--max-semi-space-size=1"],
  bundle: ["", "--max-semi-space-size=1", shippedFlags],
};

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg, i, all) => arg.startsWith("-") || all[i - 1]?.startsWith("-")),
  options: {
    wait: { type: "string" },
    quick: { type: "boolean" },
    only: { type: "string" },
    flags: { type: "string", multiple: true },
    smaps: { type: "boolean" },
    bundles: { type: "string" },
  },
});
const idleMs = values.quick ? 5_000 : Number(values.wait ?? 60) * 1000;
const builds: ProgramBuild[] =
  values.only === "sources" || values.only === "bundle" ? [values.only] : ["sources", "bundle"];
const flagSets = (build: ProgramBuild): string[][] =>
  (values.flags ?? defaultFlags[build]).map((f) => f.split(/\s+/).filter((x) => x !== ""));

interface Memory {
  rssMiB: number;
  anonMiB: number;
  heapUsedMiB?: number;
  heapCommittedMiB?: number;
}

interface Row {
  program: string;
  build: string;
  flags: string;
  memory: Memory;
  /** CPU time (user + system) over the idle wait, as a share of one core. */
  idleCpu?: number;
  readyzS?: number;
  readyS?: number;
}

const mib = (bytes: number) => bytes / 1024 / 1024;

/** utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15; 100 per second). */
async function cpuTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

async function procMemory(pid: number): Promise<Memory> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN);
  return { rssMiB: kib("VmRSS") / 1024, anonMiB: kib("RssAnon") / 1024 };
}

/** nodejs_heap_size_used_bytes / nodejs_heap_size_total_bytes from a Prometheus text page. */
async function heap(url: string, headers: Record<string, string> = {}): Promise<Partial<Memory>> {
  const response = await fetch(url, { headers });
  const text = await response.text();
  const gauge = (name: string) => {
    const value = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1];
    return value === undefined ? undefined : mib(Number(value));
  };
  return {
    heapUsedMiB: gauge("nodejs_heap_size_used_bytes"),
    heapCommittedMiB: gauge("nodejs_heap_size_total_bytes"),
  };
}

/** V8's heap spaces (used / committed) and the memory V8 knows of outside its heap, from /metrics. */
async function heapSpaces(url: string): Promise<string> {
  const text = await (await fetch(url)).text();
  const series = (name: string) =>
    new Map(
      [...text.matchAll(new RegExp(`^${name}\\{space="(\\w+)"\\} (\\S+)$`, "gm"))].map((m) => [
        m[1] ?? "",
        mib(Number(m[2])),
      ]),
    );
  const [used, size] = [
    series("nodejs_heap_space_size_used_bytes"),
    series("nodejs_heap_space_size_total_bytes"),
  ];
  const external = /^nodejs_external_memory_bytes (\S+)$/m.exec(text)?.[1];
  return [
    ...[...size].map(
      ([space, total]) => `  ${space}: ${(used.get(space) ?? 0).toFixed(1)} / ${total.toFixed(1)} MiB`,
    ),
    `  external (buffers, wasm memory): ${external === undefined ? "?" : mib(Number(external)).toFixed(1)} MiB`,
  ].join("\n");
}

async function until<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The CentralConnection's Ready condition, read straight from the API server (no kubectl per poll). */
function connectionReady(plane: ControlPlane, name: string): () => Promise<true | undefined> {
  const dispatcher = new Agent({ connect: { ca: plane.caPem } });
  return async () => {
    const response = await request(`${plane.server}/apis/tether.dev/v1alpha1/centralconnections/${name}`, {
      headers: { authorization: `Bearer ${plane.admin.token}` },
      dispatcher,
    });
    const body = (await response.body.json()) as {
      status?: { conditions?: { type: string; status: string }[] };
    };
    return body.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ? true : undefined;
  };
}

async function measureVariant(build: ProgramBuild, words: string[], index: number): Promise<Row[]> {
  const isEnv = (word: string) => /^[A-Z_][A-Z0-9_]*=/.test(word);
  const flags = words.filter((word) => !isEnv(word));
  const env: Record<string, string> = Object.fromEntries(
    words.filter(isEnv).map((word) => [word.slice(0, word.indexOf("=")), word.slice(word.indexOf("=") + 1)]),
  );
  const path = (program: "hub" | "spoke") =>
    build === "bundle" && values.bundles !== undefined
      ? join(values.bundles, `tether-${program}.mjs`)
      : programPath(program, build);
  const [hubCli, spokeCli] = [await path("hub"), await path("spoke")];
  const dir = await mkdtemp(join(tmpdir(), "tether-bench-footprint-"));
  const processes: ManagedProcess[] = [];
  const plane = await startControlPlane();
  try {
    await plane.installCrds();
    const namespace = "tether-system";
    await plane.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } });

    const [external, internal, health, metrics] = await freePorts(4);
    const internalUrl = `http://127.0.0.1:${internal}`;
    const dataDir = join(dir, "hub");
    const hub = startProcess({
      name: "hub",
      cmd: process.execPath,
      env,
      args: [
        ...flags,
        hubCli,
        "serve",
        ...["--listen", `127.0.0.1:${external}`, "--internal-listen", `127.0.0.1:${internal}`],
        ...["--public-url", `https://127.0.0.1:${external}`, "--data-dir", dataDir, "--store", "sqlite"],
      ],
    });
    processes.push(hub);
    await until("the hub's /readyz was not ok", 60_000, async () =>
      (await fetch(`${internalUrl}/readyz`)).ok ? true : undefined,
    );
    const adminToken = (await readFile(join(dataDir, "admin-token"), "utf8")).trim();

    const name = `footprint-${index}`;
    const { stdout: yaml } = await run(process.execPath, [
      hubCli,
      ...["token", "create", "--tenant", "bench", "--group", "idle", "--name", name, "-o", "yaml"],
      ...["--internal-url", internalUrl, "--admin-token", adminToken],
    ]);
    await plane.kubectl(["apply", "-f", "-"], { input: yaml });

    const started = performance.now();
    const spoke = startProcess({
      name: "spoke",
      cmd: process.execPath,
      env,
      args: [
        ...flags,
        spokeCli,
        "run",
        ...["--kubeconfig", plane.kubeconfigPath, "--namespace", namespace],
        ...["--hub-ca-file", join(dataDir, "ca.crt")],
        ...["--health-addr", `127.0.0.1:${health}`, "--metrics-addr", `127.0.0.1:${metrics}`],
      ],
    });
    processes.push(spoke);
    const readyz = until("the spoke's /readyz was not ok", 60_000, async () =>
      (await fetch(`http://127.0.0.1:${health}/readyz`)).ok ? performance.now() - started : undefined,
    );
    const isReady = connectionReady(plane, name);
    const ready = until(`CentralConnection ${name} was not Ready`, 90_000, async () =>
      (await isReady()) ? performance.now() - started : undefined,
    );
    const [readyzMs, readyMs] = await Promise.all([readyz, ready]);

    const idleFrom = [await cpuTicks(spoke.pid), await cpuTicks(hub.pid), performance.now()] as const;
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    const idleSeconds = (performance.now() - idleFrom[2]) / 1000;
    const share = async (pid: number, from: number) => ((await cpuTicks(pid)) - from) / 100 / idleSeconds;
    const [spokeCpu, hubCpu] = [await share(spoke.pid, idleFrom[0]), await share(hub.pid, idleFrom[1])];
    for (const proc of processes) {
      if (!proc.running()) throw new Error(`${proc.name} exited while idle:\n${proc.logs()}`);
    }
    // /proc first: scraping /metrics allocates in the process it measures.
    const [spokeProc, hubProc] = [await procMemory(spoke.pid), await procMemory(hub.pid)];
    const spokeHeap = await heap(`http://127.0.0.1:${metrics}/metrics`);
    const hubHeap = await heap(`${internalUrl}/metrics`, { authorization: `Bearer ${adminToken}` });
    if (values.smaps) {
      console.log(
        partsTable(`spoke, ${build}, ${words.join(" ") || "no flags"}:`, await smapsParts(spoke.pid)),
      );
      console.log(await heapSpaces(`http://127.0.0.1:${metrics}/metrics`));
    }
    const errors = spoke.logs().match(/"level":(50|60)/g)?.length ?? 0;
    if (errors > 0) console.error(`note: the spoke logged ${errors} error(s) in this variant`);
    const label = words.length === 0 ? "-" : words.join(" ");
    return [
      {
        program: "spoke",
        build,
        flags: label,
        memory: { ...spokeProc, ...spokeHeap },
        idleCpu: spokeCpu,
        readyzS: readyzMs / 1000,
        readyS: readyMs / 1000,
      },
      { program: "hub", build, flags: label, memory: { ...hubProc, ...hubHeap }, idleCpu: hubCpu },
    ];
  } finally {
    for (const proc of processes.reverse()) await proc.stop();
    await plane.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function table(rows: Row[]): string {
  const header = [
    "program",
    "build",
    "flags",
    "RSS MiB",
    "anon MiB",
    "heap used/committed MiB",
    "idle CPU",
    "/readyz s",
    "Ready s",
  ];
  const cells = rows.map((row) => [
    row.program,
    row.build,
    row.flags,
    row.memory.rssMiB.toFixed(1),
    row.memory.anonMiB.toFixed(1),
    row.memory.heapUsedMiB === undefined
      ? "-"
      : `${row.memory.heapUsedMiB.toFixed(1)} / ${row.memory.heapCommittedMiB?.toFixed(1) ?? "?"}`,
    row.idleCpu === undefined ? "-" : `${(row.idleCpu * 100).toFixed(1)} %`,
    row.readyzS?.toFixed(2) ?? "",
    row.readyS?.toFixed(2) ?? "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]?.length ?? 0)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...cells.map(line)].join("\n");
}

const bare = startProcess({
  name: "bare node",
  cmd: process.execPath,
  args: ["-e", "setInterval(()=>{},1e9)"],
});
const rows: Row[] = [];
try {
  let index = 0;
  for (const build of builds) {
    for (const flags of flagSets(build)) {
      console.error(
        `measuring ${build} ${flags.join(" ") || "(no flags)"}: idle ${idleMs / 1000} s after Ready`,
      );
      rows.push(...(await measureVariant(build, flags, index++)));
    }
  }
  rows.unshift({ program: "node -e", build: "-", flags: "-", memory: await procMemory(bare.pid) });
} finally {
  await bare.stop();
}
console.log(`Node ${process.version}, idle ${idleMs / 1000} s after the connection was Ready\n`);
console.log(table(rows));
