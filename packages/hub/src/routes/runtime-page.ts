/**
 * Paging of `GET /v1/runtimes` (docs/api.md#list-runtimes). `continue` is the id of the last runtime of
 * a page, and the next page is a keyset read after it: every runtime id is a valid position (ids are
 * ordered as strings), so a client can also start anywhere. The schema holds it to the id pattern.
 */
import { RUNTIME_PAGE_DEFAULT } from "@tether/shared/contract";

/** The query's limit; the route's schema already holds it to 1-1000 in decimal. */
export function pageLimit(text: string | undefined): number {
  return text === undefined ? RUNTIME_PAGE_DEFAULT : Number(text);
}
