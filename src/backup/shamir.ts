/**
 * Shamir secret sharing for the backup recovery key: src/crypto/shamir.ts over the AES field
 * (x^8 + x^4 + x^3 + x + 1). Recovery shares already handed to custodians were made in this
 * field, so it stays fixed.
 */
import { randomBytes } from 'node:crypto';
import { AES_FIELD } from '../crypto/gf256.js';
import { shamirCombine, shamirSplit, type Share } from '../crypto/shamir.js';

export type { Share };

export const gfMul = (a: number, b: number): number => AES_FIELD.mul(a, b);
export const gfDiv = (a: number, b: number): number => AES_FIELD.div(a, b);

/** Split `secret` into `total` shares, any `threshold` of which recover it. */
export function split(secret: Uint8Array, threshold: number, total: number, random: (n: number) => Uint8Array = randomBytes): Share[] {
  return shamirSplit(AES_FIELD, secret, threshold, total, random);
}

/**
 * Interpolate the secret from shares. With fewer shares than the threshold the result is some
 * other value: callers check it (here: the recovered private key must match the recorded public key).
 */
export function combine(shares: readonly Share[]): Uint8Array {
  return shamirCombine(AES_FIELD, shares);
}
