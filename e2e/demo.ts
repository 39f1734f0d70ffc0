#!/usr/bin/env node
/**
 * `./dev demo [--once]` (= `pnpm demo`): the whole product on one machine, from nothing to a Ready
 * connection — a local control plane (etcd + kube-apiserver + kube-controller-manager), the hub and
 * the spoke as child processes, a one-time token turned into a CertificateRequest, a curl with the
 * certificate the spoke obtained, and a Deployment that rolls when that certificate is renewed. It then keeps everything running for `kubectl` and `tether-hub` until Ctrl-C, or
 * with `--once` tears it all down and exits 0. Any failure names its step and exits non-zero.
 */
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { constants, tmpdir } from "node:os";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { onAbnormalExit } from "./harness/cleanup.ts";
import { repoRoot, startControlPlane } from "./harness/index.ts";
import type { ControlPlane, ManagedProcess } from "./harness/index.ts";
import { curlCommand, runCurl, waitForReady, writeCredentials } from "./demo/connection.ts";
import { certificateRequestYaml, hubCli, startHub } from "./demo/hub.ts";
import type { DemoHub } from "./demo/hub.ts";
import { Progress, StepFailure, detail, say, seconds } from "./demo/progress.ts";
import { rollOnRenewal } from "./demo/rollout.ts";
import { spokeCli, spokeNamespace, startSpoke } from "./demo/spoke.ts";
import type { DemoSpoke } from "./demo/spoke.ts";

const USAGE = `usage: node e2e/demo.ts [--once] [--ready-timeout SECONDS]
  --once             tear everything down after the connection is Ready and the curl worked; exit 0
  --ready-timeout S  how long to wait for the CentralConnection to be Ready (default 90)`;

const connectionName = "demo-local";

interface Running {
  dir?: string;
  plane?: ControlPlane;
  hub?: DemoHub;
  spoke?: DemoSpoke;
}
const running: Running = {};
let teardownDone: Promise<void> | undefined;

/** Spoke first (it talks to both), then hub, then the control plane, then the demo dir; idempotent. */
function teardown(): Promise<void> {
  teardownDone ??= (async () => {
    await running.spoke?.process.stop();
    await running.hub?.process.stop();
    await running.plane?.stop();
    if (running.dir !== undefined) await rm(running.dir, { recursive: true, force: true });
  })();
  return teardownDone;
}

/** Tokens must not reach the terminal, even inside a process's log. */
function redact(text: string): string {
  return text.replace(/token=[^&\s"']+/g, "token=<redacted>");
}

function tailOf(proc: ManagedProcess | undefined, lines = 30): string | undefined {
  if (proc === undefined) return undefined;
  const text = proc.logs().trimEnd();
  if (text === "") return `--- ${proc.name}: no output ---`;
  return `--- last lines of ${proc.name} ---\n${redact(text.split("\n").slice(-lines).join("\n"))}`;
}

async function main(once: boolean, readyTimeoutMs: number): Promise<ManagedProcess[]> {
  const progress = new Progress(9);
  const dir = await mkdtemp(join(tmpdir(), "tether-demo-"));
  running.dir = dir;
  // The hub's CA key lives here: removed even if the demo is killed between steps.
  onAbnormalExit(() => rmSync(dir, { recursive: true, force: true }));
  say(`demo dir ${dir}${once ? " (--once: removed at the end)" : ""}`);

  const plane = await progress.step(
    "starting the local control plane (etcd + kube-apiserver + kube-controller-manager)",
    async () => {
      const started = await startControlPlane({ controllerManager: true });
      running.plane = started;
      const t = started.timings;
      const binaries = t.binariesCached ? "binaries cached" : `binaries built in ${seconds(t.binariesMs)}`;
      detail(`${started.server} (${binaries}; ready in ${seconds(t.readyMs)})`);
      return started;
    },
  );

  await progress.step("installing the CRDs from charts/spoke/crds", async () => {
    detail((await plane.installCrds()).join(", "));
  });

  const hub = await progress.step("starting the hub (tether-hub serve, SQLite store)", async () => {
    running.hub = await startHub(join(dir, "hub"));
    detail(`runtime API ${running.hub.publicUrl}, internal API ${running.hub.internalUrl}`);
    detail(`program ${relative(repoRoot, hubCli)}, the bundle the hub image ships`);
    return running.hub;
  });

  const spoke = await progress.step(
    `starting the spoke (tether-spoke run -n ${spokeNamespace})`,
    async () => {
      await plane.apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: spokeNamespace } });
      running.spoke = await startSpoke({ kubeconfig: plane.kubeconfigPath, hubCaFile: hub.caFile });
      detail(`health ${running.spoke.healthUrl}/livez`);
      detail(`program ${relative(repoRoot, spokeCli)}, the bundle the spoke image ships`);
      return running.spoke;
    },
  );

  await progress.step("creating a one-time token and applying the CertificateRequest", async () => {
    const yaml = await certificateRequestYaml(hub, connectionName);
    await plane.kubectl(["apply", "-f", "-"], { input: yaml });
    // The YAML holds the token URL, a credential: only the name is shown.
    detail(`tether-hub token create --tenant demo --group local -o yaml | kubectl apply -f -`);
    detail(`CertificateRequest ${connectionName} applied`);
  });

  const connection = await progress.step("waiting for the CentralConnection to be Ready", () =>
    waitForReady(plane, connectionName, readyTimeoutMs),
  );

  const url = connection.spec?.managementInfoUrl ?? `${hub.publicUrl}/v1/runtimes/management/info`;
  const files = await progress.step("calling the hub with the issued client certificate", async () => {
    detail(
      `$ kubectl get centralconnections\n${(await plane.kubectl(["get", "centralconnections"])).stdout}`,
    );
    const written = await writeCredentials(plane, connection, join(dir, "credentials"));
    detail(`$ ${curlCommand(written, url)}\n${await runCurl(written, url)}`);
    return written;
  });

  await progress.step("rolling a Deployment that uses the credential (renewNow)", async () => {
    const secretName = connection.spec?.secretRef?.name ?? `${connectionName}-hub-credentials`;
    const rolled = await rollOnRenewal(plane, connectionName, secretName);
    detail(`Deployment demo-app annotated tether.dev/restart-on-change=${secretName}; renewNow set`);
    detail(`Event: ${rolled.event}`);
    detail(`$ kubectl rollout history deployment/demo-app -n ${spokeNamespace}\n${rolled.history}`);
  });

  await progress.step("the demo is up", () => {
    detail(
      [
        `export KUBECONFIG=${plane.kubeconfigPath}`,
        `hub public URL:   ${hub.publicUrl}`,
        `hub internal URL: ${hub.internalUrl}`,
        `hub data dir:     ${hub.dataDir}`,
        `  ./dev pnpm tether-hub runtimes list --internal-url ${hub.internalUrl} --data-dir ${hub.dataDir}`,
        `client credentials: ${files.dir}/{tls.crt,tls.key,ca.crt}`,
        `processes: etcd ${plane.pids.etcd}, kube-apiserver ${plane.pids.kubeApiserver}, hub ${hub.process.pid}, spoke ${spoke.process.pid}, kube-controller-manager ${plane.pids.kubeControllerManager}`,
      ].join("\n"),
    );
  });
  say(`ready in ${progress.elapsed()}`);
  return [hub.process, spoke.process];
}

function onSignal(signal: NodeJS.Signals, up: () => boolean): void {
  say(`${signal}: stopping the spoke, the hub and the control plane...`);
  void teardown().finally(() => {
    say("stopped");
    process.exit(up() ? 0 : 128 + constants.signals[signal]);
  });
}

async function cli(): Promise<number> {
  let values;
  try {
    values = parseArgs({
      options: {
        once: { type: "boolean", default: false },
        "ready-timeout": { type: "string", default: "90" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) return (console.log(USAGE), 0);
  const readyTimeout = Number(values["ready-timeout"]);
  if (!(readyTimeout > 0)) return (console.error(`--ready-timeout: seconds\n${USAGE}`), 2);

  let up = false;
  let stopRequested: () => void = () => {};
  const stopped = new Promise<void>((resolve) => (stopRequested = resolve));
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      stopRequested();
      onSignal(signal, () => up);
    });
  }

  try {
    const children = await main(values.once, readyTimeout * 1000);
    up = true;
    if (!values.once) {
      say("running; Ctrl-C stops the spoke, the hub and the control plane and removes their files");
      const exit = await Promise.race([
        stopped.then(() => undefined),
        ...children.map((child) => child.exited.then((status) => ({ child, status }))),
      ]);
      if (exit === undefined) return (await teardown(), 0); // onSignal exits the same way
      const { child, status } = exit;
      console.error(`[demo] FAILED: the ${child.name} exited (${status.signal ?? `code ${status.code}`})`);
      console.error(tailOf(child));
      await teardown();
      return 1;
    }
    await teardown();
    say(`--once: everything stopped and removed; total ${seconds(performance.now())}`);
    return 0;
  } catch (error) {
    const step = error instanceof StepFailure ? error.step : "start";
    console.error(`[demo] FAILED at step ${step}: ${redact((error as Error).message)}`);
    for (const proc of [running.hub?.process, running.spoke?.process]) {
      const tail = tailOf(proc);
      if (tail !== undefined) console.error(tail);
    }
    await teardown();
    return 1;
  }
}

process.exitCode = await cli();
