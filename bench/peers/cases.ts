/**
 * The rows of the bench's tables: which server, with which CA, driven in which driver mode, and what
 * one operation includes (docs/benchmarks.md#what-each-row-includes).
 */
import type { Group } from "./options.ts";

export type CaKey = "P-256" | "RSA-2048";
export type Server = "hub" | "step-ca" | "cfssl-db" | "cfssl" | "nginx";
export type DriverMode = "hub-csr" | "hub-e2e" | "step-ca" | "cfssl" | "get";

export interface Case {
  id: string;
  group: Group;
  label: string;
  ca: CaKey;
  server: Server;
  mode: DriverMode;
  /** mTLS rows: a new connection and full handshake per request. */
  newConn?: boolean;
}

export const issuanceCases: Case[] = [
  {
    id: "hub-csr-p256",
    group: "hub",
    label: "tether, CSR POST only (token, subject, record, audit)",
    ca: "P-256",
    server: "hub",
    mode: "hub-csr",
  },
  {
    id: "hub-e2e-p256",
    group: "hub",
    label: "tether, end to end (info + CSR, 2 one-time tokens)",
    ca: "P-256",
    server: "hub",
    mode: "hub-e2e",
  },
  {
    id: "step-ca-p256",
    group: "step-ca",
    label: "step-ca `POST /1.0/sign` (one-time JWT + CSR, badger DB, logs every issuance)",
    ca: "P-256",
    server: "step-ca",
    mode: "step-ca",
  },
  {
    id: "cfssl-db-p256",
    group: "cfssl",
    label: "cfssl sign + its SQLite cert DB",
    ca: "P-256",
    server: "cfssl-db",
    mode: "cfssl",
  },
  {
    id: "cfssl-p256",
    group: "cfssl",
    label: "cfssl sign, stores nothing",
    ca: "P-256",
    server: "cfssl",
    mode: "cfssl",
  },
  {
    id: "hub-csr-rsa",
    group: "hub",
    label: "tether, CSR POST only",
    ca: "RSA-2048",
    server: "hub",
    mode: "hub-csr",
  },
  {
    id: "step-ca-rsa",
    group: "step-ca",
    label: "step-ca",
    ca: "RSA-2048",
    server: "step-ca",
    mode: "step-ca",
  },
];

export const mtlsCases: Case[] = [
  {
    id: "hub-mtls-keepalive",
    group: "mtls",
    label: "tether `GET /v1/runtimes/management/info`, keep-alive",
    ca: "P-256",
    server: "hub",
    mode: "get",
  },
  {
    id: "nginx-mtls-keepalive",
    group: "mtls",
    label: "nginx, static JSON over mTLS, keep-alive",
    ca: "P-256",
    server: "nginx",
    mode: "get",
  },
  {
    id: "hub-mtls-handshake",
    group: "mtls",
    label: "tether management info, new TLS handshake each",
    ca: "P-256",
    server: "hub",
    mode: "get",
    newConn: true,
  },
  {
    id: "nginx-mtls-handshake",
    group: "mtls",
    label: "nginx, new TLS handshake each",
    ca: "P-256",
    server: "nginx",
    mode: "get",
    newConn: true,
  },
];

/** The nginx row an mTLS hub row is compared with. */
export function nginxPeer(c: Case): string | undefined {
  return c.server === "hub" && c.mode === "get" ? c.id.replace(/^hub-/, "nginx-") : undefined;
}
