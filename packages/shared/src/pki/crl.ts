/**
 * Certificate revocation lists (RFC 5280 §5): one per CA, signed by it, with the CRL number and the
 * authority key identifier, listing the serials of the certificates it issued that are revoked.
 *
 * The DER is written here rather than by @peculiar/x509's X509CrlGenerator: that one's ASN.1 work
 * takes over a second per thousand entries, and a fleet's CRL holds a hundred thousand. The issuer,
 * signature algorithm, authority key identifier and key come from the CA's signer, as for the
 * certificates it issues (docs/pki.md#how-a-certificate-is-built).
 */
import type { CertificateAuthority } from "./ca.ts";
import { bitString, context, extension, integer, lengthBytes, sequence, time } from "./der.ts";
import { signerOf } from "./signer.ts";

export interface CrlEntry {
  /** Hex, as the store keeps it. */
  serial: string;
  revokedAt: Date;
}

export interface CrlOptions {
  ca: CertificateAuthority;
  entries: readonly CrlEntry[];
  thisUpdate: Date;
  nextUpdate: Date;
  /** The CRL number: must grow with every CRL the CA issues. */
  number: bigint;
}

const CRL_NUMBER_OID = "2.5.29.20";

/** The DER of the CRL. */
export function createCrl(opts: CrlOptions): Uint8Array {
  const signer = signerOf(opts.ca);
  const revoked = revokedCertificates(opts.entries);
  const tbs = sequence(
    integer("1"), // v2
    signer.algorithm,
    signer.issuerName,
    time(opts.thisUpdate),
    time(opts.nextUpdate),
    ...(opts.entries.length > 0 ? [revoked] : []),
    context(
      0,
      sequence(signer.authorityKeyId, extension(CRL_NUMBER_OID, false, integer(opts.number.toString(16)))),
    ),
  );
  return new Uint8Array(sequence(tbs, signer.algorithm, bitString(signer.sign(tbs))));
}

/**
 * `SEQUENCE OF SEQUENCE { serial INTEGER, revocationDate Time }`, written into one buffer: a
 * hundred thousand entries would otherwise cost several small buffers each.
 */
function revokedCertificates(entries: readonly CrlEntry[]): Buffer {
  const times = new Map<number, Buffer>();
  const encoded = entries.map((entry) => {
    const at = entry.revokedAt.getTime();
    let when = times.get(at);
    if (when === undefined) times.set(at, (when = time(entry.revokedAt)));
    return { serial: integer(entry.serial), when };
  });
  const bodyLength = (e: { serial: Buffer; when: Buffer }) => e.serial.length + e.when.length;
  const total = encoded.reduce((sum, e) => sum + 1 + lengthBytes(bodyLength(e)).length + bodyLength(e), 0);
  const header = [0x30, ...lengthBytes(total)];
  const out = Buffer.allocUnsafe(header.length + total);
  out.set(header, 0);
  let offset = header.length;
  for (const e of encoded) {
    const entryHeader = [0x30, ...lengthBytes(bodyLength(e))];
    out.set(entryHeader, offset);
    offset += entryHeader.length;
    offset += e.serial.copy(out, offset);
    offset += e.when.copy(out, offset);
  }
  return out;
}
