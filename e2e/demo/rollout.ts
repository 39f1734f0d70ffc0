/**
 * The rollout part of the demo: a Deployment that opts in with `tether.dev/restart-on-change` rolls
 * when the credential is renewed (`renewNow`), and `kubectl rollout history` shows its second
 * revision, made by the real kube-controller-manager (the pods never run: there is no kubelet).
 */
import type { ControlPlane } from "../harness/index.ts";
import { spokeNamespace } from "./spoke.ts";

export const demoAppName = "demo-app";

interface Deployment {
  metadata: { annotations?: Record<string, string> };
}

async function poll<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`${what} did not happen within ${timeoutMs / 1000}s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** Applies the annotated Deployment, renews the connection's credential and waits for revision 2. */
export async function rollOnRenewal(
  plane: ControlPlane,
  connection: string,
  secretName: string,
  timeoutMs = 60_000,
): Promise<{ history: string; event: string }> {
  const labels = { app: demoAppName };
  const manifest = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: demoAppName,
      namespace: spokeNamespace,
      annotations: { "tether.dev/restart-on-change": secretName },
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: "app", image: "registry.invalid/uses-the-credential:1" }] },
      },
    },
  };
  await plane.apply(manifest);
  const hash = async () => {
    const result = await plane.kubectl([
      "get",
      "deployment",
      demoAppName,
      "-n",
      spokeNamespace,
      "-o",
      "json",
    ]);
    return (JSON.parse(result.stdout) as Deployment).metadata.annotations?.["tether.dev/credential-hash"];
  };
  const adopted = await poll("the agent recording the credential hash on the Deployment", timeoutMs, hash);
  await plane.kubectl([
    ...["patch", "centralconnection", connection, "--type", "merge"],
    ...["-p", JSON.stringify({ spec: { renewNow: true } })],
  ]);
  await poll("the rollout after renewNow", timeoutMs, async () =>
    (await hash()) !== adopted ? true : undefined,
  );
  const history = await poll("revision 2 in kubectl rollout history", timeoutMs, async () => {
    const result = await plane.kubectl([
      "rollout",
      "history",
      `deployment/${demoAppName}`,
      "-n",
      spokeNamespace,
    ]);
    return /^2\s/m.test(result.stdout) ? result.stdout : undefined;
  });
  const event = await poll("the Rolled Event on the Deployment", timeoutMs, async () => {
    const result = await plane.kubectl([
      ...["get", "events", "-n", spokeNamespace, "--field-selector"],
      ...[`involvedObject.name=${demoAppName},reason=Rolled`, "-o", "jsonpath={.items[*].message}"],
    ]);
    return result.stdout.trim() || undefined;
  });
  return { history, event };
}
