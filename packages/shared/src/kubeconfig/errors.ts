export type KubeconfigErrorCode =
  | "invalid-yaml"
  | "not-a-kubeconfig"
  | "no-current-context"
  | "missing-context"
  | "missing-cluster"
  | "missing-user"
  | "invalid-server"
  | "invalid-proxy-url"
  | "invalid-data"
  | "file-reference"
  | "insecure"
  | "no-credentials";

/** `code` is stable for callers that branch on it; the message says what to fix. */
export class KubeconfigError extends Error {
  readonly code: KubeconfigErrorCode;
  constructor(code: KubeconfigErrorCode, message: string) {
    super(`kubeconfig: ${message}`);
    this.name = "KubeconfigError";
    this.code = code;
  }
}
