/** Properties of the binary codec, over arbitrary trees and arbitrary or mutated bytes. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decode, encode, encodedLength, TtlvError, type TtlvNode } from '../../src/ttlv/index.js';
import { registryTreeArb, ttlvArb } from '../support/arbitraries.js';

/** Independent size model: header + value padded to 8 (structures: sum of children). */
function modelSize(n: TtlvNode): number {
  if (n.type === 'Structure') return 8 + n.value.reduce((a, c) => a + modelSize(c), 0);
  if (n.type === 'ByteString' || n.type === 'BigInteger') return 8 + Math.ceil(n.value.length / 8) * 8;
  if (n.type === 'TextString' || n.type === 'Identifier' || n.type === 'Reference' || n.type === 'NameReference') return 8 + Math.ceil(new TextEncoder().encode(n.value).length / 8) * 8;
  return 16;
}

function decodesOrTtlvError(bytes: Uint8Array): void {
  try {
    decode(bytes);
  } catch (e) {
    if (!(e instanceof TtlvError)) throw e;
  }
}

describe('binary codec properties', () => {
  it('decode(encode(tree)) equals tree, and the length is 8 + padded value', () => {
    fc.assert(
      fc.property(ttlvArb(), (tree) => {
        const bytes = encode(tree);
        expect(bytes.length).toBe(modelSize(tree));
        expect(encodedLength(tree)).toBe(bytes.length);
        expect(bytes.length % 8).toBe(0);
        expect(decode(bytes)).toEqual(tree);
      }),
      { numRuns: 2000 },
    );
  });

  it('registry-driven trees (spec tags with their spec item types, enum and mask values) round-trip', () => {
    fc.assert(
      fc.property(registryTreeArb(), (tree) => {
        const bytes = encode(tree);
        expect(bytes.length).toBe(modelSize(tree));
        expect(decode(bytes)).toEqual(tree);
      }),
      { numRuns: 2000 },
    );
  });

  it('arbitrary bytes either decode or throw TtlvError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => decodesOrTtlvError(b)),
      { numRuns: 5000 },
    );
  });

  it('arbitrary bytes behind a plausible structure header throw only TtlvError', () => {
    const framed = fc.uint8Array({ maxLength: 120 }).map((body) => {
      const b = Buffer.alloc(8 + body.length);
      b.writeUInt32BE(0x42007801, 0);
      b.writeUInt32BE(body.length, 4);
      b.set(body, 8);
      return b;
    });
    fc.assert(
      fc.property(framed, (b) => decodesOrTtlvError(b)),
      { numRuns: 5000 },
    );
  });

  it('mutated valid messages (flipped bytes, cuts, splices) throw only TtlvError', () => {
    const mutated = fc.tuple(ttlvArb({ maxDepth: 4 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat()).map(([tree, flips, cut]) => {
      const b = Buffer.from(encode(tree));
      for (const [i, v] of flips) b[i % b.length] = v;
      return cut % 3 === 0 ? b.subarray(0, cut % (b.length + 1)) : b;
    });
    fc.assert(
      fc.property(mutated, (b) => decodesOrTtlvError(b)),
      { numRuns: 5000 },
    );
  });
});
