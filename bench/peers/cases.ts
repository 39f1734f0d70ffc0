/**
 * The rows of the bench's tables: which server, with which CA, driven in which driver mode, and what
 * one operation includes (docs/benchmarks.md#what-each-row-includes).
 */
import type { Group } from "./options.ts";

export type CaKey = "P-256" | "RSA-2048";
export type Server = "hub" | "step-ca" | "cfssl-db" | "cfssl" | "nginx" | "node-json" | "node-csr";
export type DriverMode = "hub-csr" | "hub-e2e" | "step-ca" | "cfssl" | "csr" | "get";

export interface Case {
  id: string;
  group: Group;
  label: string;
  ca: CaKey;
  server: Server;
  mode: DriverMode;
  /** mTLS rows: a new connection and full handshake per request. */
  newConn?: boolean;
  /** The bare node:https rows: processes sharing the listener (node:cluster). */
  workers?: number;
  /** The rows this one's ratio columns divide by, by id. */
  compare?: { nginx?: string; node?: string };
}

export const issuanceCases: Case[] = [
  {
    id: "hub-csr-p256",
    group: "hub",
    label: "tether, CSR POST only (token, subject, record, audit)",
    ca: "P-256",
    server: "hub",
    mode: "hub-csr",
    compare: { node: "node-csr-p256" },
  },
  {
    id: "hub-e2e-p256",
    group: "hub",
    label: "tether, end to end (info + CSR, 2 one-time tokens)",
    ca: "P-256",
    server: "hub",
    mode: "hub-e2e",
    compare: { node: "node-csr-p256" },
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
    id: "node-csr-p256",
    group: "hub",
    label: "node:https + CSR → certificate, nothing stored (one process)",
    ca: "P-256",
    server: "node-csr",
    mode: "csr",
    workers: 1,
  },
  {
    id: "node-csr-p256-x2",
    group: "hub",
    label: "node:https + CSR → certificate, nothing stored, node:cluster × 2",
    ca: "P-256",
    server: "node-csr",
    mode: "csr",
    workers: 2,
  },
  {
    id: "hub-csr-rsa",
    group: "hub",
    label: "tether, CSR POST only",
    ca: "RSA-2048",
    server: "hub",
    mode: "hub-csr",
    compare: { node: "node-csr-rsa" },
  },
  {
    id: "step-ca-rsa",
    group: "step-ca",
    label: "step-ca",
    ca: "RSA-2048",
    server: "step-ca",
    mode: "step-ca",
  },
  {
    id: "node-csr-rsa",
    group: "hub",
    label: "node:https + CSR → certificate, nothing stored (one process)",
    ca: "RSA-2048",
    server: "node-csr",
    mode: "csr",
    workers: 1,
  },
];

/** The mTLS rows: the hub, nginx and the bare node:https server, kept alive and with a new handshake each. */
export const mtlsCases: Case[] = [false, true].flatMap((newConn): Case[] => {
  const each = newConn ? "new TLS handshake each" : "keep-alive";
  const mode = newConn ? "handshake" : "keepalive";
  const base = { group: "mtls", ca: "P-256", mode: "get", newConn } as const;
  const nginx = `nginx-mtls-${mode}`;
  return [
    {
      ...base,
      id: `hub-mtls-${mode}`,
      label: newConn
        ? `tether management info, ${each}`
        : `tether \`GET /v1/runtimes/management/info\`, ${each}`,
      server: "hub",
      compare: { nginx, node: `node-mtls-${mode}` },
    },
    {
      ...base,
      id: nginx,
      label: newConn ? `nginx, ${each}` : `nginx, static JSON over mTLS, ${each}`,
      server: "nginx",
    },
    {
      ...base,
      id: `node-mtls-${mode}`,
      label: newConn ? `node:https, ${each}` : `node:https, static JSON over mTLS (one process), ${each}`,
      server: "node-json",
      workers: 1,
      compare: { nginx },
    },
    {
      ...base,
      id: `node-x2-mtls-${mode}`,
      label: `node:https, node:cluster × 2, ${each}`,
      server: "node-json",
      workers: 2,
      compare: { nginx },
    },
  ];
});
