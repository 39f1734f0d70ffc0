import { PkiError } from "./errors.ts";
import type { x509 } from "./x509.ts";

/** The six fields of a runtime's certificate subject (Kyma: O tenant, OU group, CN runtime id). */
export interface Subject {
  CN: string;
  O: string;
  OU: string;
  L: string;
  ST: string;
  C: string;
}

/** The order of the Kyma subject string. */
const TEXT_ORDER = ["O", "OU", "L", "ST", "C", "CN"] as const;
/** The order of the RDNs in CSRs and certificates we build (most general first, as usual). */
const NAME_ORDER = ["C", "ST", "L", "O", "OU", "CN"] as const;
type Field = (typeof TEXT_ORDER)[number];

function isField(key: string): key is Field {
  return (TEXT_ORDER as readonly string[]).includes(key);
}

function checkValue(field: string, value: string): void {
  // The subject string has no escaping (Kyma clients split on ',' and '='), so such values cannot round-trip.
  if (/[,=]/.test(value)) {
    throw new PkiError(
      "subject",
      `Subject: the ${field} value ${JSON.stringify(value)} contains ',' or '='.`,
    );
  }
}

/** "O=<tenant>,OU=<group>,L=<l>,ST=<st>,C=<c>,CN=<runtime id>" */
export function formatSubject(s: Subject): string {
  return TEXT_ORDER.map((field) => {
    checkValue(field, s[field]);
    return `${field}=${s[field]}`;
  }).join(",");
}

/** Reads the subject string in any field order; every field exactly once, nothing else. */
export function parseSubject(text: string): Subject {
  const found: Partial<Record<Field, string>> = {};
  for (const part of text.split(",")) {
    const [key = "", value, extra] = part.split("=");
    const field = key.trim();
    if (value === undefined || extra !== undefined) {
      throw new PkiError("subject", `Subject: ${JSON.stringify(part)} is not one KEY=value pair.`);
    }
    if (!isField(field)) throw new PkiError("subject", `Subject: unknown field ${JSON.stringify(field)}.`);
    if (found[field] !== undefined) throw new PkiError("subject", `Subject: ${field} appears twice.`);
    found[field] = value;
  }
  const missing = TEXT_ORDER.filter((field) => found[field] === undefined);
  if (missing.length > 0) throw new PkiError("subject", `Subject: missing ${missing.join(", ")}.`);
  return found as Subject;
}

/**
 * The Subject in an X.500 name. A field that is absent reads as "", one that appears more than once
 * as its values joined by "," so that it can never equal a valid expected value.
 */
export function subjectOf(name: x509.Name): Subject {
  const read = (field: Field) => name.getField(field).join(",");
  return { CN: read("CN"), O: read("O"), OU: read("OU"), L: read("L"), ST: read("ST"), C: read("C") };
}

export { subjectFields, type SubjectField } from "../contract/errors.ts";

/** The X.500 name of a subject, one attribute per RDN, for the certificate and CSR generators. */
export function subjectToJsonName(s: Subject): x509.JsonName {
  return NAME_ORDER.map((field) => ({ [field]: [s[field]] }));
}

/** Every value of each field, so that a policy check can tell "absent" and "repeated" from a match. */
export function subjectValues(name: x509.Name): Record<Field, string[]> {
  return {
    CN: name.getField("CN"),
    O: name.getField("O"),
    OU: name.getField("OU"),
    L: name.getField("L"),
    ST: name.getField("ST"),
    C: name.getField("C"),
  };
}
