/**
 * The crypto policy for every key, not only the ones the server generates: what a key given by
 * a client (Register, Import; also Re-key and Derive Key results) must be, and what a stored key
 * must be to be used to protect (Encrypt, Sign, wrap, MAC). The settings are part of the
 * `cryptoPolicy` section (crypto-policy.ts `cryptoPolicyFrom`); each refusal names its setting.
 *
 * References: NIST SP 800-131A Rev. 2 (RSA and ECC at 112 bits of security or more: RSA moduli of
 * at least 2048 bits; single DES disallowed; HMAC keys of at least 112 bits), FIPS 186-5 §5.4 and
 * SP 800-56B Rev. 2 §6.2 (RSA public exponent 65537 ≤ e < 2^256, odd), SP 800-186 (the P-256,
 * P-384, P-521 curves), SP 800-132 §5.1-5.2 (PBKDF2: salt of at least 128 bits, at least 1,000
 * iterations), SP 800-67 Rev. 2 (Triple DES: three distinct DES keys; a key bundle with K1 = K2 or
 * K2 = K3 is single DES).
 *
 * Pure functions over facts the caller read; operations/crypto/key-policy-check.ts applies them.
 */
import { CryptographicAlgorithm } from '../kmip/generated/enums.gen.js';

export interface KeyPolicy {
  /** Smallest RSA modulus of any key (generated, registered, used to protect), bits. */
  readonly rsaMinBits: number;
  /** Smallest RSA public exponent. */
  readonly rsaMinPublicExponent: bigint;
  /** EC curves by field size (P-256, P-384, P-521). */
  readonly ecLengths: readonly number[];
  /** Smallest HMAC key, bits (registered HMAC keys, MAC with an HMAC key, HMAC derivation). */
  readonly hmacMinBits: number;
  /** PBKDF2 (Derive Key): fewest iterations and shortest salt. */
  readonly pbkdf2MinIterations: number;
  readonly pbkdf2MinSaltBytes: number;
  /**
   * Keys the other settings refuse (RSA below rsaMinBits or with a small exponent, EC curves
   * outside ecCurves, key types and formats the server cannot read, two-key Triple DES) are
   * accepted by Register and Import and may be used. For migrating an existing key store; off by
   * default. Single DES, degenerate Triple DES and malformed key material stay refused.
   */
  readonly legacyKeys: boolean;
}

export const DEFAULT_KEY_POLICY: KeyPolicy = {
  rsaMinBits: 2048,
  rsaMinPublicExponent: 65537n,
  ecLengths: [256, 384, 521],
  hmacMinBits: 112,
  pbkdf2MinIterations: 1000,
  pbkdf2MinSaltBytes: 16,
  legacyKeys: false,
};

/** Limits the configuration accepts for the numeric settings (inclusive). */
export const KEY_POLICY_BOUNDS = {
  rsaMinPublicExponent: { min: 3, max: 0xffffffff },
  hmacMinBits: { min: 8, max: 4096 },
  pbkdf2MinIterations: { min: 1, max: 10_000_000 },
  pbkdf2MinSaltBytes: { min: 0, max: 1024 },
} as const;

/** A refusal: which setting refused (for the message), and whether the key is malformed (not merely weak). */
export interface KeyRefusal {
  readonly setting: string;
  readonly why: string;
  /** The key material is not what it says it is (Invalid Field), rather than refused by a setting. */
  readonly malformed?: true;
}

const refuse = (setting: string, why: string): KeyRefusal => ({ setting, why: `${why} (cryptoPolicy.${setting})` });
const malformed = (why: string): KeyRefusal => ({ setting: 'keyMaterial', why, malformed: true });

export const HMAC_ALGORITHMS: ReadonlySet<number> = new Set<number>([
  CryptographicAlgorithm.HMAC_SHA1,
  CryptographicAlgorithm.HMAC_SHA224,
  CryptographicAlgorithm.HMAC_SHA256,
  CryptographicAlgorithm.HMAC_SHA384,
  CryptographicAlgorithm.HMAC_SHA512,
  CryptographicAlgorithm.HMAC_MD5,
  CryptographicAlgorithm.HMAC_SHA3_224,
  CryptographicAlgorithm.HMAC_SHA3_256,
  CryptographicAlgorithm.HMAC_SHA3_384,
  CryptographicAlgorithm.HMAC_SHA3_512,
]);

const EC_FAMILY: ReadonlySet<number> = new Set([CryptographicAlgorithm.EC, CryptographicAlgorithm.ECDSA, CryptographicAlgorithm.ECDH, CryptographicAlgorithm.ECMQV]);

/** Byte lengths each symmetric algorithm's keys have (the material must be one of them). */
const SYMMETRIC_BYTES: ReadonlyMap<number, readonly number[]> = new Map<number, readonly number[]>([
  // 64: AES-256 in XTS mode (two keys, SP 800-38E).
  [CryptographicAlgorithm.AES, [16, 24, 32, 64]],
  [CryptographicAlgorithm.DES3, [16, 24]],
  [CryptographicAlgorithm.ChaCha20, [32]],
  [CryptographicAlgorithm.ChaCha20Poly1305, [32]],
]);

/** DES keys compare without their parity bits (the low bit of each byte). */
function sameDesKey(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 8; i++) if ((a[i]! & 0xfe) !== (b[i]! & 0xfe)) return false;
  return true;
}

/**
 * A symmetric key (its algorithm, and its material when the server holds it) against the policy.
 * `use`: the key is about to protect something (Encrypt, MAC, wrap); otherwise it is being stored.
 */
export function checkSymmetricKey(p: KeyPolicy, algorithm: number | undefined, material: Uint8Array | undefined): KeyRefusal | undefined {
  if (algorithm === CryptographicAlgorithm.DES) return refuse('des', 'single DES keys are not accepted (NIST SP 800-131A Rev. 2); this cannot be enabled');
  if (algorithm === undefined || material === undefined) return undefined;
  const sizes = SYMMETRIC_BYTES.get(algorithm);
  if (sizes && !sizes.includes(material.length)) return malformed(`a key of this Cryptographic Algorithm is ${sizes.join(', ')} bytes; this one is ${material.length}`);
  if (algorithm === CryptographicAlgorithm.DES3) {
    const k1 = material.subarray(0, 8);
    const k2 = material.subarray(8, 16);
    const k3 = material.length === 24 ? material.subarray(16, 24) : k1;
    if (sameDesKey(k1, k2) || sameDesKey(k2, k3)) return refuse('des', 'this Triple DES key has K1 = K2 or K2 = K3, which is single DES (SP 800-67 Rev. 2)');
    if (material.length === 16 && !p.legacyKeys) return refuse('legacyKeys', 'two-key Triple DES is disallowed (NIST SP 800-131A Rev. 2); give a three-key (24-byte) key');
  }
  if (HMAC_ALGORITHMS.has(algorithm) && material.length * 8 < p.hmacMinBits) {
    return refuse('hmacMinBits', `HMAC keys must be at least ${p.hmacMinBits} bits; this one is ${material.length * 8}`);
  }
  return undefined;
}

/** What an asymmetric key states about itself, read from its material (objects/key-formats.ts). */
export interface AsymmetricFacts {
  readonly kind: 'rsa' | 'ec' | 'ed25519' | 'other';
  /** RSA modulus bits; EC field bits. */
  readonly bits?: number;
  readonly publicExponent?: bigint;
  /** node's curve name for EC keys (P-256 … or secp256k1 …). */
  readonly curve?: string;
  /** Where bits is an allowed NIST curve size: true. */
  readonly nistCurve?: boolean;
}

/** An asymmetric key the server could read, against the policy and against the algorithm it claims. */
export function checkAsymmetricKey(p: KeyPolicy, claimed: number | undefined, f: AsymmetricFacts): KeyRefusal | undefined {
  const family = f.kind === 'rsa' ? 'RSA' : f.kind === 'ec' ? 'EC' : f.kind === 'ed25519' ? 'Ed25519' : 'another algorithm';
  if (claimed !== undefined) {
    const fits =
      (f.kind === 'rsa' && claimed === CryptographicAlgorithm.RSA) || (f.kind === 'ec' && EC_FAMILY.has(claimed)) || (f.kind === 'ed25519' && claimed === CryptographicAlgorithm.Ed25519);
    if (!fits && f.kind !== 'other') return malformed(`the key material is an ${family} key, not the Cryptographic Algorithm the object states`);
  }
  if (p.legacyKeys) return undefined;
  switch (f.kind) {
    case 'rsa':
      if ((f.bits ?? 0) < p.rsaMinBits) return refuse('rsaMinBits', `RSA keys must be at least ${p.rsaMinBits} bits; this one is ${f.bits ?? 0}`);
      if (f.publicExponent !== undefined && (f.publicExponent < p.rsaMinPublicExponent || f.publicExponent % 2n === 0n)) {
        return refuse('rsaMinPublicExponent', `the RSA public exponent must be odd and at least ${p.rsaMinPublicExponent}; this one is ${f.publicExponent}`);
      }
      return undefined;
    case 'ec':
      if (!f.nistCurve || f.bits === undefined || !p.ecLengths.includes(f.bits)) {
        return refuse('ecCurves', `EC keys on ${p.ecLengths.map((b) => `P-${b}`).join(', ')} only; this one is on ${f.curve ?? 'an unknown curve'}`);
      }
      return undefined;
    case 'ed25519':
      return undefined;
    default:
      return refuse('legacyKeys', 'keys of this type are not accepted (RSA, EC and Ed25519 are)');
  }
}

/** A key in a format or of a type the server cannot read (DSA, PKCS#12, an unknown curve, …). */
export function checkUnreadableKey(p: KeyPolicy, why: string): KeyRefusal | undefined {
  return p.legacyKeys ? undefined : refuse('legacyKeys', `the server cannot read this key (${why}), so it cannot check it`);
}

/** PBKDF2 parameters (Derive Key). */
export function checkPbkdf2(p: KeyPolicy, iterations: number, saltBytes: number): KeyRefusal | undefined {
  if (iterations < p.pbkdf2MinIterations) return refuse('pbkdf2MinIterations', `PBKDF2 needs at least ${p.pbkdf2MinIterations} iterations (SP 800-132); ${iterations} were given`);
  if (saltBytes < p.pbkdf2MinSaltBytes) return refuse('pbkdf2MinSaltBytes', `PBKDF2 needs a salt of at least ${p.pbkdf2MinSaltBytes} bytes (SP 800-132); ${saltBytes} were given`);
  return undefined;
}
