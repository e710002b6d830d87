/**
 * Unit cases for the KMIP JSON encoding (KMIP Additional Message Encodings v1.0 §4.1), most
 * taken from the examples of §4.1.6, plus a fast-check round-trip property.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { bigIntFromBytes, bigIntToBytes, nodesEqual, t, type TtlvNode } from '../../src/ttlv/node.js';
import { decode, encode, fromHex } from '../../src/ttlv/index.js';
import { hex64 } from '../../src/kmip/text-values.js';
import { KmipEncodingError, type KmipEncodingErrorCode } from '../../src/kmip/encoding-errors.js';
import { tagFromName } from '../../src/kmip/registry.js';
import { parseKmipJson, toKmipJson, toKmipJsonString, type ParseOptions } from '../../src/kmip/json.js';
import { join } from 'node:path';
import { TESTCASES } from '../support/paths.js';

function tag(name: string): number {
  const v = tagFromName(name);
  if (v === undefined) throw new Error(`no tag ${name}`);
  return v;
}

const val = (json: unknown, opts?: ParseOptions): TtlvNode['value'] => parseKmipJson(json, opts).value;

function expectError(json: unknown, code: KmipEncodingErrorCode, message: RegExp, opts?: ParseOptions): KmipEncodingError {
  let err: unknown;
  try {
    parseKmipJson(json, opts);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(KmipEncodingError);
  expect((err as KmipEncodingError).code).toBe(code);
  expect((err as KmipEncodingError).message).toMatch(message);
  return err as KmipEncodingError;
}

function roundTrip(node: TtlvNode): void {
  expect(nodesEqual(parseKmipJson(toKmipJson(node)), node)).toBe(true);
  expect(nodesEqual(parseKmipJson(toKmipJsonString(node)), node)).toBe(true);
}

describe('parseKmipJson: the §4.1.6 examples', () => {
  it('tags by name or hex, with an optional ignored name', () => {
    expect(parseKmipJson('{"tag": "ActivationDate", "type":"DateTime", "value":"2001-01-01T10:00:00+10:00"}')).toEqual(t.date(tag('ActivationDate'), 978307200n));
    expect(parseKmipJson('{"tag": "0x420001", "type":"DateTime", "value":"2001-01-01T10:00:00+10:00"}')).toEqual(t.date(0x420001, 978307200n));
    expect(parseKmipJson({ tag: '0x54FFFF', name: 'SomeExtension', type: 'Integer', value: '0x00000001' })).toEqual(t.int(0x54ffff, 1));
    expect(parseKmipJson({ tag: '0x545352', type: 'TextString', value: 'This is an extension' })).toEqual(t.text(0x545352, 'This is an extension'));
    expect(val({ tag: 'IVCounterNonce', type: 'ByteString', value: 'a1b2c3d4' })).toEqual(Uint8Array.of(0xa1, 0xb2, 0xc3, 0xd4));
  });

  it('structures: type optional, value an array or null', () => {
    const pv = t.struct(tag('ProtocolVersion'), [t.int(tag('ProtocolVersionMajor'), 1), t.int(tag('ProtocolVersionMinor'), 0)]);
    const items = [
      { tag: 'ProtocolVersionMajor', type: 'Integer', value: 1 },
      { tag: 'ProtocolVersionMinor', type: 'Integer', value: 0 },
    ];
    expect(parseKmipJson({ tag: 'ProtocolVersion', type: 'Structure', value: items })).toEqual(pv);
    expect(parseKmipJson({ tag: 'ProtocolVersion', value: items })).toEqual(pv);
    expect(parseKmipJson({ tag: 'PrivateKeyTemplateAttribute', type: 'Structure', value: [] })).toEqual(t.struct(tag('PrivateKeyTemplateAttribute'), []));
    expect(parseKmipJson({ tag: 'RequestPayload', value: null })).toEqual(t.struct(tag('RequestPayload'), []));
    expect(parseKmipJson({ tag: 'RequestPayload' })).toEqual(t.struct(tag('RequestPayload'), []));
  });

  it('Integer: number or hex', () => {
    expect(val({ tag: 'BatchCount', type: 'Integer', value: 10 })).toBe(10);
    expect(val({ tag: 'BatchCount', type: 'Integer', value: '0x0000000A' })).toBe(10);
    expect(val({ tag: 'BatchCount', type: 'Integer', value: '0xffffffff' })).toBe(-1);
  });

  it('Integer masks: "A|B", hex components, or a number', () => {
    const cum = (value: unknown): TtlvNode['value'] => val({ tag: 'CryptographicUsageMask', type: 'Integer', value });
    expect(cum('0x0000100c')).toBe(0x100c);
    expect(cum('Encrypt|Decrypt|CertificateSign')).toBe(0x100c);
    expect(cum('CertificateSign|0x00000004|0x0000008')).toBe(0x100c);
    expect(cum('CertificateSign|0x0000000c')).toBe(0x100c);
    expect(cum(12)).toBe(12);
    expect(toKmipJson(t.int(tag('CryptographicUsageMask'), 0x100c))).toEqual({
      tag: 'CryptographicUsageMask',
      type: 'Integer',
      value: 'Encrypt|Decrypt|CertificateSign',
    });
    expect(toKmipJson(t.int(tag('CryptographicUsageMask'), 0x4000000c)).value).toBe('Encrypt|Decrypt|0x40000000');
    expect(toKmipJson(t.int(tag('CryptographicUsageMask'), 0)).value).toBe(0);
    expectError({ tag: 'CryptographicUsageMask', type: 'Integer', value: 'Encrypt|Nope' }, 'UNKNOWN_NAME', /"Nope" not in mask/);
  });

  it('LongInteger: numbers, and hex beyond 2^53', () => {
    expect(val({ tag: '0x540001', type: 'LongInteger', value: '0xfffffffffffffffe' })).toBe(-2n);
    expect(val({ tag: '0x540001', type: 'LongInteger', value: -2 })).toBe(-2n);
    expect(val({ tag: 'UsageLimitsCount', type: 'LongInteger', value: '0x1000000000000000' })).toBe(1n << 60n);
    expect(toKmipJson(t.long(tag('UsageLimitsCount'), 1n << 60n)).value).toBe('0x1000000000000000');
    expect(toKmipJson(t.long(tag('UsageLimitsCount'), -2n)).value).toBe(-2);
    expect(toKmipJson(t.long(tag('UsageLimitsCount'), BigInt(Number.MAX_SAFE_INTEGER))).value).toBe(Number.MAX_SAFE_INTEGER);
    expect(toKmipJson(t.long(tag('UsageLimitsCount'), BigInt(Number.MAX_SAFE_INTEGER) + 1n)).value).toBe('0x0020000000000000');
    expect(toKmipJson(t.long(tag('UsageLimitsCount'), -(1n << 63n))).value).toBe('0x8000000000000000');
    // 2^60 as a JSON number has lost precision already: refuse it rather than guess.
    expectError('{"tag": "UsageLimitsCount", "type": "LongInteger", "value": 1152921504606846976}', 'BAD_VALUE', /beyond 2\^53/);
  });

  it('BigInteger: number or full-width hex; exact bytes are written as hex', () => {
    expect(val({ tag: 'PrivateExponent', type: 'BigInteger', value: 0 })).toEqual(new Uint8Array(8));
    expect(val({ tag: 'PrivateExponent', type: 'BigInteger', value: '0x0000000000000000' })).toEqual(new Uint8Array(8));
    expect(bigIntFromBytes(val({ tag: 'PrivateExponent', type: 'BigInteger', value: -123 }) as Uint8Array)).toBe(-123n);
    const ext = new Uint8Array(16).fill(0xff);
    ext[15] = 0x85;
    expect(toKmipJson(t.bigint(tag('PrivateExponent'), ext)).value).toBe('0xffffffffffffffffffffffffffffff85');
    roundTrip(t.bigint(tag('PrivateExponent'), ext));
    expectError({ tag: 'PrivateExponent', type: 'BigInteger', value: 'ff85' }, 'BAD_VALUE', /expected a number or 0x hex/);
  });

  it('Enumeration: number, hex or name', () => {
    expect(val({ tag: '0x420057', type: 'Enumeration', value: 2 })).toBe(2);
    expect(val({ tag: 'ObjectType', type: 'Enumeration', value: '0x00000002' })).toBe(2);
    expect(val({ tag: 'ObjectType', type: 'Enumeration', value: 'SymmetricKey' })).toBe(2);
    expect(toKmipJson(t.enum(tag('ObjectType'), 2)).value).toBe('SymmetricKey');
    expect(toKmipJson(t.enum(tag('OpaqueDataType'), 0x80000001)).value).toBe('0x80000001');
    expect(val({ tag: 'OpaqueDataType', type: 'Enumeration', value: '0x80000001' })).toBe(0x80000001);
    expect(val({ tag: 'AttributeReference', type: 'Enumeration', value: 'State' })).toBe(tag('State'));
    expectError({ tag: 'ObjectType', type: 'Enumeration', value: 'Symmetric' }, 'UNKNOWN_NAME', /not a value of enumeration ObjectType/);
    expectError({ tag: 'ObjectType', type: 'Enumeration', value: -1 }, 'BAD_VALUE', /unsigned 32-bit/);
  });

  it('Boolean: true / false or hex', () => {
    expect(val({ tag: 'BatchOrderOption', type: 'Boolean', value: true })).toBe(true);
    expect(val({ tag: 'BatchOrderOption', type: 'Boolean', value: '0x0000000000000001' })).toBe(true);
    expect(toKmipJson(t.bool(tag('BatchOrderOption'), false)).value).toBe(false);
    expectError({ tag: 'BatchOrderOption', type: 'Boolean', value: 1 }, 'BAD_VALUE', /a number is not allowed/);
  });

  it('TextString and ByteString', () => {
    expect(val({ tag: 'AttributeName', type: 'TextString', value: 'Cryptographic Algorithm' })).toBe('Cryptographic Algorithm');
    expect(val({ tag: 'MACSignature', type: 'ByteString', value: 'C50F77' })).toEqual(Uint8Array.of(0xc5, 0x0f, 0x77));
    expect(toKmipJson(t.bytes(tag('MACSignature'), Uint8Array.of(0xc5, 0x0f, 0x77))).value).toBe('c50f77');
    expectError({ tag: 'AttributeName', type: 'TextString', value: 5 }, 'BAD_VALUE', /a number is not allowed/);
  });

  it('DateTime: ISO-8601 or hex; Interval: number or hex', () => {
    expect(val({ tag: 'ArchiveDate', type: 'DateTime', value: '0x000000003a505520' })).toBe(978343200n);
    expect(val({ tag: 'ArchiveDate', type: 'DateTime', value: '2001-01-01T10:00:00+10:00' })).toBe(978307200n);
    expect(toKmipJson(t.date(tag('ArchiveDate'), 978307200n)).value).toBe('2001-01-01T00:00:00+00:00');
    expect(val({ tag: 'Offset', type: 'Interval', value: 27 })).toBe(27);
    expect(val({ tag: 'Offset', type: 'Interval', value: '0x0000001b' })).toBe(27);
    expectError({ tag: 'ArchiveDate', type: 'DateTime', value: 978307200 }, 'BAD_VALUE', /a number is not allowed/);
  });

  it('Attribute Value takes its meaning from the sibling Attribute Name', () => {
    const node = parseKmipJson({
      tag: 'Attribute',
      value: [
        { tag: 'AttributeName', type: 'TextString', value: 'Cryptographic Usage Mask' },
        { tag: 'AttributeValue', type: 'Integer', value: 'Decrypt|Encrypt' },
      ],
    });
    expect(node).toEqual(t.struct(tag('Attribute'), [t.text(tag('AttributeName'), 'Cryptographic Usage Mask'), t.int(tag('AttributeValue'), 12)]));
    expect(toKmipJson(node).value).toEqual([
      { tag: 'AttributeName', type: 'TextString', value: 'Cryptographic Usage Mask' },
      { tag: 'AttributeValue', type: 'Integer', value: 'Encrypt|Decrypt' },
    ]);
  });
});

describe('the TTLV encoding examples of KMIP 1.4 §9.1.2 (vectors/ttlv-primitive-examples.json)', () => {
  interface Example {
    description: string;
    type: string;
    value: unknown;
    ttlv_hex: string;
  }
  const file = JSON.parse(readFileSync(join(TESTCASES, 'vectors/ttlv-primitive-examples.json'), 'utf8')) as { examples: Example[] };

  /** The example's value as JSON TTLV: decimal strings of 64-bit and big integers as numbers or hex. */
  function jsonValue(ex: Example): unknown {
    if (ex.type === 'LongInteger') return hex64(BigInt(ex.value as string));
    if (ex.type === 'BigInteger') return '0x' + Buffer.from(bigIntToBytes(BigInt(ex.value as string))).toString('hex');
    return ex.value;
  }

  it.each(file.examples.map((ex) => [ex.description, ex] as const))('%s', (_d, ex) => {
    const node = parseKmipJson({ tag: '0x420020', type: ex.type, value: jsonValue(ex) });
    expect(encode(node).toString('hex')).toBe(ex.ttlv_hex);
    expect(encode(parseKmipJson(toKmipJsonString(decode(fromHex(ex.ttlv_hex))))).toString('hex')).toBe(ex.ttlv_hex);
  });
});

describe('toKmipJson', () => {
  it('omits the type of structures and writes unknown tags as hex', () => {
    const node = t.struct(tag('RequestPayload'), [t.text(0x540001, 'v'), t.struct(0x540002, [])]);
    expect(toKmipJson(node)).toEqual({
      tag: 'RequestPayload',
      value: [
        { tag: '0x540001', type: 'TextString', value: 'v' },
        { tag: '0x540002', value: [] },
      ],
    });
    roundTrip(node);
  });

  it('writes text with one-space indentation by default', () => {
    expect(toKmipJsonString(t.struct(tag('RequestPayload'), []))).toBe('{\n "tag": "RequestPayload",\n "value": []\n}');
    expect(toKmipJsonString(t.int(tag('BatchCount'), 1), 0)).toBe('{"tag":"BatchCount","type":"Integer","value":1}');
  });
});

describe('parseKmipJson errors', () => {
  it('reports syntax, shape, tag and type errors with a path', () => {
    expectError('{"tag": "BatchCount", ', 'JSON_SYNTAX', /not JSON/);
    expectError([1], 'JSON_SYNTAX', /expected a JSON object/);
    expectError({ value: 1 }, 'JSON_SYNTAX', /without a string "tag"/);
    expectError({ tag: 'BatchCount', type: 'Integer', value: 1, extra: 2 }, 'JSON_SYNTAX', /unexpected property "extra"/);
    const e = expectError({ tag: 'RequestMessage', value: [{ tag: 'RequestHeader', value: [{ tag: 'Frob', type: 'Integer', value: 1 }] }] }, 'UNKNOWN_TAG', /unknown tag "Frob"/);
    expect(e.path).toBe('RequestMessage/RequestHeader/Frob');
    expectError({ tag: '0x1234', type: 'Integer', value: 1 }, 'UNKNOWN_TAG', /unknown tag/);
    expectError({ tag: 'BatchCount', type: 'Int', value: 1 }, 'BAD_TYPE', /unknown type "Int"/);
    expectError({ tag: 'RequestHeader', value: {} }, 'JSON_SYNTAX', /must be an array/);
    expectError({ tag: 'BatchCount', type: 'Integer', value: 1.5 }, 'BAD_VALUE', /not an integer/);
    expectError({ tag: 'BatchCount', type: 'Integer', value: 2 ** 31 }, 'BAD_VALUE', /signed 32-bit/);
    expectError({ tag: 'BatchCount', type: 'Integer' }, 'BAD_VALUE', /missing/);
    expectError({ tag: 'BatchCount', type: 'Integer', value: 'ten' }, 'BAD_VALUE', /not a valid Integer/);
    let deep: unknown = { tag: 'Attributes', value: [] };
    for (let i = 0; i < 300; i++) deep = { tag: 'Attributes', value: [deep] };
    expectError(deep, 'JSON_SYNTAX', /nested deeper than 256/);
  });

  it('placeholders: text in text items, the callback elsewhere, an error without one', () => {
    expect(val({ tag: 'UniqueIdentifier', type: 'TextString', value: '$UNIQUE_IDENTIFIER_0' })).toBe('$UNIQUE_IDENTIFIER_0');
    expect(val({ tag: 'TimeStamp', type: 'DateTime', value: '$NOW' }, { placeholders: (n, ty, tn) => (n === '$NOW' && ty === 'DateTime' && tn === 'TimeStamp' ? 7n : undefined) })).toBe(7n);
    expectError({ tag: 'TimeStamp', type: 'DateTime', value: '$NOW' }, 'PLACEHOLDER', /placeholder \$NOW/);
  });
});

// ------------------------------------------------------------------ arbitrary TTLV trees

/** Tags: the registry's 0x42 range densely (most have names, enums or masks), extension tags, and a few unknown. */
const arbTag = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0x420001, max: 0x420180 }) },
  { weight: 2, arbitrary: fc.integer({ min: 0x540000, max: 0x54ffff }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 0xffffff }) },
);
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const i32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const i64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.constantFrom('$NOW', '0x00000001', 'SymmetricKey', ''));
const bigIntBytes = fc.integer({ min: 0, max: 3 }).chain((n) => fc.uint8Array({ minLength: n * 8, maxLength: n * 8 }));

function arbScalar(tagArb: fc.Arbitrary<number>): fc.Arbitrary<TtlvNode> {
  return tagArb.chain((tg) =>
    fc.oneof(
      i32.map((v) => t.int(tg, v)),
      fc.oneof(i64, fc.bigInt({ min: -(1n << 54n), max: 1n << 54n })).map((v) => t.long(tg, v)),
      bigIntBytes.map((v) => t.bigint(tg, v)),
      u32.map((v) => t.enum(tg, v)),
      fc.integer({ min: 0, max: 40 }).map((v) => t.enum(tg, v)),
      fc.boolean().map((v) => t.bool(tg, v)),
      text.map((v) => t.text(tg, v)),
      fc.uint8Array({ maxLength: 24 }).map((v) => t.bytes(tg, v)),
      i64.map((v) => t.date(tg, v)),
      u32.map((v) => t.interval(tg, v)),
      i64.map((v) => t.dateExt(tg, v)),
      text.map((v): TtlvNode => ({ tag: tg, type: 'Identifier', value: v })),
      text.map((v): TtlvNode => ({ tag: tg, type: 'Reference', value: v })),
      text.map((v): TtlvNode => ({ tag: tg, type: 'NameReference', value: v })),
    ),
  );
}

const arbAttribute: fc.Arbitrary<TtlvNode> = fc
  .tuple(
    fc.constantFrom('Object Type', 'Cryptographic Algorithm', 'Cryptographic Usage Mask', 'State', 'x-Custom'),
    fc.oneof(
      u32.map((v) => t.enum(tag('AttributeValue'), v)),
      i32.map((v) => t.int(tag('AttributeValue'), v)),
    ),
  )
  .map(([name, v]) => t.struct(tag('Attribute'), [t.text(tag('AttributeName'), name), v]));

const arbTree: fc.Arbitrary<TtlvNode> = fc.letrec<{ node: TtlvNode }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    arbScalar(arbTag),
    arbAttribute,
    fc.tuple(arbTag, fc.array(tie('node'), { maxLength: 5 })).map(([tg, kids]) => t.struct(tg, kids)),
  ),
})).node;

describe('property', () => {
  it('toKmipJson / parseKmipJson is the identity on arbitrary trees (as values and as JSON text)', () => {
    fc.assert(
      fc.property(arbTree, (node) => nodesEqual(parseKmipJson(toKmipJson(node)), node) && nodesEqual(parseKmipJson(toKmipJsonString(node)), node)),
      { numRuns: 400 },
    );
  });
});
