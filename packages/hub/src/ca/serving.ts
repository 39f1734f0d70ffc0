/**
 * The external listener's certificate (docs/pki.md#the-serving-certificate): from `--tls-cert`/`--tls-key`, reloaded when the
 * files change, or issued by the hub CA for the public host and `--san`, renewed at 2/3 of its life.
 * Either way the app subscribes with `onChange` and swaps the new pair in with
 * `server.setSecureContext`: open connections keep their session, new handshakes get the new cert.
 */
import { unwatchFile, watchFile } from "node:fs";
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import type { FastifyBaseLogger } from "fastify";
import {
  createCsr,
  exportPrivateKeyPem,
  generateKeyPair,
  importPrivateKeyPem,
  issueCertificate,
  keyMatchesCertificate,
  parseCsr,
  splitPemBundle,
  certificateInfo,
  type CaKeyring,
} from "@tether/shared/pki";
import type { Clock } from "@tether/shared/time";

export interface ServingCredentials {
  keyPem: string;
  /** Leaf followed by its chain. */
  certPem: string;
  notAfter: Date;
  /** PEM a client needs to trust `certPem`, when that is a private CA (caBundle, bootstrap kubeconfig). */
  caPem: string | undefined;
}

export interface ServingCertificate {
  current(): ServingCredentials;
  onChange(listener: (credentials: ServingCredentials) => void): void;
  stop(): void;
}

/** Renew when this fraction of the lifetime has passed. */
export const SERVING_RENEW_FRACTION = 2 / 3;
const RETRY_MS = 60_000;

class Subscribers {
  #listeners: ((credentials: ServingCredentials) => void)[] = [];
  add(listener: (credentials: ServingCredentials) => void): void {
    this.#listeners.push(listener);
  }
  emit(credentials: ServingCredentials): void {
    for (const listener of this.#listeners) listener(credentials);
  }
}

/** A keyring that announces phase changes and knows its whole bundle (ca/live-keyring.ts). */
type WatchedKeyring = CaKeyring & {
  onChange?(listener: () => void): void;
  bundlePem?(withChains: boolean): string;
};

export async function issuedServingCertificate(options: {
  keyring: WatchedKeyring;
  hosts: string[];
  validityMs: number;
  clock: Clock;
  log: FastifyBaseLogger;
}): Promise<ServingCertificate> {
  const { keyring, clock, log } = options;
  const hosts = [...new Set(options.hosts)];
  /** The CA that signed the current certificate. */
  let issuer = "";
  const issue = async (): Promise<ServingCredentials> => {
    const key = await generateKeyPair("ecdsa-p256");
    const csr = await parseCsr(
      await createCsr(key, { CN: hosts[0] ?? "localhost", O: "", OU: "", L: "", ST: "", C: "" }),
    );
    const ca = keyring.active;
    const issued = await issueCertificate({
      csr,
      ca,
      clock,
      validityMs: options.validityMs,
      usage: "server",
      dnsNames: hosts.filter((h) => isIP(h) === 0),
      ipAddresses: hosts.filter((h) => isIP(h) !== 0),
    });
    const caPem = [ca.certPem, ...ca.chainPem].join("");
    issuer = ca.sha256;
    return {
      keyPem: await exportPrivateKeyPem(key),
      certPem: issued.pem + caPem,
      notAfter: issued.notAfter,
      caPem,
    };
  };

  let current = await issue();
  let notBefore = clock.now();
  const subscribers = new Subscribers();
  const stopped = new AbortController();
  // Re-issued from a new CA only once it is active: by then spokes have had the prepare period to
  // trust it (docs/pki.md#ca-rotation). Open connections keep the old certificate's session.
  keyring.onChange?.(() => {
    if (keyring.active.sha256 === issuer) return;
    issue().then(
      (credentials) => {
        current = credentials;
        notBefore = clock.now();
        log.info(
          { issuer, notAfter: current.notAfter.toISOString() },
          "serving certificate re-issued by the new active CA",
        );
        subscribers.emit(current);
      },
      (error: unknown) =>
        log.error(
          { err: error },
          "serving certificate re-issue failed; the next CA change or renewal retries",
        ),
    );
  });
  // Clients trust every CA the hub may serve from during a rotation: the bundle, not only the issuer.
  const withBundle = (credentials: ServingCredentials): ServingCredentials =>
    keyring.bundlePem ? { ...credentials, caPem: keyring.bundlePem(true) } : credentials;
  const renewLoop = async (): Promise<void> => {
    while (!stopped.signal.aborted) {
      const lifetime = current.notAfter.getTime() - notBefore.getTime();
      const renewAt = notBefore.getTime() + lifetime * SERVING_RENEW_FRACTION;
      try {
        await clock.sleep(renewAt - clock.now().getTime(), stopped.signal);
      } catch {
        return;
      }
      try {
        current = await issue();
        notBefore = clock.now();
        log.info({ notAfter: current.notAfter.toISOString(), hosts }, "serving certificate renewed");
        subscribers.emit(current);
      } catch (error) {
        log.error({ err: error }, "serving certificate renewal failed; retrying in a minute");
        await clock.sleep(RETRY_MS, stopped.signal).catch(() => undefined);
      }
    }
  };
  void renewLoop();
  return {
    current: () => withBundle(current),
    onChange: (listener) => subscribers.add((credentials) => listener(withBundle(credentials))),
    stop: () => stopped.abort(),
  };
}

export async function fileServingCertificate(options: {
  certFile: string;
  keyFile: string;
  caFile: string | undefined;
  intervalMs: number;
  log: FastifyBaseLogger;
}): Promise<ServingCertificate> {
  const { certFile, keyFile, caFile, log } = options;
  const read = async (): Promise<ServingCredentials> => {
    const [certPem, keyPem, caPem] = await Promise.all([
      readFile(certFile, "utf8"),
      readFile(keyFile, "utf8"),
      caFile === undefined ? undefined : readFile(caFile, "utf8"),
    ]);
    const leaf = splitPemBundle(certPem)[0];
    if (leaf === undefined) throw new Error(`${certFile} holds no certificate`);
    if (!(await keyMatchesCertificate(await importPrivateKeyPem(keyPem), leaf))) {
      throw new Error(`${keyFile} does not match ${certFile}`);
    }
    return { keyPem, certPem, notAfter: certificateInfo(leaf).notAfter, caPem };
  };

  let current = await read();
  const subscribers = new Subscribers();
  // Both files are watched: a cert-manager or kubelet update replaces them one after the other, and a
  // mismatched half-update is skipped until the second file lands.
  const reload = () => {
    read().then(
      (next) => {
        if (next.certPem === current.certPem && next.keyPem === current.keyPem) return;
        current = next;
        log.info(
          { certFile, notAfter: next.notAfter.toISOString() },
          "serving certificate reloaded from files",
        );
        subscribers.emit(next);
      },
      (error: unknown) =>
        log.warn(
          { err: error, certFile },
          "serving certificate files not usable yet; keeping the current one",
        ),
    );
  };
  const watched = [certFile, keyFile, ...(caFile === undefined ? [] : [caFile])];
  for (const file of watched) watchFile(file, { interval: options.intervalMs, persistent: false }, reload);
  return {
    current: () => current,
    onChange: (listener) => subscribers.add(listener),
    stop: () => {
      for (const file of watched) unwatchFile(file, reload);
    },
  };
}
