/**
 * Shamir secret sharing over GF(2^8), byte by byte: a secret is split into N shares so that
 * any M of them give it back and M-1 reveal nothing about it.
 *
 * For each secret byte s a random polynomial f(x) = s + a1·x + … + a(M-1)·x^(M-1) over
 * GF(2^8) (the AES field, reduction polynomial x^8 + x^4 + x^3 + x + 1) is drawn, and share
 * i (x = 1…N) holds f(i). Combining interpolates f(0) with Lagrange's formula.
 * Tables are built once; the field arithmetic is plain table lookups.
 */
import { randomBytes } from 'node:crypto';

const EXP = new Uint8Array(510);
const LOG = new Uint8Array(256);
(() => {
  // 3 generates the multiplicative group of GF(2^8) with the AES polynomial.
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    // x *= 3: x ^ (x * 2), with reduction
    let x2 = x << 1;
    if (x2 & 0x100) x2 ^= 0x11b;
    x = x ^ x2;
  }
  for (let i = 255; i < 510; i++) EXP[i] = EXP[i - 255]!;
})();

export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  return EXP[LOG[a]! + LOG[b]!]!;
}

export function gfDiv(a: number, b: number): number {
  if (b === 0) throw new RangeError('division by zero in GF(256)');
  if (a === 0) return 0;
  return EXP[LOG[a]! + 255 - LOG[b]!]!;
}

export interface Share {
  /** The x coordinate, 1…255. */
  readonly index: number;
  /** f(index) for each secret byte. */
  readonly value: Uint8Array;
}

/** Split `secret` into `total` shares, any `threshold` of which recover it. */
export function split(secret: Uint8Array, threshold: number, total: number, random: (n: number) => Uint8Array = randomBytes): Share[] {
  if (!Number.isInteger(threshold) || !Number.isInteger(total) || threshold < 1 || total < threshold || total > 255) {
    throw new RangeError(`need 1 ≤ threshold ≤ shares ≤ 255 (got ${threshold} of ${total})`);
  }
  if (secret.length === 0) throw new RangeError('empty secret');
  const coeffs = random(secret.length * (threshold - 1));
  const shares = Array.from({ length: total }, (_, i) => ({ index: i + 1, value: new Uint8Array(secret.length) }));
  for (let b = 0; b < secret.length; b++) {
    for (const sh of shares) {
      // Horner: ((a(M-1)·x + a(M-2))·x + … + a1)·x + s
      let y = 0;
      for (let k = threshold - 2; k >= 0; k--) y = gfMul(y, sh.index) ^ coeffs[b * (threshold - 1) + k]!;
      sh.value[b] = gfMul(y, sh.index) ^ secret[b]!;
    }
  }
  coeffs.fill(0);
  return shares;
}

/**
 * Interpolate the secret from shares (all the same length, distinct indexes). With fewer
 * shares than the threshold the result is some other value: callers check it (here: the
 * recovered private key must match the recorded public key).
 */
export function combine(shares: readonly Share[]): Uint8Array {
  if (shares.length === 0) throw new RangeError('no shares');
  const len = shares[0]!.value.length;
  const seen = new Set<number>();
  for (const s of shares) {
    if (!Number.isInteger(s.index) || s.index < 1 || s.index > 255) throw new RangeError(`bad share index ${s.index}`);
    if (seen.has(s.index)) throw new RangeError(`share ${s.index} given twice`);
    if (s.value.length !== len) throw new RangeError('shares of different lengths');
    seen.add(s.index);
  }
  // Lagrange basis at 0: l_j = Π_{m≠j} x_m / (x_m - x_j); subtraction is XOR.
  const basis = shares.map((sj) => {
    let num = 1;
    let den = 1;
    for (const sm of shares) {
      if (sm === sj) continue;
      num = gfMul(num, sm.index);
      den = gfMul(den, sm.index ^ sj.index);
    }
    return gfDiv(num, den);
  });
  const out = new Uint8Array(len);
  for (let b = 0; b < len; b++) {
    let acc = 0;
    shares.forEach((s, j) => (acc ^= gfMul(s.value[b]!, basis[j]!)));
    out[b] = acc;
  }
  return out;
}
