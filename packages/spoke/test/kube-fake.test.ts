import t from "tap";
import { FakeKube } from "../src/kube/fake.ts";
import { runKubePortConformance } from "./support/kube-conformance.ts";

runKubePortConformance(t, async () => {
  const kube = new FakeKube();
  return {
    kube,
    namespace: "tether-system",
    createWorkload: async (manifest) => void kube.workloadStores[manifest.kind].create(manifest, "test"),
  };
});
