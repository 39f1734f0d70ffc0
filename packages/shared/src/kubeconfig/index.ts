export { type KubeconfigErrorCode, KubeconfigError } from "./errors.ts";
export {
  type KubeconfigNames,
  type BootstrapKubeconfigOptions,
  type HubKubeconfigOptions,
  defaultKubeconfigNames,
  buildBootstrapKubeconfig,
  buildHubKubeconfig,
} from "./build.ts";
export { type KubeconfigView, parseKubeconfig } from "./parse.ts";
export {
  type KubeconfigDifference,
  type KubeconfigDifferenceReason,
  compareHubKubeconfigs,
} from "./compare.ts";
