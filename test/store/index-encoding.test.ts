import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { t, encode, type TtlvNode } from '../../src/ttlv/index.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { LinkType, ObjectType, State } from '../../src/kmip/generated/enums.gen.js';
import { customKey } from '../../src/objects/managed-object.js';
import { indexTerms, indexValue, indexText, linkField, applicationField } from '../../src/store/index-encoding.js';
import { compareUids, component, uidOfValueKey, valueKey } from '../../src/store/index-keys.js';
import { activation, altName, appInfo, cv, link, name, rec } from './records.js';

const sign = (n: number | bigint): number => (n > 0 ? 1 : n < 0 ? -1 : 0);
const cmp = (a: Uint8Array, b: Uint8Array): number => sign(Buffer.compare(a, b));
const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });

describe('indexValue: byte order is value order within a type', () => {
  it('Integer (signed 32)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -0x80000000, max: 0x7fffffff }), fc.integer({ min: -0x80000000, max: 0x7fffffff }), (a, b) => {
        expect(cmp(indexValue(t.int(1, a)), indexValue(t.int(1, b)))).toBe(sign(a - b));
      }),
    );
  });

  for (const type of ['LongInteger', 'DateTime', 'DateTimeExtended'] as const) {
    it(`${type} (signed 64)`, () => {
      fc.assert(
        fc.property(int64, int64, (a, b) => {
          const n = (v: bigint): TtlvNode => ({ tag: 1, type, value: v }) as TtlvNode;
          expect(cmp(indexValue(n(a)), indexValue(n(b)))).toBe(sign(a - b));
        }),
      );
    });
  }

  for (const type of ['Enumeration', 'Interval'] as const) {
    it(`${type} (unsigned 32)`, () => {
      fc.assert(
        fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), (a, b) => {
          const n = (v: number): TtlvNode => ({ tag: 1, type, value: v }) as TtlvNode;
          expect(cmp(indexValue(n(a)), indexValue(n(b)))).toBe(sign(a - b));
        }),
      );
    });
  }

  it('TextString (code point order, same as uid order)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        expect(cmp(indexText(a), indexText(b))).toBe(sign(compareUids(a, b)));
      }),
    );
  });

  it('Boolean, ByteString', () => {
    expect(cmp(indexValue(t.bool(1, false)), indexValue(t.bool(1, true)))).toBe(-1);
    fc.assert(
      fc.property(fc.uint8Array(), fc.uint8Array(), (a, b) => {
        expect(cmp(indexValue(t.bytes(1, a)), indexValue(t.bytes(1, b)))).toBe(cmp(a, b));
      }),
    );
  });

  it('golden bytes: the type code, then the value', () => {
    expect(indexValue(t.int(1, -1))).toEqual(Buffer.from([0x02, 0x7f, 0xff, 0xff, 0xff]));
    expect(indexValue(t.int(1, 0))).toEqual(Buffer.from([0x02, 0x80, 0, 0, 0]));
    expect(indexValue(t.enum(1, 2))).toEqual(Buffer.from([0x05, 0, 0, 0, 2]));
    expect(indexValue(t.date(1, 1n))).toEqual(Buffer.from([0x09, 0x80, 0, 0, 0, 0, 0, 0, 1]));
    expect(indexValue(t.bool(1, true))).toEqual(Buffer.from([0x06, 1]));
    expect(indexValue(t.text(1, 'é'))).toEqual(Buffer.from([0x07, 0xc3, 0xa9]));
    expect(indexValue(t.bytes(1, Buffer.from([0, 9])))).toEqual(Buffer.from([0x08, 0, 9]));
    const s = t.struct(Tag.Name, [t.text(Tag.NameValue, 'x')]);
    expect(indexValue(s)).toEqual(Buffer.concat([Buffer.from([0x01]), encode(s)]));
  });

  it('the tag does not take part; the type does', () => {
    expect(indexValue(t.text(Tag.NameValue, 'a'))).toEqual(indexValue(t.text(Tag.ObjectGroup, 'a')));
    expect(indexValue(t.int(1, 5))).not.toEqual(indexValue(t.enum(1, 5)));
    expect(indexValue(t.enum(1, 5))).not.toEqual(indexValue(t.interval(1, 5)));
  });
});

describe('index keys', () => {
  it('component() preserves byte order and is prefix-free, zero bytes included', () => {
    const bytes = fc.uint8Array({ maxLength: 12 }).map((a) => a.map((b) => (b < 128 ? 0 : b))); // many zeros
    fc.assert(
      fc.property(bytes, bytes, (a, b) => {
        const ca = component(a);
        const cb = component(b);
        expect(cmp(ca, cb)).toBe(cmp(a, b));
        if (cmp(a, b) !== 0) expect(Buffer.from(cb.subarray(0, ca.length)).equals(ca)).toBe(false);
      }),
    );
  });

  it('the uid comes back out of a value key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 12 }), fc.string({ unit: 'grapheme', minLength: 1 }), (v, uid) => {
        expect(uidOfValueKey(valueKey(v, uid))).toBe(uid);
      }),
    );
  });
});

describe('indexTerms', () => {
  const terms = (r: ReturnType<typeof rec>) => indexTerms(r).map((x) => [x.field, Buffer.from(x.value).toString('hex')]);
  const h = (b: Uint8Array) => Buffer.from(b).toString('hex');

  it('indexes the record fields', () => {
    expect(terms(rec('u', { owner: 'o', state: State.Active, objectType: ObjectType.PublicKey }))).toEqual([
      ['$objectType', h(indexValue(t.enum(0, ObjectType.PublicKey)))],
      ['$state', h(indexValue(t.enum(0, State.Active)))],
      ['$owner', h(indexText('o'))],
    ]);
  });

  it('applies the KMIP refinements, one entry per instance', () => {
    const other = t.struct(Tag.CryptographicParameters, [t.enum(Tag.BlockCipherMode, 1)]);
    const got = terms(
      rec('u', {
        attributes: {
          Name: [name('n1'), name('n2')],
          Link: [link(LinkType.ParentLink, 'p')],
          ApplicationSpecificInformation: [appInfo('ns', 'data'), t.struct(Tag.ApplicationSpecificInformation, [t.text(Tag.ApplicationNamespace, 'empty')])],
          AlternativeName: [altName('alt')],
          ObjectGroup: [t.text(Tag.ObjectGroup, 'g')],
          ActivationDate: [activation(5n)],
          CryptographicParameters: [other],
          [customKey('x', 'c')]: [cv.long(3n)],
        },
      }),
    ).slice(3);
    expect(got).toEqual([
      ['Name', h(indexText('n1'))],
      ['Name', h(indexText('n2'))],
      [linkField(LinkType.ParentLink), h(indexText('p'))],
      ['Link', h(indexValue(link(LinkType.ParentLink, 'p')))],
      [applicationField('ns'), h(indexText('data'))],
      ['ApplicationSpecificInformation', h(indexValue(appInfo('ns', 'data')))],
      [applicationField('empty'), h(indexText(''))],
      ['ApplicationSpecificInformation', h(indexValue(t.struct(Tag.ApplicationSpecificInformation, [t.text(Tag.ApplicationNamespace, 'empty')])))],
      ['AlternativeName', h(indexText('alt'))],
      ['ObjectGroup', h(indexText('g'))],
      ['ActivationDate', h(indexValue(activation(5n)))],
      ['CryptographicParameters', h(indexValue(other))],
      [customKey('x', 'c'), h(indexValue(cv.long(3n)))],
    ]);
    expect(linkField(LinkType.ParentLink)).toBe(`Link:${0x108}`);
  });

  it('drops duplicate entries and falls back to the general rule for malformed structures', () => {
    const bad = t.struct(Tag.Name, [t.enum(Tag.NameType, 1)]);
    const got = terms(rec('u', { attributes: { Name: [name('same'), t.struct(Tag.Name, [t.text(Tag.NameValue, 'same')]), bad] } })).slice(3);
    expect(got).toEqual([
      ['Name', h(indexText('same'))],
      ['Name', h(indexValue(bad))],
    ]);
  });

  it('a custom attribute holding a Name-like structure is not refined', () => {
    const s = t.struct(Tag.AttributeValue, [t.text(Tag.NameValue, 'n')]);
    expect(terms(rec('u', { attributes: { [customKey('x', 'Name')]: [s] } })).slice(3)).toEqual([[customKey('x', 'Name'), h(indexValue(s))]]);
  });
});
