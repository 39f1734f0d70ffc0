/**
 * Does a client certificate chain to a CA the hub trusts, at a given time? Uses node:crypto's native
 * X509Certificate: this runs on every mTLS request, and needs no ASN.1 work in JavaScript.
 */
import { X509Certificate as NativeCertificate } from "node:crypto";
import type { CertificateAuthority } from "./ca.ts";
import { certificateInfo, type CertificateInfo } from "./certificate.ts";
import type { CaKeyring } from "./keyring.ts";
import { pemToDer, splitPemBundle } from "./pem.ts";

/** Why a chain was refused, as a word for conditions, logs and metrics. */
export type ChainFailure =
  "malformed" | "untrusted" | "leaf-is-ca" | "issuer-not-ca" | "not-yet-valid" | "expired" | "issuer-expired";

export interface TrustedIssuer {
  pem: string;
  sha256: string;
  subject: string;
}

export type ChainResult =
  | { ok: true; issuer: TrustedIssuer; leaf: CertificateInfo }
  | { ok: false; reason: ChainFailure; message: string };

interface Anchor {
  pem: string;
  native: NativeCertificate;
}

const parsedCas = new WeakMap<CertificateAuthority, NativeCertificate>();

function anchorsOf(trust: CaKeyring | string[]): Anchor[] {
  if (Array.isArray(trust)) {
    return trust
      .flatMap(splitPemBundle)
      .map((pem) => ({ pem, native: new NativeCertificate(pemToDer(pem)) }));
  }
  return trust.trusted.map((ca) => {
    let native = parsedCas.get(ca);
    if (!native) parsedCas.set(ca, (native = new NativeCertificate(pemToDer(ca.certPem))));
    return { pem: ca.certPem, native };
  });
}

function fail(reason: ChainFailure, message: string): ChainResult {
  return { ok: false, reason, message };
}

/**
 * Checks, in order: the leaf parses and is not a CA, a trusted CA signed it, that CA is a CA, and both
 * are within their validity at `now` (widened by `leewayMs` either side for clock skew).
 */
export async function verifyChain(
  leafPem: string,
  trust: CaKeyring | string[],
  now: Date,
  options: { leewayMs?: number } = {},
): Promise<ChainResult> {
  let leaf: NativeCertificate;
  try {
    // The leaf comes first; a bundle such as `crt` (leaf + issuing CA) is accepted as well.
    leaf = new NativeCertificate(pemToDer(splitPemBundle(leafPem)[0] ?? leafPem, "CERTIFICATE"));
  } catch (error) {
    return fail("malformed", `The certificate could not be parsed: ${(error as Error).message}`);
  }
  if (leaf.ca)
    return fail("leaf-is-ca", "A CA certificate was presented where a client certificate is expected.");
  const issuer = anchorsOf(trust).find((a) => leaf.checkIssued(a.native) && leaf.verify(a.native.publicKey));
  if (!issuer) return fail("untrusted", `The certificate "${leaf.subject}" was not issued by a trusted CA.`);
  if (!issuer.native.ca) return fail("issuer-not-ca", `The issuer "${issuer.native.subject}" is not a CA.`);
  const leeway = options.leewayMs ?? 0;
  const at = now.getTime();
  if (at + leeway < leaf.validFromDate.getTime()) {
    return fail("not-yet-valid", `The certificate is not valid before ${leaf.validFromDate.toISOString()}.`);
  }
  if (at - leeway > leaf.validToDate.getTime()) {
    return fail("expired", `The certificate expired at ${leaf.validToDate.toISOString()}.`);
  }
  if (at < issuer.native.validFromDate.getTime() || at > issuer.native.validToDate.getTime()) {
    return fail(
      "issuer-expired",
      `The issuing CA "${issuer.native.subject}" is outside its validity period.`,
    );
  }
  return Promise.resolve({
    ok: true,
    issuer: {
      pem: issuer.pem,
      sha256: issuer.native.fingerprint256.replaceAll(":", "").toLowerCase(),
      subject: issuer.native.subject,
    },
    leaf: certificateInfo(splitPemBundle(leafPem)[0] ?? leafPem),
  });
}
