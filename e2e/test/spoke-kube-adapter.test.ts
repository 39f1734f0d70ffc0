/** The spoke's client-node adapter passes the same KubePort suite as the in-memory fake, against a real kube-apiserver. */
import t from "tap";
import { runKubePortConformance } from "../../packages/spoke/test/support/kube-conformance.ts";
import { cluster, namespace } from "./spoke-helpers.ts";

const c = await cluster(t);
runKubePortConformance(t, async () => ({
  kube: c.kube,
  namespace,
  createWorkload: async (manifest) =>
    void (await c.plane.kubectl(["create", "-f", "-"], { input: JSON.stringify(manifest) })),
}));
