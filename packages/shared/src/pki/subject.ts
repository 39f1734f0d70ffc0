import { DerError, DerReader, Tag, oid, sequence, set, tlv, valueOf, type Element } from "./der.ts";
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
 * The Subject in an X.500 name's values. A field that is absent reads as "", one that appears more
 * than once as its values joined by "," so that it can never equal a valid expected value.
 */
export function subjectOf(values: Record<Field, string[]>): Subject {
  const read = (field: Field) => values[field].join(",");
  return { CN: read("CN"), O: read("O"), OU: read("OU"), L: read("L"), ST: read("ST"), C: read("C") };
}

export { subjectFields, type SubjectField } from "../contract/errors.ts";

/** The X.500 name of a subject, one attribute per RDN, for the certificate and CSR generators. */
export function subjectToJsonName(s: Subject): x509.JsonName {
  return NAME_ORDER.map((field) => ({ [field]: [s[field]] }));
}

const ATTRIBUTE_TYPES: Record<Field, Buffer> = {
  C: oid("2.5.4.6"),
  ST: oid("2.5.4.8"),
  L: oid("2.5.4.7"),
  O: oid("2.5.4.10"),
  OU: oid("2.5.4.11"),
  CN: oid("2.5.4.3"),
};
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/;

/**
 * The X.500 name DER of a subject: one attribute per RDN in NAME_ORDER, each a PrintableString when
 * its characters allow, else a UTF8String (the choice @peculiar/x509 made for the certificates
 * issued before).
 */
export function subjectName(s: Subject): Buffer {
  return sequence(
    ...NAME_ORDER.map((field) => {
      const value = s[field];
      const text = PRINTABLE.test(value)
        ? tlv(Tag.printableString, Buffer.from(value, "latin1"))
        : tlv(Tag.utf8String, Buffer.from(value, "utf8"));
      return set(sequence(ATTRIBUTE_TYPES[field], text));
    }),
  );
}

/**
 * Every value of each subject field in the Name at `element` of `der`; attributes of other types are
 * skipped. Throws DerError when the Name is not `SEQUENCE OF SET OF SEQUENCE { type, value }`.
 */
export function nameValues(der: Uint8Array, element: Element): Record<Field, string[]> {
  const values: Record<Field, string[]> = { CN: [], O: [], OU: [], L: [], ST: [], C: [] };
  if (element.tag !== Tag.sequence) throw new DerError(`not a Name at ${element.start}`);
  const rdns = DerReader.inside(der, element);
  while (!rdns.atEnd()) {
    const attributes = DerReader.inside(der, rdns.next(Tag.set));
    if (attributes.atEnd()) throw new DerError("empty RDN");
    while (!attributes.atEnd()) {
      const pair = DerReader.inside(der, attributes.next(Tag.sequence));
      const type = pair.next(Tag.oid);
      const value = pair.next();
      pair.finish();
      const typeBytes = der.subarray(type.start, type.end);
      for (const field of TEXT_ORDER) {
        if (ATTRIBUTE_TYPES[field].equals(typeBytes)) values[field].push(attributeText(der, value));
      }
    }
  }
  return values;
}

/** A directory string as text; any other type as the hex of its DER, which no expected value equals. */
function attributeText(der: Uint8Array, value: Element): string {
  const bytes = Buffer.from(valueOf(der, value));
  switch (value.tag) {
    case Tag.utf8String:
      return bytes.toString("utf8");
    case Tag.printableString:
    case Tag.ia5String:
    case Tag.teletexString:
      return bytes.toString("latin1");
    case Tag.bmpString:
      return bytes.length % 2 === 0 ? Buffer.from(bytes).swap16().toString("utf16le") : hexOf(der, value);
    case Tag.universalString: {
      if (bytes.length % 4 !== 0) return hexOf(der, value);
      let text = "";
      for (let i = 0; i < bytes.length; i += 4)
        text += String.fromCodePoint(bytes.readUInt32BE(i) % 0x110000);
      return text;
    }
    default:
      return hexOf(der, value);
  }
}

function hexOf(der: Uint8Array, value: Element): string {
  return Buffer.from(der.subarray(value.start, value.end)).toString("hex");
}
