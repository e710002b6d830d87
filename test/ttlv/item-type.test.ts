/**
 * FIXED_LENGTH (src/ttlv/item-type.ts) is the one source of the fixed value lengths: the encoder
 * writes them and the decoder accepts exactly them, for every fixed-length type.
 */
import { describe, expect, it } from 'vitest';
import { decode } from '../../src/ttlv/decode.js';
import { encode } from '../../src/ttlv/encode.js';
import { TtlvError } from '../../src/ttlv/errors.js';
import { FIXED_LENGTH, FIXED_LENGTH_BY_CODE, ItemType, ITEM_TYPE_NAMES } from '../../src/ttlv/item-type.js';
import type { TtlvNode } from '../../src/ttlv/node.js';

const TAG = 0x420001;
const SAMPLE: Record<keyof typeof FIXED_LENGTH, TtlvNode> = {
  Integer: { tag: TAG, type: 'Integer', value: -2 },
  LongInteger: { tag: TAG, type: 'LongInteger', value: -2n },
  Enumeration: { tag: TAG, type: 'Enumeration', value: 7 },
  Boolean: { tag: TAG, type: 'Boolean', value: true },
  DateTime: { tag: TAG, type: 'DateTime', value: 1_700_000_000n },
  Interval: { tag: TAG, type: 'Interval', value: 3600 },
  DateTimeExtended: { tag: TAG, type: 'DateTimeExtended', value: 1_700_000_000_000_000n },
};

/** One item with the header's length field set to `len` and 8 zero-padded value bytes plus spare. */
function withLength(bytes: Buffer, len: number): Buffer {
  const b = Buffer.concat([bytes, Buffer.alloc(8)]);
  b.writeUInt32BE(len, 4);
  return b;
}

describe('FIXED_LENGTH', () => {
  it('lists exactly the fixed-length types, with their lengths by code too', () => {
    expect(Object.keys(FIXED_LENGTH).sort()).toEqual(['Boolean', 'DateTime', 'DateTimeExtended', 'Enumeration', 'Integer', 'Interval', 'LongInteger']);
    for (const name of ITEM_TYPE_NAMES) expect(FIXED_LENGTH_BY_CODE[ItemType[name]]).toBe((FIXED_LENGTH as Record<string, number>)[name]);
  });

  for (const [name, want] of Object.entries(FIXED_LENGTH) as [keyof typeof FIXED_LENGTH, number][]) {
    it(`${name}: the encoder writes length ${want}; the decoder accepts it and refuses any other`, () => {
      const bytes = encode(SAMPLE[name]);
      expect(bytes.readUInt32BE(4)).toBe(want);
      expect(bytes.length).toBe(16);
      expect(decode(bytes)).toEqual(SAMPLE[name]);
      for (const wrong of [want - 1, want + 1, want === 4 ? 8 : 4]) {
        const b = withLength(bytes, wrong).subarray(0, 16);
        expect(() => decode(b)).toThrow(TtlvError);
        try {
          decode(b);
        } catch (e) {
          expect((e as TtlvError).code).toBe('BAD_LENGTH');
        }
      }
    });
  }
});
