import { createHash } from "node:crypto";
import { pemToDer } from "./pem.ts";

/** Lower-case hex SHA-256 of the DER (of the first PEM block when given text): the hub's certificate id. */
export function sha256Fingerprint(pemOrDer: string | Uint8Array): string {
  const der = typeof pemOrDer === "string" ? pemToDer(pemOrDer) : pemOrDer;
  return createHash("sha256").update(der).digest("hex");
}
