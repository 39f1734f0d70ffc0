/**
 * The end-to-end harness: a real control plane (etcd + kube-apiserver) and real hub/spoke child
 * processes, for tests and the local demo. Everything it starts is stopped and removed when the test
 * process ends, however it ends.
 */
export { startControlPlane } from "./control-plane.ts";
export { controllerManagerControllers } from "./control-plane.ts";
export type { ControlPlane, ControlPlaneOptions, StartTimings } from "./control-plane.ts";
export { sharedControlPlane } from "./shared.ts";
export type { ClusterOperations, ServiceAccountCredentials } from "./operations.ts";
export { runKubectl } from "./kubectl.ts";
export type { KubectlOptions, KubectlResult } from "./kubectl.ts";
export { startProcess, showLogsOnFailure, attachLogsOnFailure, printLogs, isAlive } from "./process.ts";
export type { ExitStatus, ManagedProcess, ProcessOptions, TestLike } from "./process.ts";
export { ensureKubeBinaries } from "./binaries.ts";
export type { KubeBinaries } from "./binaries.ts";
export { freePorts } from "./ports.ts";
export { tokenKubeconfig } from "./kubeconfig.ts";
export { repoRoot, spokeCrdDir } from "./paths.ts";
export { programPath } from "./programs.ts";
export { buildGoProgram } from "./go-build.ts";
export type { GoProgram } from "./go-build.ts";
export type { Program, ProgramBuild } from "./programs.ts";
