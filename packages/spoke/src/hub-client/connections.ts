/**
 * The agent's connections to the hub, one https.Agent per TLS identity (trust, client certificate and
 * key, proxy). What the fleet bench measured (docs/fleet.md#what-a-connection-costs) decides the shape:
 *
 * - a TLS session is resumed across calls (the agent's session cache): a sync a minute later costs
 *   the hub no signature and no chain check;
 * - a connection is kept for the calls of one reconcile (management info, trust bundle, renewal), which
 *   follow each other within milliseconds, and closed by the spoke IDLE_MS after the last: holding it
 *   for the next sync would cost the hub ~65 KB and a descriptor per spoke (6.5 GB for 100k spokes),
 *   and the hub's keep-alive timeout (5 s) would close it first. The spoke closing first also leaves
 *   the TIME_WAIT with the spoke, not with the hub;
 * - new credentials (a renewal, a new trust bundle) are a new identity, so a new agent: a session of
 *   the old certificate is never resumed to present the new one, since the hub would see the old.
 */
import { createHash } from "node:crypto";
import { Agent as HttpsAgent } from "node:https";

/**
 * Long enough for the calls of one reconcile, short of the hub's keep-alive timeout (5 s by default):
 * at 1,700 syncs a second (100k spokes) the hub holds ~1,700 such connections, not 8,500.
 */
export const IDLE_MS = 1_000;
/** Identities kept: a renewal leaves the old one behind until it falls out. */
const MAX_IDENTITIES = 8;

export interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface Identity {
  agent: HttpsAgent;
  /** The last session of a proxied call: its connection is made by hand, outside the agent's cache. */
  tunnelSession: Buffer | undefined;
}

export class HubConnections {
  readonly #identities = new Map<string, Identity>();
  readonly #idleMs: number;

  constructor(options: { idleMs?: number } = {}) {
    this.#idleMs = options.idleMs ?? IDLE_MS;
  }

  /** The identity of this TLS material and proxy: the same agent (and sessions) for the same credentials. */
  identity(tls: TlsMaterial, proxyUrl: string | undefined): Identity {
    const key = createHash("sha256")
      .update(JSON.stringify([tls.ca ?? null, tls.cert ?? null, tls.key ?? null, proxyUrl ?? null]))
      .digest("hex");
    let identity = this.#identities.get(key);
    if (identity !== undefined) {
      // Most recently used last: the first one is the one to drop.
      this.#identities.delete(key);
    } else {
      identity = {
        agent: new HttpsAgent({ keepAlive: true, timeout: this.#idleMs, ...tls }),
        tunnelSession: undefined,
      };
    }
    this.#identities.set(key, identity);
    if (this.#identities.size > MAX_IDENTITIES) {
      const [oldest, dropped] = this.#identities.entries().next().value!;
      this.#identities.delete(oldest);
      closeIdle(dropped.agent);
    }
    return identity;
  }

  /** Closes every idle connection; calls in flight finish and their connections close after `idleMs`. */
  close(): void {
    for (const { agent } of this.#identities.values()) closeIdle(agent);
    this.#identities.clear();
  }
}

function closeIdle(agent: HttpsAgent): void {
  for (const sockets of Object.values(agent.freeSockets))
    for (const socket of sockets ?? []) socket.destroy();
}
