/**
 * A hub on real sockets for tests: external TLS and internal HTTP on port 0, an in-memory SQLite
 * store (or the one given), a fresh CA, a fake clock starting at the real now (clients check the
 * serving certificate against the real time), and its log lines kept for inspection.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import type { Logger } from "pino";
import type { Test } from "tap";
import { Agent, request, type Dispatcher } from "undici";
import {
  createCsr,
  createKeyring,
  createSelfSignedCa,
  decodeBase64Pem,
  encodeBase64Pem,
  exportPrivateKeyPem,
  generateKeyPair,
  loadCa,
  parseSubject,
  type CaKeyring,
  type KeyAlgorithm,
  type KeyPair,
  type Subject,
} from "@tether/shared/pki";
import type { CertificatesResponse, CsrInfo, TokenResponse } from "@tether/shared/contract";
import { FakeClock } from "@tether/shared/time";
import { buildApp, type HubApp } from "../../src/app.ts";
import { Audit } from "../../src/audit.ts";
import { loadKek } from "../../src/ca/kek.ts";
import { CaRotation } from "../../src/ca/rotation.ts";
import { issuedServingCertificate, type ServingCertificate } from "../../src/ca/serving.ts";
import { parseConfig, type HubConfig } from "../../src/config.ts";
import { createLogger } from "../../src/logger.ts";
import { openSqliteStore } from "../../src/store/sqlite.ts";
import type { Store } from "../../src/store/store.ts";
import { ensureAdminToken, readAdminToken } from "../../src/tokens/admin-token.ts";

export interface TestHub {
  app: HubApp;
  config: HubConfig;
  store: Store;
  clock: FakeClock;
  /** The live keyring (rotation.keyring): the store's CAs as this hub sees them. */
  keyring: CaKeyring;
  rotation: CaRotation;
  /** https://localhost:<port>, as the hub prints its URLs. */
  publicUrl: string;
  internalUrl: string;
  /** What a client trusts for the serving certificate (the hub CA). */
  caPem: string;
  adminToken: string;
  logs: string[];
  /** An agent trusting the hub, without a client certificate. */
  agent: Agent;
}

export function tempDir(t: Test, prefix = "tether-hub-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function newKeyring(commonName = "test hub CA", clock?: FakeClock): Promise<CaKeyring> {
  const { certPem, keyPem } = await createSelfSignedCa({ commonName, clock });
  return createKeyring(await loadCa(certPem, keyPem));
}

export async function startHub(
  t: Test,
  options: {
    flags?: string[];
    store?: Store;
    keyring?: CaKeyring;
    servingValidityMs?: number;
    /** Another serving certificate than one issued by the hub CA for localhost. */
    serving?: (log: Logger) => Promise<ServingCertificate>;
  } = {},
): Promise<TestHub> {
  const dataDir = tempDir(t);
  const config = parseConfig(
    [
      "--listen",
      "127.0.0.1:0",
      "--internal-listen",
      "127.0.0.1:0",
      "--data-dir",
      dataDir,
      ...(options.flags ?? []),
    ],
    {},
  );
  const clock = new FakeClock(new Date());
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString("utf8"));
      done();
    },
  });
  const logger = createLogger({ level: "info", destination });
  let store = options.store;
  if (!store) {
    const sqlite = openSqliteStore(":memory:");
    await sqlite.migrate();
    store = sqlite;
  }
  const initial = options.keyring ?? (await newKeyring("test hub CA", clock));
  // As main.ts does: the store's CAs (seeded with `initial` when it has none) are the keyring.
  const rotation = await CaRotation.open({
    store,
    kek: (await loadKek({ kek: config.caKek, kekFile: config.caKekFile, dataDir })).kek,
    clock,
    audit: new Audit(store, clock, logger),
    log: logger,
    settings: { ...config.caRotation, supersededGraceMs: config.supersededGraceMs },
    initial: () => Promise.resolve(initial.active),
    local: [initial.active],
  });
  const keyring = rotation.keyring;
  const serving = options.serving
    ? await options.serving(logger)
    : await issuedServingCertificate({
        keyring,
        hosts: ["localhost", "127.0.0.1"],
        validityMs: options.servingValidityMs ?? 90 * 86_400_000,
        clock,
        log: logger,
      });
  await ensureAdminToken({ store, clock, dataDir, explicit: undefined });
  const app = await buildApp(config, { store, keyring, rotation, serving, clock, logger });
  const addresses = await app.listen();
  const agent = new Agent({ connect: { ca: keyring.active.certPem } });
  const ownStore = store;
  t.teardown(async () => {
    await agent.close();
    await app.close();
    if (!options.store) await ownStore.close();
  });
  return {
    app,
    config,
    store,
    clock,
    keyring,
    rotation,
    publicUrl: `https://localhost:${addresses.external.port}`,
    internalUrl: `http://127.0.0.1:${addresses.internal.port}`,
    caPem: keyring.active.certPem,
    adminToken: (await readAdminToken(dataDir))!,
    logs,
    agent,
  };
}

export interface Answer<T = unknown> {
  status: number;
  body: T;
  text: string;
  headers: Record<string, string | string[] | undefined>;
}

export async function call<T = Record<string, unknown>>(
  url: string,
  options: {
    method?: Dispatcher.HttpMethod;
    dispatcher?: Dispatcher;
    headers?: Record<string, string>;
    json?: unknown;
    body?: string;
  } = {},
): Promise<Answer<T>> {
  const headers = { ...options.headers };
  if (options.json !== undefined) headers["content-type"] = "application/json";
  const response = await request(url, {
    method: options.method ?? (options.json !== undefined || options.body !== undefined ? "POST" : "GET"),
    dispatcher: options.dispatcher,
    headers,
    body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
  });
  const text = await response.body.text();
  let body: unknown;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: response.statusCode, body: body as T, text, headers: response.headers };
}

export function adminHeaders(hub: TestHub, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${hub.adminToken}`, ...extra };
}

export async function createToken(
  hub: TestHub,
  options: { tenant?: string; group?: string; runtime?: string; ttl?: string } = {},
): Promise<TokenResponse> {
  const answer = await call<TokenResponse>(`${hub.internalUrl}/v1/runtimes/tokens`, {
    headers: adminHeaders(hub, { tenant: options.tenant ?? "acme", group: options.group ?? "prod" }),
    json: { runtime: options.runtime, ttl: options.ttl },
  });
  if (answer.status !== 201) throw new Error(`token create: ${answer.status} ${answer.text}`);
  return answer.body;
}

export async function csrInfo(hub: TestHub, url: string): Promise<CsrInfo> {
  const answer = await call<CsrInfo>(url, { dispatcher: hub.agent });
  if (answer.status !== 200) throw new Error(`csr info: ${answer.status} ${answer.text}`);
  return answer.body;
}

export async function csrBody(key: KeyPair, subject: Subject): Promise<{ csr: string }> {
  return { csr: encodeBase64Pem(await createCsr(key, subject)) };
}

export interface Enrolled {
  runtimeId: string;
  subject: Subject;
  key: KeyPair;
  keyPem: string;
  /** Leaf + issuing CA, as the hub returned it in `crt`. */
  certPem: string;
  response: CertificatesResponse;
  info: CsrInfo;
  /** An mTLS agent presenting this certificate. */
  agent: Agent;
}

/** token → info → CSR → certificate, as a spoke does it. */
export async function enrol(
  t: Test,
  hub: TestHub,
  options: { runtime?: string; algorithm?: KeyAlgorithm; tenant?: string; group?: string } = {},
): Promise<Enrolled> {
  const { url } = await createToken(hub, options);
  const info = await csrInfo(hub, url);
  const subject = parseSubject(info.certificate.subject);
  const key = await generateKeyPair(options.algorithm ?? "ecdsa-p256");
  const answer = await call<CertificatesResponse>(info.csrUrl, {
    dispatcher: hub.agent,
    json: await csrBody(key, subject),
  });
  if (answer.status !== 201) throw new Error(`certificate: ${answer.status} ${answer.text}`);
  const keyPem = await exportPrivateKeyPem(key);
  const certPem = decodeBase64Pem(answer.body.crt);
  return {
    runtimeId: subject.CN,
    subject,
    key,
    keyPem,
    certPem,
    response: answer.body,
    info,
    agent: mtlsAgent(t, hub, certPem, keyPem),
  };
}

export function mtlsAgent(t: Test, hub: TestHub, certPem: string, keyPem: string): Agent {
  const agent = new Agent({ connect: { ca: hub.caPem, cert: certPem, key: keyPem } });
  t.teardown(() => agent.close());
  return agent;
}

export const MANAGEMENT = "/v1/runtimes/management/info";
export const RENEWALS = "/v1/runtimes/certificates/renewals";
export const REVOCATIONS = "/v1/runtimes/certificates/revocations";

/** The body of every refusal. */
export const errorBody = (code: number, message: string) => ({ code, error: message });

/** Calls the three mTLS routes with `dispatcher` and returns their answers. */
export async function mtlsRoutes(hub: TestHub, dispatcher: Dispatcher, body: { csr: string }) {
  return {
    info: await call(hub.publicUrl + MANAGEMENT, { dispatcher }),
    renewal: await call(hub.publicUrl + RENEWALS, { dispatcher, json: body }),
    revocation: await call(hub.publicUrl + REVOCATIONS, { dispatcher, method: "POST" }),
  };
}
