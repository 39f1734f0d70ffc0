/** A runtime as the internal API shows it (contract `RuntimeView`): records turned into ISO strings. */
import type { CertificateView, RuntimeView } from "@tether/shared/contract";
import type { Runtime, RuntimeHistory, Store } from "../store/store.ts";

const iso = (date: Date | null): string | null => (date === null ? null : date.toISOString());

export async function runtimeView(store: Store, runtime: Runtime, now: Date): Promise<RuntimeView> {
  const [certificates, revocations] = await Promise.all([
    store.listCertificates(runtime.id),
    store.listRevocations(runtime.id),
  ]);
  return viewOf({ runtime, certificates, revocations }, now);
}

export function viewOf({ runtime, certificates, revocations }: RuntimeHistory, now: Date): RuntimeView {
  const revoked = new Set(revocations.map((r) => r.sha256));
  const current = certificates
    .filter((c) => !revoked.has(c.sha256) && c.notAfter > now)
    .sort((a, b) => b.issuedAt.getTime() - a.issuedAt.getTime())[0];
  return {
    id: runtime.id,
    tenant: runtime.tenant,
    group: runtime.group,
    labels: runtime.labels,
    createdAt: runtime.createdAt.toISOString(),
    lastSeenAt: iso(runtime.lastSeenAt),
    deletedAt: iso(runtime.deletedAt),
    currentCertificate: current
      ? {
          serial: current.serial,
          sha256: current.sha256,
          notBefore: current.notBefore.toISOString(),
          notAfter: current.notAfter.toISOString(),
        }
      : null,
    certificates: certificates.map((c): CertificateView => ({
      serial: c.serial,
      sha256: c.sha256,
      notBefore: c.notBefore.toISOString(),
      notAfter: c.notAfter.toISOString(),
      kind: c.kind,
      issuedAt: c.issuedAt.toISOString(),
      issuerSha256: c.issuerSha256,
    })),
    revokedCertificates: revocations.map((r) => ({
      sha256: r.sha256,
      revokedAt: r.revokedAt.toISOString(),
      reason: r.reason,
    })),
  };
}
