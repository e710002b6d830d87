/**
 * Three-key Triple DES generation (src/crypto/tdes-key.ts): odd parity on every byte (FIPS 46-3,
 * SP 800-67 Rev. 2 §3.3.1), three distinct DES keys and no weak or semi-weak one (SP 800-67
 * Rev. 2 §3.3.2). The weak-key table is checked against keys built here from the definition (a
 * weak key's 16 round keys are all equal: its C and D halves are all-0 or all-1 bits), not
 * against the module's own list.
 */
import { createCipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateTdesKey, hasOddParity, isWeakDesKey, setOddParity, tdesKeyProblem, TDES_KEY_BYTES } from '../../src/crypto/tdes-key.js';

const hex = (h: string) => Buffer.from(h, 'hex');
const GOOD = hex('0123456789abcdef23456789abcdef01456789abcdef0123'); // the classic TDES test bundle (K1, K2, K3 distinct, odd parity)

function popcount(b: number): number {
  let n = 0;
  for (let x = b; x; x >>= 1) n += x & 1;
  return n;
}

/** A replaying "random" source: hands out the given buffers in turn (copies). */
function replay(...bufs: Buffer[]): (n: number) => Uint8Array {
  let i = 0;
  return (n) => {
    const b = bufs[i++];
    if (!b || b.length !== n) throw new Error('replay exhausted');
    return Buffer.from(b);
  };
}

describe('parity', () => {
  it('setOddParity leaves an odd number of 1 bits in every byte, changing only the low bit', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const fixed = setOddParity(Buffer.from(all));
    for (let i = 0; i < 256; i++) {
      expect(popcount(fixed[i]!) % 2).toBe(1);
      expect(fixed[i]! & 0xfe).toBe(i & 0xfe);
    }
    expect(hasOddParity(fixed)).toBe(true);
    expect(hasOddParity(hex('0101010101010100'))).toBe(false);
  });

  it('generated keys are 24 bytes with odd parity, and OpenSSL encrypts with them', () => {
    for (let i = 0; i < 200; i++) {
      const k = generateTdesKey();
      expect(k.length).toBe(TDES_KEY_BYTES);
      expect(k.every((b) => popcount(b) % 2 === 1)).toBe(true);
      expect(tdesKeyProblem(k)).toBeUndefined();
    }
    const k = generateTdesKey();
    const c = createCipheriv('des-ede3-ecb', k, null);
    expect(Buffer.concat([c.update(Buffer.alloc(8)), c.final()]).length).toBe(16);
  });

  it('two generated keys differ (fresh randomness each time)', () => {
    expect(generateTdesKey().equals(generateTdesKey())).toBe(false);
  });
});

describe('weak and semi-weak keys', () => {
  // From the definition: PC-1 splits the 56 key bits into C and D; a weak key has C and D each
  // all zeros or all ones. With odd parity those are 01…/FE…/1F1F1F1F0E0E0E0E/E0E0E0E0F1F1F1F1.
  const weak = ['0101010101010101', 'fefefefefefefefe', '1f1f1f1f0e0e0e0e', 'e0e0e0e0f1f1f1f1'];
  it('the four weak keys are refused, also with their parity bits flipped', () => {
    for (const w of weak) {
      expect(isWeakDesKey(hex(w))).toBe(true);
      expect(isWeakDesKey(Buffer.from(hex(w).map((b) => b ^ 1)))).toBe(true);
    }
  });

  it('a weak key is its own inverse under DES (what makes it weak), and the checker agrees', () => {
    for (const w of weak) {
      const k = hex(w);
      const enc = (x: Buffer) =>
        createCipheriv('des-ede3-ecb', Buffer.concat([k, k, k]), null)
          .setAutoPadding(false)
          .update(x);
      const p = hex('4e6f772069732074');
      expect(enc(enc(p)).equals(p)).toBe(true);
    }
  });

  it('the semi-weak pairs are refused: each key of a pair decrypts what the other encrypts', () => {
    const pairs = [
      ['011f011f010e010e', '1f011f010e010e01'],
      ['01e001e001f101f1', 'e001e001f101f101'],
      ['01fe01fe01fe01fe', 'fe01fe01fe01fe01'],
      ['1fe01fe00ef10ef1', 'e01fe01ff10ef10e'],
      ['1ffe1ffe0efe0efe', 'fe1ffe1ffe0efe0e'],
      ['e0fee0fef1fef1fe', 'fee0fee0fef1fef1'],
    ];
    const p = hex('0123456789abcdef');
    for (const [a, b] of pairs) {
      expect(isWeakDesKey(hex(a!))).toBe(true);
      expect(isWeakDesKey(hex(b!))).toBe(true);
      const e = (k: string, x: Buffer) =>
        createCipheriv('des-ede3-ecb', Buffer.concat([hex(k), hex(k), hex(k)]), null)
          .setAutoPadding(false)
          .update(x);
      expect(e(b!, e(a!, p)).equals(p)).toBe(true);
    }
  });

  it('an ordinary key is not weak', () => {
    expect(isWeakDesKey(hex('0123456789abcdef'))).toBe(false);
    expect(tdesKeyProblem(GOOD)).toBeUndefined();
  });
});

describe('bundle checks and regeneration', () => {
  it('refuses a bundle whose parts are not distinct (K1 = K2, K2 = K3, K1 = K3), even when only parity bits differ', () => {
    const k1 = GOOD.subarray(0, 8);
    const k2 = GOOD.subarray(8, 16);
    const k1p = Buffer.from(k1.map((b) => b ^ 1));
    expect(tdesKeyProblem(Buffer.concat([k1, k1, k2]))).toMatch(/distinct/);
    expect(tdesKeyProblem(Buffer.concat([k1, k2, k2]))).toMatch(/distinct/);
    expect(tdesKeyProblem(Buffer.concat([k1, k2, k1]))).toMatch(/distinct/);
    expect(tdesKeyProblem(setOddParity(Buffer.concat([k1, k2, k1p])))).toMatch(/distinct/);
  });

  it('refuses a bundle with a weak or semi-weak part, a wrong length, or even parity', () => {
    expect(tdesKeyProblem(Buffer.concat([GOOD.subarray(0, 16), hex('fefefefefefefefe')]))).toMatch(/weak/);
    expect(tdesKeyProblem(Buffer.concat([hex('01e001e001f101f1'), GOOD.subarray(8)]))).toMatch(/weak/);
    expect(tdesKeyProblem(GOOD.subarray(0, 16))).toMatch(/24 bytes/);
    const even = Buffer.from(GOOD);
    even[5] = even[5]! ^ 1;
    expect(tdesKeyProblem(even)).toMatch(/parity/);
  });

  it('draws again when the source gives a bad bundle: repeated parts, then a weak part, then a good one', () => {
    const k1 = GOOD.subarray(0, 8);
    const repeated = Buffer.concat([k1, k1, k1]);
    const weakPart = Buffer.concat([GOOD.subarray(0, 16), hex('0101010101010101')]);
    // parity bits deliberately wrong in the good draw: the generator sets them
    const good = Buffer.from(GOOD.map((b) => b & 0xfe));
    const k = generateTdesKey(replay(repeated, weakPart, good));
    expect(k.equals(GOOD)).toBe(true);
  });

  it('gives up rather than return a bad key when the source is broken', () => {
    expect(() => generateTdesKey(() => Buffer.alloc(24))).toThrow(/invalid Triple DES/);
  });
});
