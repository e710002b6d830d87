/** fast-check arbitraries for TTLV trees (tags random or drawn from a given list). */
import fc from 'fast-check';
import type { TtlvNode } from '../../src/ttlv/index.js';
import { tagDefs, enumDef, maskDef } from '../../src/kmip/registry.js';
import type { TagDef } from '../../src/kmip/spec-types.js';

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
    tree: fc.oneof({ depthSize: 'small', maxDepth: opts.maxDepth ?? 5 }, leaf, fc.record({ tag, type: fc.constant('Structure' as const), value: fc.array(rec('tree'), { maxLength: 6 }) })),
  }));
  return tree;
}

/**
 * Registry-driven trees: every item is a tag the spec registry defines, with one of the item
 * types the spec gives that tag; Structure tags get children, Enumeration tags values from
 * their enumeration (or vendor values), mask tags combinations of their bits.
 */
export function registryTreeArb(maxDepth = 4): fc.Arbitrary<TtlvNode> {
  return registryTree(maxDepth);
}

function valueFor(def: TagDef, type: Exclude<TtlvNode['type'], 'Structure'>): fc.Arbitrary<TtlvNode> {
  const tag = def.tag;
  const int64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
  switch (type) {
    case 'Enumeration': {
      const values = def.enum ? (enumDef(def.enum)?.values.map((v) => v.value) ?? []) : [];
      const arb = values.length > 0 ? fc.oneof(fc.constantFrom(...values), fc.integer({ min: 0x80000000, max: 0xffffffff })) : fc.nat({ max: 0xffffffff });
      return arb.map((value) => ({ tag, type, value }));
    }
    case 'Integer': {
      const bits = def.mask ? (maskDef(def.mask)?.values.map((v) => v.value) ?? []) : [];
      const arb = bits.length > 0 ? fc.subarray(bits).map((b) => b.reduce((a, x) => (a | x) >>> 0, 0) | 0) : fc.integer({ min: -0x80000000, max: 0x7fffffff });
      return arb.map((value) => ({ tag, type, value }));
    }
    case 'LongInteger':
    case 'DateTime':
    case 'DateTimeExtended':
      return int64.map((value) => ({ tag, type, value }));
    case 'Interval':
      return fc.nat({ max: 0xffffffff }).map((value) => ({ tag, type, value }));
    case 'Boolean':
      return fc.boolean().map((value) => ({ tag, type, value }));
    case 'BigInteger':
      return fc
        .integer({ min: 1, max: 3 })
        .chain((n) => fc.uint8Array({ minLength: n * 8, maxLength: n * 8 }))
        .map((b) => ({ tag, type, value: Buffer.from(b) }));
    case 'ByteString':
      return fc.uint8Array({ maxLength: 48 }).map((b) => ({ tag, type, value: Buffer.from(b) }));
    default:
      return fc.string({ maxLength: 24 }).map((value) => ({ tag, type, value }) as TtlvNode);
  }
}

function registryTree(depth: number): fc.Arbitrary<TtlvNode> {
  const defs = tagDefs().filter((d) => d.types.length > 0);
  const leaves = defs.filter((d) => d.types.some((t) => t !== 'Structure'));
  const structs = defs.filter((d) => d.types.includes('Structure'));
  const leaf = fc.constantFrom(...leaves).chain((d) => fc.constantFrom(...d.types.filter((t) => t !== 'Structure')).chain((t) => valueFor(d, t as Exclude<TtlvNode['type'], 'Structure'>)));
  if (depth <= 1) return leaf;
  return fc.oneof(
    { weight: 3, arbitrary: leaf },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom(...structs), fc.array(registryTree(depth - 1), { maxLength: 5 })).map(([d, value]) => ({ tag: d.tag, type: 'Structure' as const, value })),
    },
  );
}
