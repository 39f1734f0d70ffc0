import t from "tap";
import { FakeKube } from "../src/kube/fake.ts";
import { runKubePortConformance } from "./support/kube-conformance.ts";

runKubePortConformance(t, async () => ({ kube: new FakeKube(), namespace: "tether-system" }));
