/**
 * The KMIP Split Key Methods this server serves (KMIP 1.4 §2.2.5, 2.1 §13.1):
 * - XOR: Split Key Parts random-looking parts whose XOR is the secret; every part is needed
 *   (Split Key Threshold equals Split Key Parts);
 * - Polynomial Sharing GF(2^8): Shamir over GF(2^8) with the polynomial x^8+x^4+x^3+x^2+1
 *   (KMIP_FIELD), byte by byte; part i holds f(i), i being its Key Part Identifier.
 * Polynomial Sharing GF(2^16) and Prime Field are not built: the specs leave their byte layout
 * (and, for GF(2^16), the base field: 1.4 and 2.1 disagree) open and there are no test vectors to
 * check an implementation against. Errors: CryptoError (src/crypto/errors.ts).
 * Never logs anything; callers wipe what they get.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { SplitKeyMethod } from '../kmip/generated/enums.gen.js';
import { CryptoError } from './errors.js';
import { KMIP_FIELD } from './gf256.js';
import { shamirCombine, shamirSplit } from './shamir.js';

export const SERVED_SPLIT_METHODS: ReadonlySet<number> = new Set([SplitKeyMethod.XOR, SplitKeyMethod.PolynomialSharingGF2_8]);

export interface SplitPart {
  /** The Key Part Identifier, 1…parts. */
  readonly id: number;
  readonly material: Uint8Array;
}

/** Why `parts`/`threshold` do not fit `method`, or undefined when they do. */
export function splitShapeProblem(method: number, parts: number, threshold: number): string | undefined {
  if (!Number.isInteger(parts) || parts < 1) return 'Split Key Parts must be at least 1';
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > parts) return 'Split Key Threshold must be between 1 and Split Key Parts';
  if (method === SplitKeyMethod.XOR && threshold !== parts) return 'with the XOR method every part is needed: Split Key Threshold must equal Split Key Parts';
  if (method === SplitKeyMethod.PolynomialSharingGF2_8 && parts > 255) return 'Polynomial Sharing GF(2^8) makes at most 255 parts';
  return undefined;
}

/** Split `secret` into `parts` parts (Key Part Identifiers 1…parts). */
export function splitSecret(method: number, secret: Uint8Array, parts: number, threshold: number, random: (n: number) => Uint8Array = randomBytes): SplitPart[] {
  const problem = splitShapeProblem(method, parts, threshold);
  if (problem) throw new CryptoError('BAD_PARAMETERS', problem);
  if (secret.length === 0) throw new CryptoError('BAD_PARAMETERS', 'nothing to split');
  switch (method) {
    case SplitKeyMethod.XOR: {
      const out: SplitPart[] = [];
      const last = Uint8Array.from(secret);
      for (let id = 1; id < parts; id++) {
        const r = random(secret.length);
        for (let i = 0; i < last.length; i++) last[i]! ^= r[i]!;
        out.push({ id, material: r });
      }
      out.push({ id: parts, material: last });
      return out;
    }
    case SplitKeyMethod.PolynomialSharingGF2_8:
      return shamirSplit(KMIP_FIELD, secret, threshold, parts, random).map((s) => ({ id: s.index, material: s.value }));
    default:
      throw new CryptoError('UNSUPPORTED', `Split Key Method ${method} is not served (XOR and Polynomial Sharing GF(2^8) are)`);
  }
}

/**
 * Rebuild the secret from parts of one split (distinct ids, equal lengths; the caller checks they
 * share method, parts and threshold). Fewer than `threshold` parts: FAILURE. For Polynomial
 * Sharing, parts beyond the threshold must lie on the same polynomial (else FAILURE: they do not
 * belong together), compared in constant time.
 */
export function joinSecret(method: number, parts: readonly SplitPart[], threshold: number): Uint8Array {
  if (parts.length < threshold) throw new CryptoError('FAILURE', `${parts.length} part(s) given; ${threshold} are needed`);
  const len = parts[0]?.material.length ?? 0;
  const ids = new Set(parts.map((p) => p.id));
  if (ids.size !== parts.length) throw new CryptoError('BAD_PARAMETERS', 'the same Key Part Identifier is given twice');
  if (parts.some((p) => p.material.length !== len)) throw new CryptoError('BAD_PARAMETERS', 'the parts are not of one length');
  switch (method) {
    case SplitKeyMethod.XOR: {
      const out = new Uint8Array(len);
      for (const p of parts) for (let i = 0; i < len; i++) out[i]! ^= p.material[i]!;
      return out;
    }
    case SplitKeyMethod.PolynomialSharingGF2_8: {
      const shares = parts.map((p) => ({ index: p.id, value: p.material }));
      const base = shares.slice(0, threshold);
      for (const extra of shares.slice(threshold)) {
        const expected = shamirCombine(KMIP_FIELD, base, extra.index);
        const same = timingSafeEqual(expected, extra.value);
        expected.fill(0);
        if (!same) throw new CryptoError('FAILURE', 'the parts do not belong to one split');
      }
      return shamirCombine(KMIP_FIELD, base);
    }
    default:
      throw new CryptoError('UNSUPPORTED', `Split Key Method ${method} is not served (XOR and Polynomial Sharing GF(2^8) are)`);
  }
}
