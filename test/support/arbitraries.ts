/** fast-check arbitraries for TTLV trees (tags random or drawn from a given list). */
import fc from 'fast-check';
import type { TtlvNode } from '../../src/ttlv/index.js';

export function ttlvArb(opts: { tags?: readonly number[]; maxDepth?: number } = {}): fc.Arbitrary<TtlvNode> {
  const tag = opts.tags && opts.tags.length > 0 ? fc.constantFrom(...opts.tags) : fc.integer({ min: 1, max: 0xffffff });
  const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
  const bigIntBytes = fc.integer({ min: 1, max: 4 }).chain((n) => fc.uint8Array({ minLength: n * 8, maxLength: n * 8 }));
  const leaf: fc.Arbitrary<TtlvNode> = fc.oneof(
    fc.record({ tag, type: fc.constant('Integer' as const), value: fc.integer({ min: -0x80000000, max: 0x7fffffff }) }),
    fc.record({ tag, type: fc.constant('LongInteger' as const), value: int64 }),
    fc.record({ tag, type: fc.constant('BigInteger' as const), value: bigIntBytes.map((b) => Buffer.from(b)) }),
    fc.record({ tag, type: fc.constant('Enumeration' as const), value: fc.nat({ max: 0xffffffff }) }),
    fc.record({ tag, type: fc.constant('Boolean' as const), value: fc.boolean() }),
    fc.record({ tag, type: fc.constant('TextString' as const), value: fc.string({ unit: 'grapheme', maxLength: 40 }) }),
    fc.record({ tag, type: fc.constant('ByteString' as const), value: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)) }),
    fc.record({ tag, type: fc.constant('DateTime' as const), value: int64 }),
    fc.record({ tag, type: fc.constant('Interval' as const), value: fc.nat({ max: 0xffffffff }) }),
    fc.record({ tag, type: fc.constant('DateTimeExtended' as const), value: int64 }),
    fc.record({ tag, type: fc.constant('Identifier' as const), value: fc.string({ maxLength: 20 }) }),
  );
  const { tree } = fc.letrec<{ tree: TtlvNode }>((rec) => ({
    tree: fc.oneof(
      { depthSize: 'small', maxDepth: opts.maxDepth ?? 5 },
      leaf,
      fc.record({ tag, type: fc.constant('Structure' as const), value: fc.array(rec('tree'), { maxLength: 6 }) }),
    ),
  }));
  return tree;
}
