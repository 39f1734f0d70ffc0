/**
 * The input every policy test starts from: the state of a credential Secret whose certificate is
 * present, complete, matches its key, chains to a trusted CA and is valid for 30 days from
 * `notBefore`. A test changes the one fact it is about: `credentialState({ keyMatches: false })`.
 */
import type { CertificateFacts, CredentialState } from "../../src/policy/state.ts";

export const DAY = 86_400_000;
export const notBefore = new Date("2026-01-01T00:00:00Z");
export const notAfter = new Date(notBefore.getTime() + 30 * DAY);
export const subject = { CN: "rt-1", O: "acme", OU: "prod", L: "Berlin", ST: "Berlin", C: "DE" };

export function certificateFacts(over: Partial<CertificateFacts> = {}): CertificateFacts {
  return { subject, serial: "AB", sha256: "00".repeat(32), notBefore, notAfter, issuer: "CN=hub", ...over };
}

export function credentialState(over: Partial<CredentialState> = {}): CredentialState {
  return {
    secretName: "tether-system/c1-hub-credentials",
    secretFound: true,
    missingKeys: [],
    certificate: certificateFacts(),
    keyMatches: true,
    chain: { ok: true },
    ...over,
  };
}
