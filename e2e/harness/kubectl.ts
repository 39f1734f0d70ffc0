/** kubectl against the test control plane. */
import { spawn } from "node:child_process";

export interface KubectlOptions {
  /** Written to kubectl's stdin (e.g. with `apply -f -`). */
  input?: string;
  /** Impersonate this user, e.g. `system:serviceaccount:ns:name` (the admin may impersonate anyone). */
  as?: string;
  /** Impersonate a service account: `{ namespace, name }` or "namespace:name". */
  asServiceAccount?: { namespace: string; name: string } | string;
  /** Another kubeconfig file than the admin's (e.g. a service account's). */
  kubeconfig?: string;
  /** Resolve with a non-zero exit code instead of rejecting. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const kubectlBin = process.env["KUBECTL"] ?? "kubectl";

export function runKubectl(
  kubeconfig: string,
  args: string[],
  opts: KubectlOptions = {},
): Promise<KubectlResult> {
  const as = opts.as ?? serviceAccountUser(opts.asServiceAccount);
  const fullArgs = ["--kubeconfig", opts.kubeconfig ?? kubeconfig, ...(as ? ["--as", as] : []), ...args];
  const timeoutMs = opts.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(kubectlBin, fullArgs, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(new Error(`kubectl could not run (${kubectlBin}): ${error.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const result = { code: code ?? 128, stdout, stderr };
      if (result.code === 0 || opts.allowFailure) return resolve(result);
      const why = signal
        ? `killed by ${signal}${signal === "SIGKILL" ? ` after ${timeoutMs} ms` : ""}`
        : `exit ${code}`;
      reject(new Error(`kubectl ${args.join(" ")} failed (${why}): ${stderr.trim() || stdout.trim()}`));
    });
    child.stdin.end(opts.input ?? "");
  });
}

function serviceAccountUser(account: KubectlOptions["asServiceAccount"]): string | undefined {
  if (account === undefined) return undefined;
  const { namespace, name } =
    typeof account === "string" ? { namespace: account.split(":")[0], name: account.split(":")[1] } : account;
  if (!namespace || !name)
    throw new Error(`asServiceAccount needs a namespace and a name, got ${JSON.stringify(account)}`);
  return `system:serviceaccount:${namespace}:${name}`;
}
