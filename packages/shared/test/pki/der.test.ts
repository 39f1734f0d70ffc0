/**
 * The DER writer and reader (packages/shared/src/pki/der.ts), and the CSR reader under hostile input:
 * hand-made breakage, then thousands of mutated CSRs from a fixed seed. Every refusal is a PkiError
 * with one of the contract's CSR messages; nothing the old @peculiar/x509 parser refused gets through.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import {
  type Subject,
  createCsr,
  derToPem,
  generateKeyPair,
  parseCsr,
  parseCsrSync,
  pemToDer,
} from "@tether/shared/pki";
import { ErrorMessages } from "../../src/contract/errors.ts";
import {
  DerError,
  DerReader,
  NULL,
  Tag,
  integer,
  lengthBytes,
  oid,
  rawOf,
  sequence,
  time,
  tlv,
} from "../../src/pki/der.ts";
import { ipAddressBytes } from "../../src/pki/issue.ts";
import { peculiarParseCsr } from "../../src/pki/reference/peculiar.ts";

const subject: Subject = { CN: "runtime-1", O: "tenant-a", OU: "group-b", L: "Berlin", ST: "BE", C: "DE" };
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

t.test("writer: lengths, integers, OIDs, times, IP addresses", async (t) => {
  t.same(lengthBytes(0x7f), [0x7f]);
  t.same(lengthBytes(0x80), [0x81, 0x80]);
  t.same(lengthBytes(0x100), [0x82, 0x01, 0x00]);
  t.same(lengthBytes(0x10000), [0x83, 0x01, 0x00, 0x00]);
  t.equal(hex(tlv(Tag.octetString, Buffer.alloc(200))).slice(0, 6), "0481c8");
  t.equal(hex(integer("0")), "020100");
  t.equal(hex(integer("7F")), "02017f");
  t.equal(hex(integer("80")), "02020080", "a high first bit gets a zero byte: the INTEGER stays positive");
  t.equal(hex(integer("000001")), "020101", "leading zeros go");
  t.equal(hex(oid("1.2.840.113549.1.1.11")), "06092a864886f70d01010b");
  t.equal(hex(oid("2.5.29.35")), "0603551d23");
  t.equal(hex(oid("1.3.6.1.4.1.311.21.20")), "06092b0601040182371514");
  t.throws(() => oid("1.2.x"), /Not an object identifier/);
  // RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, both in whole seconds with Z.
  t.equal(time(new Date("2049-12-31T23:59:59.999Z")).toString("latin1", 2), "491231235959Z");
  t.equal(time(new Date("2049-12-31T23:59:59Z"))[0], Tag.utcTime);
  t.equal(time(new Date("2050-01-01T00:00:00Z")).toString("latin1", 2), "20500101000000Z");
  t.equal(time(new Date("2050-01-01T00:00:00Z"))[0], Tag.generalizedTime);
  t.equal(time(new Date("2026-03-01T12:00:00Z")).toString("latin1", 2), "260301120000Z");
  t.equal(hex(ipAddressBytes("10.1.2.3")), "0a010203");
  t.equal(hex(ipAddressBytes("::1")), "00000000000000000000000000000001");
  t.equal(hex(ipAddressBytes("2001:db8::8a2e:370:7334")), "20010db80000000000008a2e03707334");
  t.equal(hex(ipAddressBytes("::ffff:10.0.0.1")), "00000000000000000000ffff0a000001", "IPv4-mapped");
  t.equal(hex(ipAddressBytes("fe80::")), "fe800000000000000000000000000000");
  t.throws(() => ipAddressBytes("hub.example.com"), /Not an IP address/);
});

t.test("reader: framing errors are DerErrors", async (t) => {
  const read = (bytes: number[], tag?: number) => () => new DerReader(Buffer.from(bytes)).next(tag);
  t.same(read([0x30, 0x00])(), { tag: 0x30, start: 0, valueStart: 2, end: 2 });
  t.same(read([0x04, 0x81, 0x80, ...Array<number>(0x80).fill(0)])(), {
    tag: 4,
    start: 0,
    valueStart: 3,
    end: 0x83,
  });
  for (const [name, bytes] of [
    ["empty", []],
    ["tag alone", [0x30]],
    ["value short", [0x04, 0x03, 0x01]],
    ["indefinite length", [0x30, 0x80, 0x00, 0x00]],
    ["huge length", [0x04, 0x84, 0xff, 0xff, 0xff, 0xff]],
    ["five length bytes", [0x04, 0x85, 0, 0, 0, 0, 1, 0]],
    ["length bytes cut", [0x04, 0x82, 0x01]],
    ["non-minimal long form", [0x04, 0x81, 0x05, 1, 2, 3, 4, 5]],
    ["leading zero length byte", [0x04, 0x82, 0x00, 0x81, ...Array<number>(0x81).fill(0)]],
    ["multi-byte tag", [0x1f, 0x81, 0x00, 0x00]],
  ] as const) {
    t.throws(read([...bytes]), DerError, name);
  }
  t.throws(read([0x31, 0x00], Tag.sequence), /expected tag 0x30/);
  const outer = new DerReader(Buffer.from([0x30, 0x00, 0x05, 0x00]));
  outer.next(Tag.sequence);
  t.throws(() => outer.finish(), /trailing bytes/);
  const inner = DerReader.inside(Buffer.from([0x30, 0x02, 0x04, 0x05]), {
    tag: 0x30,
    start: 0,
    valueStart: 2,
    end: 4,
  });
  t.throws(() => inner.next(), /runs past its container/, "an element cannot leave its parent");
});

/** Every way parseCsr may refuse: a PkiError with a CSR code and the contract's message for it. */
function checkRefusal(error: unknown): string | undefined {
  if (!(error instanceof Error) || error.name !== "PkiError") return `not a PkiError: ${String(error)}`;
  const { code, message } = error as Error & { code: string };
  const expected: Record<string, (m: string) => boolean> = {
    "bad-pem": (m) => m === ErrorMessages.csrNotPem,
    "bad-csr": (m) => m === ErrorMessages.csrUnparsable,
    "bad-signature": (m) => m === ErrorMessages.csrBadSignature,
    "key-not-allowed": (m) => m.startsWith(ErrorMessages.csrKeyNotAllowed),
  };
  return expected[code]?.(message) ? undefined : `unexpected ${code}: ${message}`;
}

/** Fixed-seed PRNG (mulberry32): the same mutations on every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test("hostile CSRs: clean refusals, never more lenient than before", async (t) => {
  const corpus: Buffer[] = [];
  for (const algorithm of ["ecdsa-p256", "rsa2048", "ed25519"] as const) {
    corpus.push(Buffer.from(pemToDer(await createCsr(await generateKeyPair(algorithm), subject))));
  }
  const dir = mkdtempSync(join(tmpdir(), "tether-der-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync(
    "openssl",
    [
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-384",
      "-nodes",
      "-keyout",
      "k",
      "-subj",
      "/CN=runtime-1/OU=g/O=t",
      "-addext",
      "subjectAltName=DNS:a",
      "-out",
      "r.csr",
    ],
    { cwd: dir, stdio: "ignore" },
  );
  corpus.push(Buffer.from(pemToDer(readFileSync(join(dir, "r.csr"), "utf8"))));
  const good = corpus[0]!;
  const asPem = (der: Uint8Array) => derToPem(der, "CERTIFICATE REQUEST");

  // By hand: the cases a reviewer would try first.
  const info = new DerReader(good, 0).next(Tag.sequence);
  const hand: [string, Uint8Array, string][] = [
    ["truncated", good.subarray(0, good.length - 10), "bad-csr"],
    ["trailing bytes", Buffer.concat([good, Buffer.from([0x00])]), "bad-csr"],
    ["two CSRs back to back", Buffer.concat([good, good]), "bad-csr"],
    [
      "a huge outer length",
      Buffer.concat([Buffer.from([0x30, 0x84, 0x7f, 0xff, 0xff, 0xff]), good.subarray(info.valueStart)]),
      "bad-csr",
    ],
    ["an empty SEQUENCE", Buffer.from([0x30, 0x00]), "bad-csr"],
    ["an INTEGER", Buffer.from([0x02, 0x01, 0x01]), "bad-csr"],
    ["a certificate-shaped body", sequence(sequence(), sequence(), sequence()), "bad-csr"],
  ];
  // The signature algorithm swapped for sha256WithRSAEncryption on a P-256 key: it must not verify.
  const parts = DerReader.inside(good, info);
  const signed = rawOf(good, parts.next(Tag.sequence));
  parts.next(Tag.sequence);
  const fixed = sequence(
    signed,
    sequence(oid("1.2.840.113549.1.1.11"), NULL),
    rawOf(good, parts.next(Tag.bitString)),
  );
  hand.push(["RSA signature OID on an EC key", fixed, "bad-signature"]);
  for (const [name, der, code] of hand) {
    const error = await parseCsr(asPem(der)).then(
      () => undefined,
      (e: unknown) => e,
    );
    t.equal(checkRefusal(error), undefined, `${name}: a clean refusal`);
    t.equal((error as { code?: string } | undefined)?.code, code, `${name}: ${code}`);
  }

  // Mutations from a fixed seed: flip, cut, insert, overwrite a length, append.
  const next = random(15);
  const pick = (n: number) => Math.floor(next() * n);
  let accepted = 0;
  let refused = 0;
  const problems: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const base = corpus[pick(corpus.length)]!;
    let mutated = Buffer.from(base);
    const position = pick(base.length);
    switch (pick(6)) {
      case 0:
        mutated[position] = (mutated[position] ?? 0) ^ (1 << pick(8));
        break;
      case 1:
        mutated = mutated.subarray(0, position);
        break;
      case 2:
        mutated = Buffer.concat([
          mutated.subarray(0, position),
          Buffer.from([pick(256)]),
          mutated.subarray(position),
        ]);
        break;
      case 3:
        mutated[position] = [0x80, 0x81, 0x84, 0xff, 0x00, 0x7f][pick(6)]!;
        break;
      case 4:
        mutated = Buffer.concat([mutated, Buffer.from([pick(256), pick(256)])]);
        break;
      default:
        for (let j = 0; j < 4; j++) mutated[pick(mutated.length)] = pick(256);
    }
    let parsed: ReturnType<typeof parseCsrSync> | undefined;
    try {
      parsed = parseCsrSync(asPem(mutated));
    } catch (error) {
      refused++;
      const problem = checkRefusal(error);
      if (problem !== undefined) problems.push(`#${i}: ${problem}`);
      continue;
    }
    accepted++;
    const before = await peculiarParseCsr(asPem(mutated)).then(
      (old) => old,
      () => undefined,
    );
    if (before === undefined)
      problems.push(`#${i}: accepted now, refused by @peculiar/x509: ${hex(mutated)}`);
    else if (
      hex(before.spki) !== hex(parsed.spki) ||
      JSON.stringify(before.subjectValues) !== JSON.stringify(parsed.subjectValues)
    )
      problems.push(`#${i}: read differently from @peculiar/x509`);
  }
  t.same(problems, [], "no crash, no unexpected error, nothing newly accepted");
  t.ok(refused > 2500, `most mutations are refused (${refused} refused, ${accepted} still valid)`);
});
