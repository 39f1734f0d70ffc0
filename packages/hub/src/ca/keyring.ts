/**
 * The hub's CA keyring (docs/pki.md#the-ca-keyring): the CA from `--ca-cert`/`--ca-key`, or one generated on first start
 * into the data directory and read back on every later start. The keyring already has room for
 * more trusted CAs (rotation keeps the old one trusted); today it holds the one active CA.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createKeyring, createSelfSignedCa, loadCa, type CaKeyring } from "@tether/shared/pki";
import type { Clock } from "@tether/shared/time";

export const CA_CERT_FILE = "ca.crt";
export const CA_KEY_FILE = "ca.key";

export interface LoadedKeyring {
  keyring: CaKeyring;
  /** Where the active CA certificate lives, for the operator. */
  certPath: string;
  generated: boolean;
}

export async function loadKeyring(options: {
  caCert: string | undefined;
  caKey: string | undefined;
  dataDir: string;
  clock: Clock;
}): Promise<LoadedKeyring> {
  if (options.caCert !== undefined && options.caKey !== undefined) {
    const ca = await loadCa(await readFile(options.caCert, "utf8"), await readFile(options.caKey, "utf8"));
    return { keyring: createKeyring(ca), certPath: options.caCert, generated: false };
  }
  const certPath = join(options.dataDir, CA_CERT_FILE);
  const keyPath = join(options.dataDir, CA_KEY_FILE);
  let generated = false;
  if (!existsSync(certPath) || !existsSync(keyPath)) {
    await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
    const { certPem, keyPem } = await createSelfSignedCa({
      commonName: "tether hub CA",
      clock: options.clock,
    });
    // The key first and exclusively ("wx"): two replicas starting on one fresh volume must not mix halves.
    await writeFile(keyPath, keyPem, { mode: 0o600, flag: "wx" });
    await writeFile(certPath, certPem, { mode: 0o600, flag: "wx" });
    generated = true;
  }
  const ca = await loadCa(await readFile(certPath, "utf8"), await readFile(keyPath, "utf8"));
  return { keyring: createKeyring(ca), certPath, generated };
}
