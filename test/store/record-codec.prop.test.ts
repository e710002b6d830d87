import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ttlvArb } from '../support/arbitraries.js';
import { encode, t } from '../../src/ttlv/index.js';
import { StoreError } from '../../src/store/object-store.js';
import { decodeRecord, encodeRecord, RecordTag } from '../../src/store/record-codec.js';
import type { ObjectRecord } from '../../src/objects/managed-object.js';

const uidArb = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });
const textArb = fc.string({ unit: 'grapheme', maxLength: 30 });

export const recordArb: fc.Arbitrary<ObjectRecord> = fc
  .record(
    {
      uid: uidArb,
      objectType: fc.nat({ max: 0xffffffff }),
      owner: textArb,
      state: fc.nat({ max: 0xffffffff }),
      revision: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      attributes: fc.uniqueArray(fc.tuple(textArb, fc.array(ttlvArb({ maxDepth: 3 }), { maxLength: 4 })), {
        maxLength: 8,
        selector: ([k]) => k,
      }),
      sealedBody: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
      kekId: textArb,
    },
    { requiredKeys: ['uid', 'objectType', 'owner', 'state', 'revision', 'attributes'] },
  )
  .map((r) => ({ v: 1 as const, ...r, attributes: new Map(r.attributes) }));

function code(f: () => unknown): string {
  try {
    f();
    return 'ok';
  } catch (e) {
    return e instanceof StoreError ? e.code : `other: ${String(e)}`;
  }
}

describe('record codec', () => {
  it('round-trips any record', () => {
    fc.assert(
      fc.property(recordArb, (r) => {
        const bytes = encodeRecord(r);
        expect(decodeRecord(bytes, r.uid)).toEqual(r);
        expect(decodeRecord(bytes)).toEqual(r);
      }),
      { numRuns: 300 },
    );
  });

  it('fails only with StoreError CORRUPT on damaged bytes (flips, truncation, garbage)', () => {
    fc.assert(
      fc.property(recordArb, fc.nat(), fc.integer({ min: 1, max: 255 }), fc.nat(), (r, at, xor, cut) => {
        const bytes = encodeRecord(r);
        const flipped = Buffer.from(bytes);
        const i = at % flipped.length;
        flipped[i] = (flipped[i] as number) ^ xor;
        expect(['ok', 'CORRUPT']).toContain(code(() => decodeRecord(flipped, r.uid)));
        expect(code(() => decodeRecord(bytes.subarray(0, cut % bytes.length), r.uid))).toBe('CORRUPT');
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        expect(['ok', 'CORRUPT']).toContain(code(() => decodeRecord(b)));
      }),
    );
  });

  it('rejects a wrong header, a uid mismatch, wrong fields and duplicate keys', () => {
    const r: ObjectRecord = { v: 1, uid: 'u', objectType: 2, owner: 'o', state: 1, attributes: new Map(), revision: 1 };
    const good = encodeRecord(r);
    expect(code(() => decodeRecord(good, 'u'))).toBe('ok');
    expect(code(() => decodeRecord(good, 'other'))).toBe('CORRUPT');
    expect(code(() => decodeRecord(Buffer.concat([Buffer.from([0x4b, 0x02]), good.subarray(2)])))).toBe('CORRUPT');
    expect(code(() => decodeRecord(Buffer.concat([Buffer.from([0x00, 0x01]), good.subarray(2)])))).toBe('CORRUPT');
    expect(code(() => decodeRecord(Buffer.alloc(0)))).toBe('CORRUPT');

    const R = RecordTag;
    const body = (fields: Parameters<typeof t.struct>[1]) => Buffer.concat([Buffer.from([0x4b, 0x01]), encode(t.struct(R.Record, fields))]);
    const base = [t.text(R.Uid, 'u'), t.enum(R.ObjectType, 2), t.text(R.Owner, 'o'), t.enum(R.State, 1), t.long(R.Revision, 1n)];
    expect(code(() => decodeRecord(body([...base, t.struct(R.Attributes, [])])))).toBe('ok');
    expect(code(() => decodeRecord(body([...base])))).toBe('CORRUPT'); // no attributes
    expect(code(() => decodeRecord(body([...base, t.struct(R.Attributes, []), t.text(R.KekId, 'k')])))).toBe('CORRUPT'); // out of order
    expect(code(() => decodeRecord(body([t.text(R.Uid, 'u'), t.int(R.ObjectType, 2), ...base.slice(2), t.struct(R.Attributes, [])])))).toBe('CORRUPT');
    expect(code(() => decodeRecord(body([...base.slice(0, 4), t.long(R.Revision, 0n), t.struct(R.Attributes, [])])))).toBe('CORRUPT');
    expect(code(() => decodeRecord(body([t.text(R.Uid, ''), ...base.slice(1), t.struct(R.Attributes, [])])))).toBe('CORRUPT');
    const entry = (k: string) => t.struct(R.Attribute, [t.text(R.Key, k)]);
    expect(code(() => decodeRecord(body([...base, t.struct(R.Attributes, [entry('a'), entry('b')])])))).toBe('ok');
    expect(code(() => decodeRecord(body([...base, t.struct(R.Attributes, [entry('a'), entry('a')])])))).toBe('CORRUPT');
    expect(code(() => decodeRecord(body([...base, t.struct(R.Attributes, [t.struct(R.Attribute, [])])])))).toBe('CORRUPT');
  });

  it('keeps the attribute and instance order', () => {
    const r: ObjectRecord = {
      v: 1,
      uid: 'u',
      objectType: 2,
      owner: 'o',
      state: 1,
      revision: 3,
      attributes: new Map([
        ['Z', [t.int(1, 1), t.int(1, 2)]],
        ['A', [t.int(1, 3)]],
      ]),
    };
    const back = decodeRecord(encodeRecord(r));
    expect([...back.attributes.keys()]).toEqual(['Z', 'A']);
    expect(back.attributes.get('Z')).toEqual([t.int(1, 1), t.int(1, 2)]);
  });
});
