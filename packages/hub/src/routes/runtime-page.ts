/**
 * Paging of `GET /v1/runtimes` (docs/api.md#list-runtimes). `continue` is the id of the last runtime of
 * a page, and the next page is a keyset read after it: every runtime id is a valid position (ids are
 * ordered as strings), so a client can also start anywhere. The schema holds it to the id pattern.
 */
import { RUNTIME_PAGE_DEFAULT, type RuntimeList } from "@tether/shared/contract";
import type { Store } from "../store/store.ts";
import { viewOf } from "./runtime-view.ts";

/** The query's limit; the route's schema already holds it to 1-1000 in decimal. */
export function pageLimit(text: string | undefined): number {
  return text === undefined ? RUNTIME_PAGE_DEFAULT : Number(text);
}

/** One page: two store queries whatever its length (`Store.listRuntimePage`). */
export async function runtimePage(
  store: Store,
  after: string | null,
  limit: number,
  now: Date,
): Promise<RuntimeList> {
  // One row more than the page says whether another page follows, without an empty last page.
  const rows = await store.listRuntimePage(after, limit + 1);
  const page = rows.slice(0, limit);
  return {
    runtimes: page.map((history) => viewOf(history, now)),
    continue: rows.length > limit ? page.at(-1)!.runtime.id : undefined,
  };
}
