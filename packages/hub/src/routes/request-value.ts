/**
 * A value one hook works out for a request and its handler reads, typed on `FastifyRequest` as always
 * present: `app.decorateRequest(name, { getter: value.getter })`, then `value.set(request, ...)` in the
 * hook. The getter throws if a route reads it without the hook having run (a wiring mistake, not a
 * client's).
 */
export interface RequestValue<T extends object> {
  readonly getter: (this: object) => T;
  readonly set: (request: object, value: T) => void;
}

export function requestValue<T extends object>(name: string): RequestValue<T> {
  const values = new WeakMap<object, T>();
  return {
    getter(this: object) {
      const value = values.get(this);
      if (value === undefined) throw new Error(`request.${name} read on a route whose hook did not set it`);
      return value;
    },
    set(request, value) {
      values.set(request, value);
    },
  };
}
