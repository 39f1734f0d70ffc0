/** Token kubeconfigs for the test control plane, with the CA embedded so the file stands alone. */
import { stringify } from "yaml";

export function tokenKubeconfig(opts: {
  server: string;
  caPem: string;
  user: string;
  token: string;
}): string {
  const cluster = "tether-e2e";
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: cluster,
        cluster: {
          server: opts.server,
          "certificate-authority-data": Buffer.from(opts.caPem).toString("base64"),
        },
      },
    ],
    users: [{ name: opts.user, user: { token: opts.token } }],
    contexts: [{ name: `${opts.user}@${cluster}`, context: { cluster, user: opts.user } }],
    "current-context": `${opts.user}@${cluster}`,
  });
}
