/** A runtime id is the certificate CN: two runtimes can never share one. */
export class DuplicateRuntimeError extends Error {
  readonly runtimeId: string;

  constructor(runtimeId: string) {
    super(`runtime "${runtimeId}" already exists`);
    this.name = "DuplicateRuntimeError";
    this.runtimeId = runtimeId;
  }
}
