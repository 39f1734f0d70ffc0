/**
 * The trust bundle (docs/pki.md#ca-rotation), a tether-only route on the runtime API: what a spoke must
 * trust and present while the hub's CA rotates. The management info and the Kyma shapes stay as they
 * are; a spoke reads this on every sync and rewrites its Secret's `ca.crt` and its kubeconfig's
 * `certificate-authority-data` when it changes.
 */
import { base64Schema } from "./fields.ts";

/** Where a CA is in its life: published before it signs, signing, still trusted after it signed. */
export const caPhases = ["next", "active", "retiring"] as const;
export type CaPhase = (typeof caPhases)[number];

export interface TrustedCa {
  /** SHA-256 of the CA certificate's DER, lower-case hex (the `issuerSha256` of what it issued). */
  sha256: string;
  phase: CaPhase;
  /** RFC 3339. */
  notAfter: string;
}

export interface TrustBundle {
  /** Base64 of the PEM bundle of every CA whose client certificates the hub accepts (next, active, retiring). */
  clientCas: string;
  /**
   * Base64 of the PEM bundle a client needs to trust the hub's serving certificate; empty when that
   * certificate chains to a public root (the system trust store then applies).
   */
  serverCas: string;
  /** SHA-256 of the active CA: a certificate from any other CA should be renewed. */
  activeSha256: string;
  /** "stable": one CA; "prepared": a next CA is published; "activated": an old CA is still trusted. */
  phase: "stable" | "prepared" | "activated";
  cas: TrustedCa[];
  /** Spokes holding a certificate of a non-active CA renew at a random moment within this many seconds. */
  renewalWindowSeconds: number;
}

export const trustBundleSchema = {
  $id: "TrustBundle",
  description: "The CAs a spoke must trust and the one that signs now (CA rotation).",
  type: "object",
  required: ["clientCas", "serverCas", "activeSha256", "phase", "cas", "renewalWindowSeconds"],
  additionalProperties: false,
  properties: {
    clientCas: { ...base64Schema, description: "Base64 of the PEM bundle: next, active and retiring CAs." },
    serverCas: {
      type: "string",
      description:
        "Base64 of the PEM bundle that verifies the hub's serving certificate; empty: system trust.",
    },
    activeSha256: { type: "string", pattern: "^[0-9a-f]{64}$" },
    phase: { type: "string", enum: ["stable", "prepared", "activated"] },
    cas: {
      type: "array",
      items: {
        type: "object",
        required: ["sha256", "phase", "notAfter"],
        additionalProperties: false,
        properties: {
          sha256: { type: "string", pattern: "^[0-9a-f]{64}$" },
          phase: { type: "string", enum: caPhases },
          notAfter: { type: "string", format: "date-time" },
        },
      },
    },
    renewalWindowSeconds: { type: "integer", minimum: 0 },
  },
} as const;
