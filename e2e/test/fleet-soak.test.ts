/**
 * The short soak (docs/fleet.md#soak): a fleet of simulated spokes (bench/fleet) against a real
 * `tether-hub serve` on SQLite for 60 s, with a new resumed TLS connection for every request,
 * renewals on a compressed timescale and revocations by the admin. Asserts no error and no leak: the
 * hub's RSS and descriptors stay flat over the second half. The bounds allow for GC and a loaded
 * 2-core machine; a leak of a few KB per request or a descriptor per connection exceeds them. The
 * 10-minute run at the 100k rate is `./dev pnpm bench fleet --soak`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { Agent } from "undici";
import { CredentialJournal, ensureCredentials } from "../../bench/fleet/credentials.ts";
import { sqliteHub } from "../../bench/fleet/hubs.ts";
import { parseFleetOptions } from "../../bench/fleet/options.ts";
import { runSoak, soakVerdict } from "../../bench/fleet/soak.ts";

const SPOKES = 200;

t.test("200 spokes for 60 s: no error, hub memory and descriptors flat", async (t) => {
  const root = mkdtempSync(join(tmpdir(), "tether-fleet-soak-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  // 40 requests/s, each spoke one request at a time: on a busy machine the hub falls behind and
  // the spokes wait (--timeout 2m counts only a hang), so an error is a bug, not a queue.
  const options = parseFleetOptions([
    "--soak",
    "--timeout",
    "2m",
    "--modes",
    "resume",
    "--sync-period",
    "5s",
    "--warmup",
    "10s",
    "--duration",
    "60s",
    "--renewal-period",
    "60s",
    "--revocations-per-minute",
    "12",
  ]);
  const hubs = await sqliteHub(
    { keepAliveTimeout: options.keepAliveTimeout, flags: [] },
    join(root, "sqlite"),
  );
  t.teardown(() => hubs.stop());
  const journal = new CredentialJournal(hubs.credentialDir);
  const issuer = {
    internalUrl: hubs.replicas[0]!.internalUrl,
    adminToken: hubs.adminToken,
    caPem: hubs.caPem,
  };
  const credentials = await ensureCredentials(issuer, journal, SPOKES, 8, t.comment.bind(t));
  t.equal(credentials.length, SPOKES, "every spoke enrolled through the hub");

  const result = await runSoak(hubs, credentials, journal, options, "resume", 5000, t.comment.bind(t));
  for (const [kind, n] of result.errorKinds) t.comment(`${n} × ${kind}`);
  t.ok(result.requests > 0, `the fleet synced (${result.requests} requests)`);
  t.same(soakVerdict(result, { rssGrowth: 0.2, fdSlack: 50 }), [], "0 errors, RSS and descriptors flat");
  await new Agent().close();
});
