/**
 * DER (X.690) written and read directly, for the few structures the hub makes and reads on every
 * request (docs/pki.md#how-a-certificate-is-built): leaf certificates, CSRs and CRLs. A generic
 * ASN.1 library builds an object tree per element; these build the bytes.
 */

export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  teletexString: 0x14,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  universalString: 0x1c,
  bmpString: 0x1e,
  sequence: 0x30,
  set: 0x31,
} as const;

// ---------------------------------------------------------------------------------------------
// Writing

export function lengthBytes(length: number): number[] {
  if (length < 0x80) return [length];
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return [0x80 | bytes.length, ...bytes];
}

/** One element: tag, length, and the parts concatenated as its value. */
export function tlv(tag: number, ...parts: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const part of parts) length += part.length;
  const header = lengthBytes(length);
  const out = Buffer.allocUnsafe(1 + header.length + length);
  out[0] = tag;
  out.set(header, 1);
  let offset = 1 + header.length;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export const sequence = (...parts: readonly Uint8Array[]): Buffer => tlv(Tag.sequence, ...parts);
export const set = (...parts: readonly Uint8Array[]): Buffer => tlv(Tag.set, ...parts);
export const octetString = (bytes: Uint8Array): Buffer => tlv(Tag.octetString, bytes);
/** A context-specific constructed tag: [n] EXPLICIT, or [n] IMPLICIT of a constructed type. */
export const context = (n: number, ...parts: readonly Uint8Array[]): Buffer => tlv(0xa0 | n, ...parts);
/** A context-specific primitive tag: [n] IMPLICIT of a primitive type. */
export const contextPrimitive = (n: number, bytes: Uint8Array): Buffer => tlv(0x80 | n, bytes);
export const TRUE = Buffer.from([Tag.boolean, 1, 0xff]);
export const NULL = Buffer.from([Tag.null, 0]);

/** A BIT STRING of whole bytes (keys, signatures). */
export function bitString(bytes: Uint8Array): Buffer {
  return tlv(Tag.bitString, Buffer.from([0]), bytes);
}

/** A non-negative INTEGER from hex digits (serials, CRL numbers). */
export function integer(hex: string): Buffer {
  let digits = hex.replace(/^0+(?=.)/, "");
  if (digits.length % 2 === 1) digits = `0${digits}`;
  // A leading byte with the high bit set would read as negative.
  if (/^[89a-f]/i.test(digits)) digits = `00${digits}`;
  return tlv(Tag.integer, Buffer.from(digits, "hex"));
}

const oids = new Map<string, Buffer>();

/** An OBJECT IDENTIFIER from its dotted form; each one is encoded once and kept (callers do not write into it). */
export function oid(dotted: string): Buffer {
  let encoded = oids.get(dotted);
  if (encoded === undefined) oids.set(dotted, (encoded = encodeOid(dotted)));
  return encoded;
}

function encodeOid(dotted: string): Buffer {
  const arcs = dotted.split(".").map((arc) => {
    if (!/^\d+$/.test(arc)) throw new Error(`Not an object identifier: ${dotted}`);
    return BigInt(arc);
  });
  const [first = 0n, second = 0n, ...rest] = arcs;
  const bytes: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const groups = [Number(arc & 0x7fn)];
    for (let value = arc >> 7n; value > 0n; value >>= 7n) groups.unshift(Number(value & 0x7fn) | 0x80);
    bytes.push(...groups);
  }
  return tlv(Tag.oid, Buffer.from(bytes));
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5); whole seconds, Z. */
export function time(date: Date): Buffer {
  const year = date.getUTCFullYear();
  const utc = year < 2050;
  const out = Buffer.allocUnsafe(utc ? 15 : 17);
  out[0] = utc ? Tag.utcTime : Tag.generalizedTime;
  out[1] = out.length - 2;
  let offset = 2;
  const put = (value: number, digits: number) => {
    for (let i = digits - 1; i >= 0; i--) {
      out[offset + i] = 0x30 + (value % 10);
      value = Math.floor(value / 10);
    }
    offset += digits;
  };
  if (utc) put(year % 100, 2);
  else put(year, 4);
  put(date.getUTCMonth() + 1, 2);
  put(date.getUTCDate(), 2);
  put(date.getUTCHours(), 2);
  put(date.getUTCMinutes(), 2);
  put(date.getUTCSeconds(), 2);
  out[offset] = 0x5a; // Z
  return out;
}

/** One X.509 extension: `SEQUENCE { extnID, critical (only when TRUE), extnValue OCTET STRING }`. */
export function extension(id: string, critical: boolean, value: Uint8Array): Buffer {
  return critical ? sequence(oid(id), TRUE, octetString(value)) : sequence(oid(id), octetString(value));
}

// ---------------------------------------------------------------------------------------------
// Reading

/** The input is not the DER it should be; the caller turns it into its own error. */
export class DerError extends Error {
  override name = "DerError";
}

/** One element of `bytes`: the value is bytes[valueStart, end), the whole TLV bytes[start, end). */
export interface Element {
  tag: number;
  start: number;
  valueStart: number;
  end: number;
}

/**
 * Reads the elements between `start` and `end` one after the other. Strict DER framing: one-byte
 * tags, definite minimal lengths, nothing past `end`. What an element contains is the caller's to check.
 */
export class DerReader {
  readonly bytes: Uint8Array;
  #offset: number;
  readonly #end: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.#offset = start;
    this.#end = end;
  }

  /** A reader over the value of a constructed element. */
  static inside(bytes: Uint8Array, element: Element): DerReader {
    return new DerReader(bytes, element.valueStart, element.end);
  }

  atEnd(): boolean {
    return this.#offset >= this.#end;
  }

  peekTag(): number | undefined {
    return this.atEnd() ? undefined : this.bytes[this.#offset];
  }

  /** The next element; with `tag`, it must carry that tag. */
  next(tag?: number): Element {
    const bytes = this.bytes;
    const start = this.#offset;
    if (start + 2 > this.#end) throw new DerError(`truncated element at ${start}`);
    const found = bytes[start] ?? 0;
    if ((found & 0x1f) === 0x1f) throw new DerError(`multi-byte tag at ${start}`);
    if (tag !== undefined && found !== tag) {
      throw new DerError(`expected tag 0x${tag.toString(16)} at ${start}, found 0x${found.toString(16)}`);
    }
    let length = bytes[start + 1] ?? 0;
    let valueStart = start + 2;
    if (length & 0x80) {
      const count = length & 0x7f;
      // 0x80 is BER's indefinite length; four bytes already say 4 GiB.
      if (count === 0 || count > 4) throw new DerError(`unsupported length form at ${start}`);
      if (valueStart + count > this.#end) throw new DerError(`truncated length at ${start}`);
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + (bytes[valueStart + i] ?? 0);
      if (length < 0x80 || (bytes[valueStart] ?? 0) === 0)
        throw new DerError(`non-minimal length at ${start}`);
      valueStart += count;
    }
    const end = valueStart + length;
    if (end > this.#end) throw new DerError(`element at ${start} runs past its container`);
    this.#offset = end;
    return { tag: found, start, valueStart, end };
  }

  /** Throws unless every byte has been read. */
  finish(): void {
    if (!this.atEnd()) throw new DerError(`trailing bytes at ${this.#offset}`);
  }
}

export function valueOf(bytes: Uint8Array, element: Element): Uint8Array {
  return bytes.subarray(element.valueStart, element.end);
}

export function rawOf(bytes: Uint8Array, element: Element): Uint8Array {
  return bytes.subarray(element.start, element.end);
}

/** Whether an OBJECT IDENTIFIER element is `expected` (the full TLV that `oid()` writes). */
export function isOid(bytes: Uint8Array, element: Element, expected: Uint8Array): boolean {
  return element.tag === Tag.oid && Buffer.compare(rawOf(bytes, element), expected) === 0;
}

/** The content of a BIT STRING that holds whole bytes. */
export function bitStringBytes(bytes: Uint8Array, element: Element): Uint8Array {
  if (element.tag !== Tag.bitString || element.end === element.valueStart) {
    throw new DerError(`not a BIT STRING at ${element.start}`);
  }
  if (bytes[element.valueStart] !== 0) throw new DerError(`BIT STRING with unused bits at ${element.start}`);
  return bytes.subarray(element.valueStart + 1, element.end);
}

/** A UTCTime (years 1950-2049) or GeneralizedTime in RFC 5280's form: whole seconds, Z. */
export function readTime(bytes: Uint8Array, element: Element): Date {
  const text = Buffer.from(valueOf(bytes, element)).toString("latin1");
  const match =
    element.tag === Tag.utcTime
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
      : element.tag === Tag.generalizedTime
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
        : null;
  if (match === null) throw new DerError(`not an RFC 5280 time at ${element.start}`);
  const [year = 0, month = 1, day = 1, hours = 0, minutes = 0, seconds = 0] = match.slice(1).map(Number);
  const fullYear = element.tag === Tag.utcTime ? (year < 50 ? 2000 + year : 1900 + year) : year;
  const date = new Date(Date.UTC(fullYear, month - 1, day, hours, minutes, seconds));
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day)
    throw new DerError(`no such date: ${text}`);
  return date;
}
