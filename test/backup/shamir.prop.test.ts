/**
 * Shamir over GF(256): field laws checked against an independent carry-less multiply, any M
 * of N shares give the secret back, and M-1 shares (interpolated as if they were enough) do
 * not. The AES field's known products (FIPS 197 §4.2: {57}·{83} = {c1}) anchor the tables.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { combine, gfDiv, gfMul, split } from '../../src/backup/shamir.js';

/** Multiply in GF(2^8) bit by bit (Russian peasant), independent of the log tables. */
function slowMul(a: number, b: number): number {
  let p = 0;
  for (let i = 0; i < 8; i++) {
    if (b & 1) p ^= a;
    const hi = a & 0x80;
    a = (a << 1) & 0xff;
    if (hi) a ^= 0x1b;
    b >>= 1;
  }
  return p;
}

/** A random subset of `k` of the items, order shuffled. */
const subset = <T>(items: readonly T[], k: number) => fc.shuffledSubarray([...items], { minLength: k, maxLength: k });

describe('GF(256)', () => {
  it('FIPS 197 example products', () => {
    expect(gfMul(0x57, 0x83)).toBe(0xc1);
    expect(gfMul(0x57, 0x13)).toBe(0xfe);
  });

  it('multiplication agrees with the bitwise product for every pair; division inverts it', () => {
    const wrong: string[] = [];
    for (let a = 0; a < 256; a++) {
      for (let b = 0; b < 256; b++) {
        const p = gfMul(a, b);
        if (p !== slowMul(a, b)) wrong.push(`${a}*${b}`);
        if (b !== 0 && gfDiv(p, b) !== a) wrong.push(`${p}/${b}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(() => gfDiv(1, 0)).toThrow(RangeError);
  });
});

describe('split / combine', () => {
  it('any M of N shares recover the secret; M-1 shares give something else', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 48 }),
        fc.integer({ min: 1, max: 8 }).chain((m) => fc.tuple(fc.constant(m), fc.integer({ min: m, max: 10 }))),
        fc.integer(),
        (secret, [m, n], seed) => {
          const shares = split(secret, m, n);
          expect(shares.map((s) => s.index)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
          const pick = fc.sample(subset(shares, m), { numRuns: 1, seed })[0]!;
          expect(Buffer.from(combine(pick))).toEqual(Buffer.from(secret));
          // More than M works too.
          expect(Buffer.from(combine(shares))).toEqual(Buffer.from(secret));
          if (m >= 2 && secret.length >= 8) {
            // M-1 shares interpolate a different polynomial: the result is unrelated to the
            // secret (equal with probability 2^-64 for 8 bytes).
            expect(Buffer.from(combine(pick.slice(1)))).not.toEqual(Buffer.from(secret));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('with M-1 shares every secret is equally possible (threshold 2: one share is uniform noise)', () => {
    // For M = 2 a single share byte is s ⊕ a·x with a uniform: fixing the random coefficient
    // stream, two different secrets give every share value exactly once over all a.
    const seen = new Set<number>();
    for (let a = 0; a < 256; a++) {
      const [first] = split(new Uint8Array([0x42]), 2, 3, (n) => new Uint8Array(n).fill(a));
      seen.add(first!.value[0]!);
    }
    expect(seen.size).toBe(256);
  });

  it('refuses bad parameters and bad share sets', () => {
    expect(() => split(new Uint8Array([1]), 0, 3)).toThrow(RangeError);
    expect(() => split(new Uint8Array([1]), 4, 3)).toThrow(RangeError);
    expect(() => split(new Uint8Array([1]), 2, 256)).toThrow(RangeError);
    expect(() => split(new Uint8Array(0), 2, 3)).toThrow(RangeError);
    const sh = split(new Uint8Array([1, 2, 3]), 2, 3);
    expect(() => combine([sh[0]!, sh[0]!])).toThrow(/twice/);
    expect(() => combine([])).toThrow(RangeError);
    expect(() => combine([sh[0]!, { index: 2, value: new Uint8Array(2) }])).toThrow(/lengths/);
  });
});
