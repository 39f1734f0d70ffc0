/**
 * One control plane per test file: start-up costs seconds on two shared cores, so every test in a
 * file that calls sharedControlPlane(t) gets the same one. It stops when the file's root test ends,
 * and its logs are printed then if anything in the file failed.
 */
import { startControlPlane } from "./control-plane.ts";
import type { ControlPlane } from "./control-plane.ts";
import { printLogs } from "./process.ts";
import type { TestLike } from "./process.ts";

/** A tap test: its parent chain leads to the file's root test (tap types parents more loosely). */
interface TapTest extends TestLike {
  parent?: unknown;
}

function isTapTest(value: unknown): value is TapTest {
  return typeof value === "object" && value !== null && "teardown" in value && "passing" in value;
}

let shared: Promise<ControlPlane> | undefined;

export function sharedControlPlane(t: TapTest): Promise<ControlPlane> {
  if (shared) return shared;
  let root = t;
  while (isTapTest(root.parent)) root = root.parent;
  const starting = startControlPlane();
  shared = starting;
  root.teardown(async () => {
    shared = undefined;
    const plane = await starting.catch(() => undefined);
    if (!plane) return;
    if (!root.passing()) for (const p of plane.processes) printLogs(p.name, p.logs());
    await plane.stop();
  });
  return starting;
}
