/** Locations inside the repository that the harness uses. */
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
export const spokeCrdDir = fileURLToPath(new URL("../../charts/spoke/crds/", import.meta.url));
export const ensureKubeBinariesScript = fileURLToPath(
  new URL("../scripts/ensure-kube-binaries.sh", import.meta.url),
);
