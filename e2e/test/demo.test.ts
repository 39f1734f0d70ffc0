/**
 * `./dev demo --once`, the README's demo command, the way a user runs it: it exits 0, prints every step, ends with a Ready
 * CentralConnection and a curl that the hub answered with the client's identity, and leaves no
 * process and no directory behind.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { isAlive, repoRoot } from "@tether/e2e/harness";

const timeoutMs = 5 * 60_000;

function runDemo(): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(repoRoot, "dev"), ["demo", "--once"], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")));
    // SIGTERM lets the demo clean up what it started; what is left is then this test's finding.
    const timer = setTimeout(() => child.kill("SIGTERM"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

/** Processes whose command line mentions `text` (a directory only the demo's processes use). */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").replaceAll("\0", " ");
      if (cmdline.includes(text)) found.push(`${entry}: ${cmdline}`);
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

t.test("the demo reaches a Ready connection, calls the hub and cleans up", async (t) => {
  const { code, signal, output } = await runDemo();
  if (code !== 0) t.comment(output);
  t.equal(code, 0, `exit 0 (got ${signal ?? code})`);

  const titles = [
    "starting the local control plane (etcd + kube-apiserver + kube-controller-manager)",
    "installing the CRDs from charts/spoke/crds",
    "starting the hub",
    "starting the spoke",
    "creating a one-time token and applying the CertificateRequest",
    "waiting for the CentralConnection to be Ready",
    "calling the hub with the issued client certificate",
    "rolling a Deployment that uses the credential (renewNow)",
    "the demo is up",
  ];
  titles.forEach((title, i) => {
    t.ok(output.includes(`[demo] ${i + 1}/9 ${title}`), `step ${i + 1}/9 printed: ${title}`);
    t.match(output, new RegExp(`\\[demo\\] ${i + 1}/9 done in \\d+\\.\\ds`), `step ${i + 1}/9 timed`);
  });
  t.match(
    output,
    /\$ kubectl rollout history deployment\/demo-app -n tether-system\n.*\n\[demo\]\s+REVISION\s+CHANGE-CAUSE\n\[demo\]\s+1\s+<none>\n\[demo\]\s+2\s+<none>/,
    "the annotated Deployment rolled: revision 2 in kubectl rollout history",
  );
  t.match(output, /Event: rolled Deployment tether-system\/demo-app: certificate renewed, serial [0-9A-F]+/);
  t.match(
    output,
    /NAME\s+READY\s.*\n\[demo\]\s+demo-local\s+True\s/,
    "kubectl get centralconnections: Ready True",
  );
  t.match(
    output,
    /\$ curl -sS --cert \S+tls\.crt --key \S+tls\.key --cacert \S+ca\.crt https:\/\/127\.0\.0\.1:\d+\//,
  );
  t.match(output, /"clientIdentity": \{/, "the hub answered the curl with the client's identity");
  t.match(output, /export KUBECONFIG=\S+/);
  t.notMatch(output, /token=(?!<redacted>)/, "no token URL printed");

  const pids =
    /processes: etcd (\d+), kube-apiserver (\d+), hub (\d+), spoke (\d+), kube-controller-manager (\d+)/.exec(
      output,
    );
  t.ok(pids, "the demo named its processes");
  for (const pid of pids?.slice(1).map(Number) ?? []) t.notOk(isAlive(pid), `process ${pid} is gone`);

  const demoDir = /demo dir (\S+)/.exec(output)?.[1];
  const planeDir = /export KUBECONFIG=(\S+)\/admin\.kubeconfig/.exec(output)?.[1];
  for (const dir of [demoDir, planeDir]) {
    t.ok(dir, "the demo printed its directories");
    if (dir === undefined) continue;
    t.notOk(existsSync(dir), `${dir} removed`);
    t.same(processesMentioning(dir), [], `no process left that uses ${dir}`);
  }
});
