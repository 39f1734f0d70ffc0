/** What tests do with a running control plane: apply manifests, install CRDs, act as service accounts. */
import { KubeConfig } from "@kubernetes/client-node";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { tokenKubeconfig } from "./kubeconfig.ts";
import type { KubectlOptions, KubectlResult } from "./kubectl.ts";
import { spokeCrdDir } from "./paths.ts";

export interface ServiceAccountCredentials {
  /** system:serviceaccount:<namespace>:<name> */
  user: string;
  token: string;
  kubeconfigPath: string;
  kubeconfig: string;
}

export interface ClusterOperations {
  /** kubectl apply of YAML text (one or more documents), of a file path, or of objects. */
  apply(manifests: string | object | object[]): Promise<string>;
  applyFiles(...paths: string[]): Promise<string>;
  /** Applies every CRD in `dir` (default charts/spoke/crds) and waits until each is Established; returns their names. */
  installCrds(dir?: string): Promise<string[]>;
  waitForCrdsEstablished(names: string[], timeoutMs?: number): Promise<void>;
  /**
   * Creates the namespace and service account if needed, and a bound token for it through the
   * TokenRequest API; the kubeconfig authenticates as that account (RBAC applies as in a cluster).
   */
  serviceAccount(
    namespace: string,
    name: string,
    opts?: { expirationSeconds?: number },
  ): Promise<ServiceAccountCredentials>;
  /** serviceAccount(...).kubeconfigPath: a kubeconfig file that authenticates with the account's token. */
  serviceAccountKubeconfig(namespace: string, name: string): Promise<string>;
  /** A @kubernetes/client-node KubeConfig for the admin, or for the given kubeconfig text. */
  clientConfig(kubeconfig?: string): KubeConfig;
}

export function clusterOperations(ctx: {
  dir: string;
  server: string;
  caPem: string;
  adminKubeconfig: string;
  kubectl(args: string[], opts?: KubectlOptions): Promise<KubectlResult>;
}): ClusterOperations {
  const apply = async (manifests: string | object | object[]): Promise<string> => {
    // One line naming an existing file is a path; anything else is YAML text.
    if (typeof manifests === "string" && !manifests.includes("\n") && existsSync(manifests)) {
      return (await ctx.kubectl(["apply", "-f", manifests])).stdout;
    }
    const input =
      typeof manifests === "string"
        ? manifests
        : (Array.isArray(manifests) ? manifests : [manifests]).map((m) => stringify(m)).join("---\n");
    return (await ctx.kubectl(["apply", "-f", "-"], { input })).stdout;
  };

  const waitForCrdsEstablished = async (names: string[], timeoutMs = 60_000): Promise<void> => {
    await ctx.kubectl(
      [
        "wait",
        "--for=condition=Established",
        `--timeout=${Math.ceil(timeoutMs / 1000)}s`,
        ...names.map((n) => `crd/${n}`),
      ],
      { timeoutMs: timeoutMs + 10_000 },
    );
  };

  const serviceAccount: ClusterOperations["serviceAccount"] = async (namespace, name, opts = {}) => {
    await apply([
      { apiVersion: "v1", kind: "Namespace", metadata: { name: namespace } },
      { apiVersion: "v1", kind: "ServiceAccount", metadata: { name, namespace } },
    ]);
    const duration = `${opts.expirationSeconds ?? 3600}s`;
    const token = (
      await ctx.kubectl(["create", "token", name, "-n", namespace, `--duration=${duration}`])
    ).stdout.trim();
    const user = `system:serviceaccount:${namespace}:${name}`;
    const kubeconfig = tokenKubeconfig({ server: ctx.server, caPem: ctx.caPem, user, token });
    const kubeconfigDir = join(ctx.dir, "kubeconfigs");
    await mkdir(kubeconfigDir, { recursive: true, mode: 0o700 });
    const kubeconfigPath = join(kubeconfigDir, `sa-${namespace}-${name}.kubeconfig`);
    await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });
    return { user, token, kubeconfigPath, kubeconfig };
  };

  return {
    apply,
    serviceAccount,
    serviceAccountKubeconfig: async (namespace, name) =>
      (await serviceAccount(namespace, name)).kubeconfigPath,
    async applyFiles(...paths) {
      return (await ctx.kubectl(["apply", ...paths.flatMap((p) => ["-f", p])])).stdout;
    },
    waitForCrdsEstablished,
    async installCrds(dir = spokeCrdDir) {
      const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(dir, f));
      const names: string[] = [];
      for (const file of files) {
        for (const doc of parseAllDocuments(await readFile(file, "utf8"))) {
          const object = doc.toJS() as { kind?: string; metadata?: { name?: string } } | null;
          if (object?.kind === "CustomResourceDefinition" && object.metadata?.name)
            names.push(object.metadata.name);
        }
      }
      if (names.length === 0) throw new Error(`no CustomResourceDefinition in ${dir}`);
      await ctx.kubectl(["apply", ...files.flatMap((f) => ["-f", f])]);
      await waitForCrdsEstablished(names);
      return names;
    },
    clientConfig(kubeconfig = ctx.adminKubeconfig) {
      const config = new KubeConfig();
      config.loadFromString(kubeconfig);
      return config;
    },
  };
}
