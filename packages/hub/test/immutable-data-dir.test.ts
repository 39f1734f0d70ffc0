/**
 * A data directory that cannot be written any more under a running hub (files made immutable, as a
 * disk error remounting the filesystem read-only does to writes): the hub keeps running, refuses
 * what needs a write with 503, fails /readyz, still answers reads, and recovers once the files are
 * writable again. With its WAL index in a memory-mapped -shm file the process died of SIGBUS on
 * the first write (docs/store.md#a-data-directory-that-cannot-be-written).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import t from "tap";
import { ErrorMessages } from "@tether/shared/contract";
import { tempDir } from "./helpers/hub.ts";
import { curl, spawnHub } from "./helpers/process.ts";

const run = promisify(execFile);
const listen = ["--listen", "127.0.0.1:0", "--internal-listen", "127.0.0.1:0"];

/** chattr +i/-i on every file of `dir`; undefined when this machine cannot (not root, no ext4/xfs). */
async function immutable(dir: string, on: boolean): Promise<string | undefined> {
  const files = readdirSync(dir).map((name) => join(dir, name));
  try {
    await run("chattr", [on ? "+i" : "-i", ...files]);
    return undefined;
  } catch (error) {
    return (error as { stderr?: string }).stderr ?? (error as Error).message;
  }
}

/** Why this machine cannot make files immutable (not root, a filesystem without the flag), or false. */
async function cannotChattr(): Promise<string | false> {
  const probe = mkdtempSync(join(tmpdir(), "tether-chattr-"));
  writeFileSync(join(probe, "f"), "");
  const refused = await immutable(probe, true);
  await immutable(probe, false);
  rmSync(probe, { recursive: true, force: true });
  return refused === undefined ? false : `chattr +i is not possible here: ${refused}`;
}

const skip = await cannotChattr();
t.test("an immutable data directory: 503 and not ready, no SIGBUS, then recovery", { skip }, async (t) => {
  const dataDir = tempDir(t);
  const hub = await spawnHub(t, [...listen, "--data-dir", dataDir]);
  t.teardown(() => hub.stop());
  const admin = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
  const createToken = (runtime: string) =>
    curl([
      "-X",
      "POST",
      "-H",
      `authorization: Bearer ${admin}`,
      "-H",
      "tenant: t",
      "-H",
      "group: g",
      "-H",
      "content-type: application/json",
      "-d",
      JSON.stringify({ runtime }),
      `${hub.internalUrl}/v1/runtimes/tokens`,
    ]);
  t.equal((await createToken("before")).status, 201, "a write before");

  t.equal(await immutable(dataDir, true), undefined, "every file of the data directory is immutable");
  // Also when the test fails half-way: tempDir's teardown cannot remove immutable files.
  t.teardown(() => immutable(dataDir, false));

  const ready = await curl([`${hub.internalUrl}/readyz`]);
  t.equal(ready.status, 503, "/readyz fails");
  t.match(JSON.parse(ready.body), { code: 503, error: /^Store not writable: / });
  const write = await curl([...["-X", "POST"], `${hub.internalUrl}/v1/runtimes/tokens`]);
  t.equal(write.status, 401, "a refusal that needs no write still refuses");
  const during = await createToken("during");
  t.same(
    [during.status, JSON.parse(during.body)],
    [503, { code: 503, error: ErrorMessages.storeUnavailable }],
    "a write answers 503",
  );
  const list = await curl(["-H", `authorization: Bearer ${admin}`, `${hub.internalUrl}/v1/runtimes`]);
  t.equal(list.status, 200, "reads are still answered");
  t.same([hub.child.exitCode, hub.child.signalCode], [null, null], "the hub is still running");

  t.equal(await immutable(dataDir, false), undefined);
  t.equal((await curl([`${hub.internalUrl}/readyz`])).status, 200, "ready again");
  t.equal((await createToken("after")).status, 201, "and writing");
  t.equal(await hub.stop(), 0, "then stops cleanly");
});

t.test("a second hub on the same data directory is refused with a clear error", async (t) => {
  const dataDir = tempDir(t);
  const first = await spawnHub(t, [...listen, "--data-dir", dataDir]);
  t.teardown(() => first.stop());
  const second = spawnHub(t, [...listen, "--data-dir", dataDir]);
  await t.rejects(second, /tether-hub\.db is in use by another process: one hub per data directory/);
  t.equal((await curl([`${first.internalUrl}/readyz`])).status, 200, "the first one carries on");
});
