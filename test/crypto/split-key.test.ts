/**
 * The KMIP Split Key Methods (src/crypto/split-key.ts) and the field they use (src/crypto/gf256.ts):
 * - KMIP_FIELD is x^8+x^4+x^3+x^2+1, checked against an independent carry-less multiply, and the
 *   OASIS test vectors (TC-SJ-2/3: four parts of 0102…10, threshold 2) rebuild under it;
 * - XOR: all parts rebuild, any parts-1 do not, and the parts alone look nothing like the secret;
 * - Polynomial Sharing GF(2^8): any M of N rebuild; M-1 (interpolated as if enough) do not;
 *   with M-1 parts fixed, every value of a secret byte stays possible (no information);
 * - fewer parts than the threshold and extra parts off the polynomial: FAILURE.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SplitKeyMethod } from '../../src/kmip/generated/enums.gen.js';
import { AES_FIELD, KMIP_FIELD, gf256 } from '../../src/crypto/gf256.js';
import { shamirCombine, shamirSplit } from '../../src/crypto/shamir.js';
import { joinSecret, splitSecret, splitShapeProblem } from '../../src/crypto/split-key.js';
import { CryptoError } from '../../src/crypto/errors.js';

function slowMul(a: number, b: number, poly: number): number {
  let p = 0;
  for (let i = 0; i < 8; i++) {
    if (b & 1) p ^= a;
    const hi = a & 0x80;
    a = (a << 1) & 0xff;
    if (hi) a ^= poly & 0xff;
    b >>= 1;
  }
  return p;
}

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
const OASIS_PARTS = [
  { id: 1, material: hex('66C46A7754F94DE420C7B1A7FFF5EC56') },
  { id: 2, material: hex('CF93D1E2A7E593CD5B8D6247F4E5D49C') },
  { id: 3, material: hex('A855B891F61AD9217240D8EC061E37DA') },
  { id: 4, material: hex('803DBAD55CDD329FAD19D99AE2C5A415') },
];
const OASIS_SECRET = '0102030405060708090a0b0c0d0e0f10';

const subset = <T>(items: readonly T[], k: number) => fc.shuffledSubarray([...items], { minLength: k, maxLength: k });
const failure = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof CryptoError ? e.code : 'other';
  }
  return 'none';
};

describe('GF(2^8) fields', () => {
  it('KMIP_FIELD and AES_FIELD agree with the bitwise product for every pair; division inverts', () => {
    for (const [field, poly] of [
      [KMIP_FIELD, 0x11d],
      [AES_FIELD, 0x11b],
    ] as const) {
      let wrong = 0;
      for (let a = 0; a < 256; a++) {
        for (let b = 0; b < 256; b++) {
          const p = field.mul(a, b);
          if (p !== slowMul(a, b, poly)) wrong++;
          if (b !== 0 && field.div(p, b) !== a) wrong++;
        }
      }
      expect(wrong).toBe(0);
    }
    expect(KMIP_FIELD.mul(0x57, 0x83)).not.toBe(AES_FIELD.mul(0x57, 0x83));
  });

  it('refuses a reducible polynomial', () => {
    expect(() => gf256(0x100)).toThrow(RangeError);
    expect(() => gf256(0x1ff)).toThrow(RangeError); // divisible by x+1
  });
});

describe('Polynomial Sharing GF(2^8)', () => {
  it('rebuilds the OASIS vectors (TC-SJ-2/3) from every pair of parts, and the AES field does not', () => {
    for (let i = 0; i < 4; i++) {
      for (let j = i + 1; j < 4; j++) {
        const got = joinSecret(SplitKeyMethod.PolynomialSharingGF2_8, [OASIS_PARTS[i]!, OASIS_PARTS[j]!], 2);
        expect(Buffer.from(got).toString('hex')).toBe(OASIS_SECRET);
      }
    }
    const aes = shamirCombine(
      AES_FIELD,
      [OASIS_PARTS[0]!, OASIS_PARTS[2]!].map((p) => ({ index: p.id, value: p.material })),
    );
    expect(Buffer.from(aes).toString('hex')).not.toBe(OASIS_SECRET);
  });

  it('any M of N parts rebuild the secret; M-1 do not', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 40 }),
        fc.integer({ min: 2, max: 8 }).chain((m) => fc.tuple(fc.constant(m), fc.integer({ min: m, max: 10 }))),
        fc.nat(),
        (secret, [m, n], seed) => {
          const parts = splitSecret(SplitKeyMethod.PolynomialSharingGF2_8, secret, n, m);
          expect(parts.map((p) => p.id)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
          const pick = fc.sample(subset(parts, m), { seed, numRuns: 1 })[0]!;
          expect(joinSecret(SplitKeyMethod.PolynomialSharingGF2_8, pick, m)).toEqual(secret);
          // All N together (extra parts checked against the polynomial) also rebuild it.
          expect(joinSecret(SplitKeyMethod.PolynomialSharingGF2_8, parts, m)).toEqual(secret);
          // M-1 parts: refused, and interpolating them as if they were enough gives something else
          // (for a 16-byte secret the chance of a match is 2^-128; shorter ones may collide, so only those).
          expect(failure(() => joinSecret(SplitKeyMethod.PolynomialSharingGF2_8, pick.slice(1), m))).toBe('FAILURE');
          if (secret.length >= 16) {
            const guess = shamirCombine(
              KMIP_FIELD,
              pick.slice(1).map((p) => ({ index: p.id, value: p.material })),
            );
            expect(guess).not.toEqual(secret);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('M-1 parts say nothing: over all coefficients, one part takes every value once, whatever the secret', () => {
    // Threshold 2: part x holds s + a·x. Enumerating the random coefficient a over 0…255 must give
    // each part every byte value exactly once for any secret s, so one part alone is uniform.
    for (const s of [0x00, 0xa7, 0xff]) {
      for (const x of [1, 2, 3]) {
        const seen = new Set<number>();
        for (let a = 0; a < 256; a++) {
          const parts = splitSecret(SplitKeyMethod.PolynomialSharingGF2_8, Uint8Array.of(s), 3, 2, () => Uint8Array.of(a));
          seen.add(parts[x - 1]!.material[0]!);
        }
        expect(seen.size).toBe(256);
      }
    }
  });

  it('an extra part from another split is FAILURE, not a wrong key', () => {
    const a = splitSecret(
      SplitKeyMethod.PolynomialSharingGF2_8,
      Uint8Array.from({ length: 16 }, (_, i) => i),
      4,
      2,
    );
    const b = splitSecret(
      SplitKeyMethod.PolynomialSharingGF2_8,
      Uint8Array.from({ length: 16 }, (_, i) => 255 - i),
      4,
      2,
    );
    expect(failure(() => joinSecret(SplitKeyMethod.PolynomialSharingGF2_8, [a[0]!, a[1]!, b[2]!], 2))).toBe('FAILURE');
  });

  it('a part given twice is refused', () => {
    const a = splitSecret(SplitKeyMethod.PolynomialSharingGF2_8, Uint8Array.of(1, 2, 3), 3, 2);
    expect(failure(() => joinSecret(SplitKeyMethod.PolynomialSharingGF2_8, [a[0]!, a[0]!], 2))).toBe('BAD_PARAMETERS');
  });
});

describe('XOR', () => {
  it('all parts rebuild the secret; any parts-1 do not', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 48 }), fc.integer({ min: 2, max: 8 }), fc.nat(), (secret, n, drop) => {
        const parts = splitSecret(SplitKeyMethod.XOR, secret, n, n);
        expect(parts).toHaveLength(n);
        expect(joinSecret(SplitKeyMethod.XOR, [...parts].reverse(), n)).toEqual(secret);
        const fewer = parts.filter((_, i) => i !== drop % n);
        expect(failure(() => joinSecret(SplitKeyMethod.XOR, fewer, n))).toBe('FAILURE');
        // XOR of the n-1 parts is the secret XOR a uniformly random part: not the secret.
        const partial = new Uint8Array(secret.length);
        for (const p of fewer) for (let i = 0; i < partial.length; i++) partial[i]! ^= p.material[i]!;
        expect(partial).not.toEqual(secret);
        for (const p of parts) expect(p.material).not.toEqual(secret);
      }),
      { numRuns: 100 },
    );
  });

  it('threshold must equal parts', () => {
    expect(splitShapeProblem(SplitKeyMethod.XOR, 4, 2)).toMatch(/equal/);
    expect(splitShapeProblem(SplitKeyMethod.XOR, 4, 4)).toBeUndefined();
    expect(failure(() => splitSecret(SplitKeyMethod.XOR, Uint8Array.of(1), 4, 2))).toBe('BAD_PARAMETERS');
  });
});

describe('shape and methods', () => {
  it('threshold within 1…parts, at most 255 GF(2^8) parts', () => {
    expect(splitShapeProblem(SplitKeyMethod.PolynomialSharingGF2_8, 3, 4)).toBeDefined();
    expect(splitShapeProblem(SplitKeyMethod.PolynomialSharingGF2_8, 3, 0)).toBeDefined();
    expect(splitShapeProblem(SplitKeyMethod.PolynomialSharingGF2_8, 256, 2)).toBeDefined();
    expect(splitShapeProblem(SplitKeyMethod.PolynomialSharingGF2_8, 255, 2)).toBeUndefined();
  });

  it('GF(2^16) and Prime Field are UNSUPPORTED', () => {
    for (const m of [SplitKeyMethod.PolynomialSharingGF2_16, SplitKeyMethod.PolynomialSharingPrimeField]) {
      expect(failure(() => splitSecret(m, Uint8Array.of(1, 2), 3, 2))).toBe('UNSUPPORTED');
      expect(
        failure(() =>
          joinSecret(
            m,
            [
              { id: 1, material: Uint8Array.of(1) },
              { id: 2, material: Uint8Array.of(2) },
            ],
            2,
          ),
        ),
      ).toBe('UNSUPPORTED');
    }
  });

  it('the shared Shamir code still matches the backup module (AES field) byte for byte', async () => {
    const backup = await import('../../src/backup/shamir.js');
    const rand = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) & 0xff);
    const secret = Uint8Array.from({ length: 32 }, (_, i) => i);
    expect(backup.split(secret, 3, 5, rand)).toEqual(shamirSplit(AES_FIELD, secret, 3, 5, rand));
  });
});
