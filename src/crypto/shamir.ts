/**
 * Shamir secret sharing over GF(2^8) (src/crypto/gf256.ts), byte by byte: a secret is split into
 * N shares so that any M of them give it back and M-1 reveal nothing about it.
 *
 * For each secret byte s a random polynomial f(x) = s + a1·x + … + a(M-1)·x^(M-1) is drawn, and
 * share i (x = 1…N) holds f(i). Combining interpolates f(0) with Lagrange's formula. Used by the
 * backup recovery key (AES field) and by Create/Join Split Key (KMIP field).
 */
import { randomBytes } from 'node:crypto';
import type { Gf256 } from './gf256.js';

export interface Share {
  /** The x coordinate, 1…255. */
  readonly index: number;
  /** f(index) for each secret byte. */
  readonly value: Uint8Array;
}

/** Split `secret` into `total` shares, any `threshold` of which recover it. */
export function shamirSplit(field: Gf256, secret: Uint8Array, threshold: number, total: number, random: (n: number) => Uint8Array = randomBytes): Share[] {
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
      for (let k = threshold - 2; k >= 0; k--) y = field.mul(y, sh.index) ^ coeffs[b * (threshold - 1) + k]!;
      sh.value[b] = field.mul(y, sh.index) ^ secret[b]!;
    }
  }
  coeffs.fill(0);
  return shares;
}

/**
 * Interpolate f(x) at `at` (0: the secret) from shares (all the same length, distinct indexes).
 * With fewer shares than the threshold the result is some other value: callers check it.
 */
export function shamirCombine(field: Gf256, shares: readonly Share[], at = 0): Uint8Array {
  if (shares.length === 0) throw new RangeError('no shares');
  const len = shares[0]!.value.length;
  const seen = new Set<number>();
  for (const s of shares) {
    if (!Number.isInteger(s.index) || s.index < 1 || s.index > 255) throw new RangeError(`bad share index ${s.index}`);
    if (seen.has(s.index)) throw new RangeError(`share ${s.index} given twice`);
    if (s.value.length !== len) throw new RangeError('shares of different lengths');
    seen.add(s.index);
  }
  // Lagrange basis at `at`: l_j = Π_{m≠j} (at - x_m) / (x_j - x_m); subtraction is XOR.
  const basis = shares.map((sj) => {
    let num = 1;
    let den = 1;
    for (const sm of shares) {
      if (sm === sj) continue;
      num = field.mul(num, at ^ sm.index);
      den = field.mul(den, sm.index ^ sj.index);
    }
    return field.div(num, den);
  });
  const out = new Uint8Array(len);
  for (let b = 0; b < len; b++) {
    let acc = 0;
    shares.forEach((s, j) => (acc ^= field.mul(s.value[b]!, basis[j]!)));
    out[b] = acc;
  }
  return out;
}
