/** The two controllers wired to the in-memory fake of Kubernetes, a fake hub and a fake clock. */
import { FakeClock } from "@tether/shared/time";
import { pino } from "pino";
import { CertificateRequestController } from "../../src/controllers/certificate-request.ts";
import { ConnectionController } from "../../src/controllers/connection/controller.ts";
import { kubeEventRecorder } from "../../src/runtime/events.ts";
import { createSpokeMetrics } from "../../src/health/metrics.ts";
import { FakeKube } from "../../src/kube/fake.ts";
import { apiVersion } from "../../src/kube/types.ts";
import type { CentralConnection, CertificateRequest } from "../../src/kube/types.ts";
import { FakeHub } from "./fake-hub.ts";

export const namespace = "tether-system";
export const backoff = { baseMs: 1_000, capMs: 8_000 };

export async function startAgent(
  options: { start?: string; syncPeriodMs?: number; backoff?: { baseMs: number; capMs: number } } = {},
) {
  const clock = new FakeClock(options.start ?? "2026-03-01T00:00:00Z");
  const kube = new FakeKube();
  const hub = await new FakeHub(clock).init();
  const logger = pino({ level: "silent" });
  const metrics = createSpokeMetrics();
  const events = kubeEventRecorder({ kube, clock, logger, instance: "test" });
  const shared = { kube, hub, clock, logger, events, namespace, backoff: options.backoff ?? backoff };
  const requests = new CertificateRequestController(shared);
  const makeConnections = () =>
    new ConnectionController({ ...shared, metrics, syncPeriodMs: options.syncPeriodMs ?? 60_000 });
  let connections = makeConnections();
  requests.start();
  connections.start();

  const agent = {
    clock,
    kube,
    hub,
    metrics,
    requests,
    get connections() {
      return connections;
    },
    /** Lets watch events, queued work and the crypto it does run to completion. */
    async settle(): Promise<void> {
      for (let round = 0; round < 6; round++) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        await requests.idle();
        await connections.idle();
      }
    },
    async advance(ms: number): Promise<void> {
      await clock.advance(ms);
      await agent.settle();
    },
    /** A new agent process: the connection controller forgets what it held. */
    async restartConnections(): Promise<void> {
      await connections.stop();
      connections = makeConnections();
      connections.start();
      await agent.settle();
    },
    async apply(name: string, csrInfoUrl: string, caBundle?: string): Promise<void> {
      const request: CertificateRequest = {
        apiVersion,
        kind: "CertificateRequest",
        metadata: { name },
        spec: { csrInfoUrl, ...(caBundle === undefined ? {} : { caBundle }) },
      };
      await kube.certificateRequests.create(request);
      await agent.settle();
    },
    async connection(name: string): Promise<CentralConnection> {
      const found = await kube.centralConnections.get(name);
      if (!found) throw new Error(`no CentralConnection ${name}`);
      return found;
    },
    secret(name: string) {
      return kube.secrets.get(namespace, `${name}-hub-credentials`);
    },
    eventReasons(name: string): string[] {
      return kube.recordedEvents
        .filter((e) => e.involvedObject.name === name)
        .map((e) => `${e.involvedObject.kind}/${e.reason}`);
    },
    async stop(): Promise<void> {
      await requests.stop();
      await connections.stop();
    },
  };
  return agent;
}

export function decode(value: string | undefined): string {
  return Buffer.from(value ?? "", "base64").toString("utf8");
}
