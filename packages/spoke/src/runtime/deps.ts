/**
 * What every controller of the agent works with: the Kubernetes port, the hub client, the clock, the
 * logger, the Event recorder and the agent's namespace (home of credential Secrets). `buildAgent`
 * makes one set and hands it to each controller.
 */
import type { Clock } from "@tether/shared/time";
import type { Logger } from "pino";
import type { HubClient } from "../hub-client/client.ts";
import type { KubePort } from "../kube/port.ts";
import type { EventRecorder } from "./events.ts";

export interface ControllerDeps {
  kube: KubePort;
  hub: HubClient;
  clock: Clock;
  logger: Logger;
  events: EventRecorder;
  /** The agent's namespace: home of the credential Secrets. */
  namespace: string;
  /** --hub-ca-file: trust for the hub's serving certificate when nothing closer names one. */
  hubCaPem?: string;
  backoff?: { baseMs: number; capMs: number };
}
