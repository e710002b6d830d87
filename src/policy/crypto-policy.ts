/**
 * The server's cryptographic policy, as data: which symmetric keys Create generates, with which
 * lengths, the default Cryptographic Usage Mask when a 2.x client gives none, and the lease the
 * server grants (Obtain Lease, Check).
 *
 * References: NIST SP 800-131A Rev. 2 (AES-128/192/256; HMAC keys of at least 112 bits), FIPS
 * 198-1 / SP 800-107 (an HMAC key the size of the hash output is the usual choice), KMIP 1.4 §3.4-3.5
 * / 2.1 §4.7-4.8 (Cryptographic Algorithm / Length), 1.4 §3.20 / 2.1 §4.28 (Lease Time).
 *
 * Operations ask `symmetricKeySpec`; a refusal is a string the operation turns into its Result
 * Reason (Create: Invalid Attribute Value in 2.x, Invalid Field in 1.x — "Incorrect attribute
 * value(s) specified", KMIP 1.4 §11.2).
 */
import { CryptographicAlgorithm } from '../kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../kmip/generated/masks.gen.js';

export interface SymmetricAlgorithmPolicy {
  /** The lengths Create accepts, in bits (AES: exactly these). */
  readonly lengths?: readonly number[];
  /** The smallest length accepted, in bits (HMAC keys). */
  readonly minBits?: number;
  /** The largest length accepted, in bits. */
  readonly maxBits?: number;
  /** Length used when the request gives none; undefined = the request must give one. */
  readonly defaultBits?: number;
  /** Cryptographic Usage Mask when a 2.x Create gives none (KMIP 2.1 §4.14: always has a value). */
  readonly defaultUsageMask: number;
}

const MAC = CryptographicUsageMask.MACGenerate | CryptographicUsageMask.MACVerify;
const hmac = (hashBits: number): SymmetricAlgorithmPolicy => ({ minBits: 112, maxBits: 4096, defaultBits: hashBits, defaultUsageMask: MAC });

/** What Create may generate. Anything not listed here is refused. */
export const SYMMETRIC_KEY_POLICY: ReadonlyMap<number, SymmetricAlgorithmPolicy> = new Map<number, SymmetricAlgorithmPolicy>([
  [CryptographicAlgorithm.AES, { lengths: [128, 192, 256], defaultUsageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt }],
  [CryptographicAlgorithm.HMAC_SHA1, hmac(160)],
  [CryptographicAlgorithm.HMAC_SHA224, hmac(224)],
  [CryptographicAlgorithm.HMAC_SHA256, hmac(256)],
  [CryptographicAlgorithm.HMAC_SHA384, hmac(384)],
  [CryptographicAlgorithm.HMAC_SHA512, hmac(512)],
]);

export type SymmetricKeyDecision = { readonly ok: true; readonly bits: number; readonly usageMask: number } | { readonly ok: false; readonly why: string };

/**
 * May Create generate a key of `algorithm` with `requestedBits` (undefined: the request gave no
 * Cryptographic Length)? Lengths must be whole bytes.
 */
export function symmetricKeySpec(algorithm: number, requestedBits: number | undefined): SymmetricKeyDecision {
  const p = SYMMETRIC_KEY_POLICY.get(algorithm);
  if (!p) return { ok: false, why: 'this server generates AES and HMAC-SHA1/224/256/384/512 keys only' };
  const bits = requestedBits ?? p.defaultBits;
  if (bits === undefined) return { ok: false, why: 'Cryptographic Length is required for this algorithm' };
  if (p.lengths && !p.lengths.includes(bits)) return { ok: false, why: `Cryptographic Length must be one of ${p.lengths.join(', ')}` };
  if (p.minBits !== undefined && bits < p.minBits) return { ok: false, why: `Cryptographic Length must be at least ${p.minBits} bits` };
  if (p.maxBits !== undefined && bits > p.maxBits) return { ok: false, why: `Cryptographic Length must be at most ${p.maxBits} bits` };
  if (bits <= 0 || bits % 8 !== 0) return { ok: false, why: 'Cryptographic Length must be a positive multiple of 8' };
  return { ok: true, bits, usageMask: p.defaultUsageMask };
}

/**
 * Leases (KMIP 1.4 §3.20, §4.17; 2.1 §4.28, §6.1.35). An object's own Lease Time attribute, when
 * set, is the longest lease it may get; otherwise `defaultSeconds`. 0 would mean "no lease
 * interval is effective".
 */
export const LEASE_POLICY = { defaultSeconds: 3600 } as const;
