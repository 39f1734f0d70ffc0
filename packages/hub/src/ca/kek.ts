/**
 * The key-encryption key (docs/pki.md#ca-rotation): the CA private keys live in the store, shared by
 * every replica, encrypted with AES-256-GCM under this key, which lives outside the store (`--ca-kek-file`,
 * `TETHER_HUB_CA_KEK`, or a file generated in the data directory for a single embedded hub). A copy of
 * the database alone gives nobody a CA key.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

export const KEK_FILE = "ca-kek";
const FORMAT = "v1";

export interface Kek {
  /** First 16 hex digits of SHA-256 of the key: names it in ciphertexts and errors, reveals nothing. */
  id: string;
  key: Buffer;
  /** Where it came from, for the start-up log. */
  source: string;
}

export class KekError extends Error {
  override name = "KekError";
}

/** 32 bytes as base64 (`openssl rand -base64 32`) or 64 hex digits. */
export function parseKek(text: string, source: string): Kek {
  const trimmed = text.trim();
  const key = /^[0-9a-f]{64}$/i.test(trimmed) ? Buffer.from(trimmed, "hex") : Buffer.from(trimmed, "base64");
  if (key.length !== 32) {
    throw new KekError(
      `${source}: the CA key-encryption key must be 32 bytes, base64 or hex (openssl rand -base64 32)`,
    );
  }
  return { id: createHash("sha256").update(key).digest("hex").slice(0, 16), key, source };
}

export async function loadKek(options: {
  kek: string | undefined;
  kekFile: string | undefined;
  dataDir: string;
}): Promise<{ kek: Kek; generated: boolean }> {
  if (options.kek !== undefined) return { kek: parseKek(options.kek, "--ca-kek"), generated: false };
  if (options.kekFile !== undefined) {
    return { kek: parseKek(await readFile(options.kekFile, "utf8"), options.kekFile), generated: false };
  }
  const path = join(options.dataDir, KEK_FILE);
  let generated = false;
  if (!existsSync(path)) {
    await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
    // Exclusive: two processes on one fresh data directory must not each write a different key.
    await writeFile(path, randomBytes(32).toString("base64") + "\n", { mode: 0o600, flag: "wx" }).then(
      () => (generated = true),
      (error: NodeJS.ErrnoException) => {
        if (error.code !== "EEXIST") throw error;
      },
    );
  }
  return { kek: parseKek(await readFile(path, "utf8"), path), generated };
}

/** `v1.<kek id>.<iv>.<tag>.<ciphertext>`; the CA's SHA-256 is bound in as associated data. */
export function encryptCaKey(kek: Kek, keyPem: string, caSha256: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", kek.key, iv);
  cipher.setAAD(Buffer.from(caSha256));
  const ciphertext = Buffer.concat([cipher.update(keyPem, "utf8"), cipher.final()]);
  return [FORMAT, kek.id, iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === "string" ? part : part.toString("base64")))
    .join(".");
}

export function decryptCaKey(kek: Kek, text: string, caSha256: string): string {
  const [format, id, iv, tag, ciphertext] = text.split(".");
  if (format !== FORMAT || !iv || !tag || ciphertext === undefined) {
    throw new KekError(`The stored key of CA ${caSha256} is not in a format this hub reads.`);
  }
  if (id !== kek.id) {
    throw new KekError(
      `The key of CA ${caSha256} was encrypted with key-encryption key ${id}, this hub has ${kek.id} (${kek.source}): give every replica the same --ca-kek-file or TETHER_HUB_CA_KEK.`,
    );
  }
  try {
    const decipher = createDecipheriv("aes-256-gcm", kek.key, Buffer.from(iv, "base64"));
    decipher.setAAD(Buffer.from(caSha256));
    decipher.setAuthTag(Buffer.from(tag, "base64"));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, "base64")), decipher.final()]).toString(
      "utf8",
    );
  } catch {
    throw new KekError(`The stored key of CA ${caSha256} does not decrypt: it was altered.`);
  }
}
