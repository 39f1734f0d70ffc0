/**
 * A dependency-free check of hub responses for the spoke. It reads the same schema objects the hub
 * serves, so the two cannot drift, and supports just the keywords those schemas use. Unlike the hub's
 * validation it ignores unknown properties (a Kyma connector adds eventsUrl and friends) and drops
 * them from the result, so only the fields tether knows about travel further.
 */
import type { CertificatesResponse, CsrInfo, ManagementInfo } from "./runtime-api.ts";
import { certificatesResponseSchema, csrInfoSchema, managementInfoSchema } from "./runtime-api.ts";

export interface ShapeSchema {
  readonly type?: string | readonly string[];
  readonly properties?: Readonly<Record<string, ShapeSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean | ShapeSchema;
  readonly items?: ShapeSchema;
  readonly enum?: readonly unknown[];
  readonly pattern?: string;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly format?: string;
}

/** Names the response and the field, e.g. `CSR info: field "api.infoUrl" is missing`. */
export class ContractError extends Error {
  readonly field: string;
  constructor(what: string, field: string, problem: string) {
    super(`${what}: ${field === "" ? "the body" : `field "${field}"`} ${problem}`);
    this.name = "ContractError";
    this.field = field;
  }
}

/** Checks `value` against `schema` and returns a copy without unknown properties. */
export function checkShape<T = unknown>(schema: ShapeSchema, value: unknown, what = "response"): T {
  return checkValue(schema, value, what, "") as T;
}

export const checkCsrInfo = (value: unknown): CsrInfo => checkShape(csrInfoSchema, value, "CSR info");
export const checkCertificatesResponse = (value: unknown): CertificatesResponse =>
  checkShape(certificatesResponseSchema, value, "certificates response");
export const checkManagementInfo = (value: unknown): ManagementInfo =>
  checkShape(managementInfoSchema, value, "management info");

function checkValue(schema: ShapeSchema, value: unknown, what: string, field: string): unknown {
  const types =
    schema.type === undefined ? [] : typeof schema.type === "string" ? [schema.type] : schema.type;
  if (types.length > 0 && !types.some((type) => hasType(value, type))) {
    throw new ContractError(
      what,
      field,
      `must be ${types.map(article).join(" or ")}, got ${describe(value)}`,
    );
  }
  if (schema.enum && !schema.enum.includes(value)) {
    const allowed = schema.enum.map((v) => JSON.stringify(v)).join(", ");
    throw new ContractError(what, field, `must be one of ${allowed}, got ${describe(value)}`);
  }
  if (typeof value === "string") checkString(schema, value, what, field);
  if (Array.isArray(value)) {
    const list: unknown[] = value;
    const items = schema.items;
    return items ? list.map((item, i) => checkValue(items, item, what, `${field}[${i}]`)) : [...list];
  }
  if (isObject(value)) return checkObject(schema, value, what, field);
  return value;
}

function checkString(schema: ShapeSchema, value: string, what: string, field: string): void {
  if (schema.minLength !== undefined && value.length < schema.minLength) {
    throw new ContractError(what, field, value === "" ? "is empty" : `is shorter than ${schema.minLength}`);
  }
  if (schema.maxLength !== undefined && value.length > schema.maxLength) {
    throw new ContractError(what, field, `is longer than ${schema.maxLength}`);
  }
  if (schema.pattern !== undefined && !new RegExp(schema.pattern, "u").test(value)) {
    throw new ContractError(what, field, `has an invalid format: ${describe(value)}`);
  }
  if (schema.format === "uri" && !isAbsoluteUrl(value)) {
    throw new ContractError(what, field, `must be an absolute URL, got ${describe(value)}`);
  }
}

function checkObject(schema: ShapeSchema, value: Record<string, unknown>, what: string, field: string) {
  const result: Record<string, unknown> = {};
  const prefix = field === "" ? "" : `${field}.`;
  for (const name of schema.required ?? []) {
    if (value[name] === undefined) throw new ContractError(what, `${prefix}${name}`, "is missing");
  }
  for (const [name, child] of Object.entries(value)) {
    const known = schema.properties?.[name];
    const extra = typeof schema.additionalProperties === "object" ? schema.additionalProperties : undefined;
    const childSchema = known ?? extra;
    if (childSchema && child !== undefined)
      result[name] = checkValue(childSchema, child, what, `${prefix}${name}`);
  }
  return result;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case "object":
      return isObject(value);
    case "array":
      return Array.isArray(value);
    case "null":
      return value === null;
    case "integer":
      return Number.isInteger(value);
    default:
      return typeof value === type;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isAbsoluteUrl(value: string): boolean {
  try {
    return new URL(value).protocol.length > 1;
  } catch {
    return false;
  }
}

function article(type: string): string {
  return type === "null" ? "null" : `${/^[aeiou]/.test(type) ? "an" : "a"} ${type}`;
}

/** Short enough for a status message; the values checked here are URLs and certificates, not secrets. */
function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
