/**
 * Arithmetic in GF(2^8) with a chosen reduction polynomial, by log/antilog tables built once per
 * field. Two fields are in use:
 * - AES_FIELD, x^8 + x^4 + x^3 + x + 1 (0x11B, FIPS 197 §4.2): the backup recovery shares
 *   (src/backup/shamir.ts); existing backups depend on it, so it never changes;
 * - KMIP_FIELD, x^8 + x^4 + x^3 + x^2 + 1 (0x11D, "285"): KMIP's Split Key Method Polynomial
 *   Sharing GF(2^8). The specs do not spell this method's field out (2.1 §13.1 names 0x11D for the
 *   GF(2^8) under GF(2^16), 1.4 §2.2.5 the AES polynomial there); the OASIS test vectors
 *   TC-SJ-2/3 recombine under 0x11D only, so that is the interoperable choice.
 * Addition and subtraction are XOR.
 */
export interface Gf256 {
  /** The reduction polynomial, with its x^8 bit (0x11B, 0x11D). */
  readonly polynomial: number;
  mul(a: number, b: number): number;
  div(a: number, b: number): number;
}

/** Shift-and-add multiplication, used only to build the tables. */
function slowMul(a: number, b: number, polynomial: number): number {
  let r = 0;
  while (b) {
    if (b & 1) r ^= a;
    a <<= 1;
    if (a & 0x100) a ^= polynomial;
    b >>= 1;
  }
  return r;
}

/** The field GF(2)[x]/(polynomial); the polynomial must be irreducible of degree 8 (checked: some element generates all 255). */
export function gf256(polynomial: number): Gf256 {
  if (polynomial < 0x100 || polynomial > 0x1ff) throw new RangeError('a GF(2^8) reduction polynomial has degree 8');
  const exp = new Uint8Array(510);
  const log = new Uint8Array(256);
  let generator = 0;
  for (let g = 2; g < 256 && generator === 0; g++) {
    let x = 1;
    let order = 0;
    do {
      x = slowMul(x, g, polynomial);
      order++;
    } while (x !== 1 && x !== 0 && order < 256);
    if (x === 1 && order === 255) generator = g;
  }
  if (generator === 0) throw new RangeError(`0x${polynomial.toString(16)} does not give a field`);
  let x = 1;
  for (let i = 0; i < 255; i++) {
    exp[i] = x;
    log[x] = i;
    x = slowMul(x, generator, polynomial);
  }
  for (let i = 255; i < 510; i++) exp[i] = exp[i - 255]!;
  return {
    polynomial,
    mul(a, b) {
      if (a === 0 || b === 0) return 0;
      return exp[log[a]! + log[b]!]!;
    },
    div(a, b) {
      if (b === 0) throw new RangeError('division by zero in GF(256)');
      if (a === 0) return 0;
      return exp[log[a]! + 255 - log[b]!]!;
    },
  };
}

export const AES_FIELD: Gf256 = gf256(0x11b);
export const KMIP_FIELD: Gf256 = gf256(0x11d);
