/**
 * The store as the routes see it: any failure of the store itself becomes a StoreUnavailableError
 * (503, retry) instead of an internal error; the refusals the port defines pass through unchanged.
 */
import { DuplicateRuntimeError, StoreUnavailableError } from "./errors.ts";
import type { Store } from "./store.ts";

export function guardStore(store: Store): Store {
  return new Proxy(store, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== "function") return value;
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } catch (error) {
          if (error instanceof DuplicateRuntimeError || error instanceof StoreUnavailableError) throw error;
          throw new StoreUnavailableError(error);
        }
      };
    },
  });
}
