/**
 * The store as the routes see it: any failure of the store itself becomes a StoreUnavailableError
 * (503, retry) instead of an internal error; the refusals the port defines pass through unchanged.
 */
import { DuplicateRuntimeError, StoreUnavailableError } from "./errors.ts";
import type { Store } from "./store.ts";

export function guardStore(store: Store): Store {
  // One wrapper per method, made on first use: a wrapper per call would be garbage per store call.
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      let guarded = wrapped.get(property);
      if (guarded === undefined) {
        guarded = async (...args: unknown[]) => {
          try {
            return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          } catch (error) {
            if (error instanceof DuplicateRuntimeError || error instanceof StoreUnavailableError) throw error;
            throw new StoreUnavailableError(error);
          }
        };
        wrapped.set(property, guarded);
      }
      return guarded;
    },
  });
}
