/** A runtime id is the certificate CN: two runtimes can never share one. */
export class DuplicateRuntimeError extends Error {
  readonly runtimeId: string;

  constructor(runtimeId: string) {
    super(`runtime "${runtimeId}" already exists`);
    this.name = "DuplicateRuntimeError";
    this.runtimeId = runtimeId;
  }
}

/**
 * The store failed to read or write (a full disk, a read-only or unreachable database). Nothing the
 * request asked for was stored, so the hub answers 503 and the client may retry the same request.
 */
export class StoreUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`store unavailable: ${(cause as Error).message}`, { cause });
    this.name = "StoreUnavailableError";
  }
}
