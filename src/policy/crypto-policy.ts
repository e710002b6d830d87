/**
 * The server's cryptographic policy, as data: which symmetric keys Create generates, with which
 * lengths, the default Cryptographic Usage Mask when a 2.x client gives none, and the lease the
 * server grants (Obtain Lease, Check).
 *
 * References: NIST SP 800-131A Rev. 2 (AES-128/192/256; HMAC keys of at least 112 bits), FIPS
 * 198-1 / SP 800-107 (an HMAC key the size of the hash output is the usual choice), KMIP 1.4 §3.4-3.5
 * / 2.1 §4.7-4.8 (Cryptographic Algorithm / Length), 1.4 §3.20 / 2.1 §4.28 (Lease Time).
 *
 * Quantum Safe (further down, `quantumSafeSpec`): what an object with Quantum Safe True may be.
 *
 * Operations ask `symmetricKeySpec`; a refusal is a string the operation turns into its Result
 * Reason (Create: Invalid Attribute Value in 2.x, Invalid Field in 1.x — "Incorrect attribute
 * value(s) specified", KMIP 1.4 §11.2).
 */
import { BlockCipherMode, CryptographicAlgorithm, HashingAlgorithm, PaddingMethod } from '../kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../kmip/generated/masks.gen.js';
import { DEFAULT_KEY_POLICY, KEY_POLICY_BOUNDS, type KeyPolicy } from './key-policy.js';
import { DEFAULT_LEASE_SECONDS } from '../objects/server-set.js';

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

/**
 * What Create may generate. Anything not listed here is refused.
 *
 * Three-key Triple DES (DES3, Cryptographic Length 168 — the key bits — or 192, the same 24 bytes
 * with their parity bits; src/crypto/tdes-key.ts) is generated and stored: storage and tape
 * devices still encrypt with it themselves (the KMIP Symmetric Key Foundry profile requires it).
 * Using such a key here (Encrypt/Decrypt) stays off unless `cryptoPolicy.tripleDes` is set (NIST
 * SP 800-131A Rev. 2 disallows TDEA encryption after 2023; decryption remains legacy use).
 * Two-key TDES (112/128) and single DES are never generated.
 */
export const SYMMETRIC_KEY_POLICY: ReadonlyMap<number, SymmetricAlgorithmPolicy> = new Map<number, SymmetricAlgorithmPolicy>([
  [CryptographicAlgorithm.AES, { lengths: [128, 192, 256], defaultUsageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt }],
  [CryptographicAlgorithm.DES3, { lengths: [168, 192], defaultBits: 168, defaultUsageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt }],
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
export function symmetricKeySpec(algorithm: number, requestedBits: number | undefined, keys: KeyPolicy = DEFAULT_KEY_POLICY): SymmetricKeyDecision {
  if (algorithm === CryptographicAlgorithm.DES) return { ok: false, why: 'single DES keys are not generated (NIST SP 800-131A Rev. 2)' };
  const p = SYMMETRIC_KEY_POLICY.get(algorithm);
  if (!p) return { ok: false, why: 'this server generates AES, three-key Triple DES and HMAC-SHA1/224/256/384/512 keys only' };
  const bits = requestedBits ?? p.defaultBits;
  if (algorithm === CryptographicAlgorithm.DES3 && (bits === 112 || bits === 128)) {
    return { ok: false, why: 'two-key Triple DES is not generated (NIST SP 800-131A Rev. 2); ask for three-key: Cryptographic Length 168 (or 192)' };
  }
  if (bits === undefined) return { ok: false, why: 'Cryptographic Length is required for this algorithm' };
  if (p.lengths && !p.lengths.includes(bits)) return { ok: false, why: `Cryptographic Length must be one of ${p.lengths.join(', ')}` };
  if (p.minBits !== undefined && bits < Math.max(p.minBits, keys.hmacMinBits))
    return { ok: false, why: `Cryptographic Length must be at least ${Math.max(p.minBits, keys.hmacMinBits)} bits (cryptoPolicy.hmacMinBits)` };
  if (p.maxBits !== undefined && bits > p.maxBits) return { ok: false, why: `Cryptographic Length must be at most ${p.maxBits} bits` };
  if (bits <= 0 || bits % 8 !== 0) return { ok: false, why: 'Cryptographic Length must be a positive multiple of 8' };
  return { ok: true, bits, usageMask: p.defaultUsageMask };
}

/**
 * Leases (KMIP 1.4 §3.20, §4.17; 2.1 §4.28, §6.1.35). An object's own Lease Time attribute, when
 * set, is the longest lease it may get; otherwise `defaultSeconds`. 0 would mean "no lease
 * interval is effective".
 */
export const LEASE_POLICY = { defaultSeconds: DEFAULT_LEASE_SECONDS } as const;

// ------------------------------------------------------------ cryptographic operations (Encrypt, …)

/**
 * What the cryptographic operations (Encrypt, Decrypt, MAC, MAC Verify, Hash, RNG) may use.
 * References: NIST SP 800-131A Rev. 2 (single DES disallowed; two-key 3DES disallowed, three-key
 * 3DES disallowed for encryption after 2023 — off unless `tripleDes` is set), SP 800-38A/38D/38E
 * (AES modes, GCM tags of 96-128 bits), RFC 8439 (ChaCha20, ChaCha20-Poly1305), RFC 8017 (RSA
 * OAEP, PKCS#1 v1.5), FIPS 180-4/202 (hashes), FIPS 198-1 (HMAC), SP 800-38B (CMAC).
 * The mechanism code (src/crypto/mechanism.ts) refuses anything not listed.
 */

export interface CipherPolicy {
  /** AES block cipher modes served. */
  readonly aesModes: ReadonlySet<number>;
  /** Three-key Triple DES (ECB/CBC) is served only when true. Single DES never is. */
  readonly tripleDes: boolean;
  /** GCM and ChaCha20-Poly1305 tag lengths accepted, in bytes. */
  readonly aeadTagBytes: readonly number[];
  /**
   * Shortest GCM IV accepted, in bytes. 96 bits is the recommended length (SP 800-38D §5.2.1.1);
   * 64 is accepted because the OASIS test case CS-BC-M-GCM-3-21 uses it (McGrew-Viega case 6 style).
   */
  readonly gcmMinIvBytes: number;
  /** RSA padding methods served for Encrypt/Decrypt. */
  readonly rsaPaddings: ReadonlySet<number>;
  /** Hashes allowed inside RSA-OAEP (and its MGF1). */
  readonly oaepHashes: ReadonlySet<number>;
  /** Hashing Algorithms the Hash operation serves. */
  readonly hashes: ReadonlySet<number>;
  /** The most bytes one RNG Retrieve may return (a named limit). */
  readonly rngMaxBytes: number;
  /** The most bytes one Encrypt/Decrypt/MAC/Hash request (or part) may carry. */
  readonly maxDataBytes: number;
}

export const CIPHER_POLICY: CipherPolicy = {
  aesModes: new Set<number>([BlockCipherMode.CBC, BlockCipherMode.ECB, BlockCipherMode.CTR, BlockCipherMode.GCM, BlockCipherMode.XTS]),
  tripleDes: false,
  aeadTagBytes: [12, 13, 14, 15, 16],
  gcmMinIvBytes: 8,
  rsaPaddings: new Set<number>([PaddingMethod.OAEP, PaddingMethod.PKCS1V1_5]),
  oaepHashes: new Set<number>([HashingAlgorithm.SHA_1, HashingAlgorithm.SHA_224, HashingAlgorithm.SHA_256, HashingAlgorithm.SHA_384, HashingAlgorithm.SHA_512]),
  hashes: new Set<number>([
    HashingAlgorithm.SHA_1,
    HashingAlgorithm.SHA_224,
    HashingAlgorithm.SHA_256,
    HashingAlgorithm.SHA_384,
    HashingAlgorithm.SHA_512,
    HashingAlgorithm.SHA_512_224,
    HashingAlgorithm.SHA_512_256,
    HashingAlgorithm.SHA3_224,
    HashingAlgorithm.SHA3_256,
    HashingAlgorithm.SHA3_384,
    HashingAlgorithm.SHA3_512,
  ]),
  rngMaxBytes: 1 << 20,
  maxDataBytes: 16 << 20,
};

// ------------------------------------------------------------------------------ asymmetric keys

/**
 * Asymmetric keys (Create Key Pair, Re-key Key Pair, Sign, Signature Verify). NIST SP 800-131A
 * Rev. 2: RSA and ECDSA/EdDSA signature generation at 112 bits of security or more, so no RSA
 * modulus below 2048 bits; SHA-1 is disallowed for signature generation (allowed only for
 * verifying legacy signatures) and stays off unless `allowSha1Signatures` is set.
 */
export interface AsymmetricPolicy {
  readonly name: string;
  readonly rsaLengths: readonly number[];
  readonly rsaMinBits: number;
  /** Curves by Cryptographic Length when no Recommended Curve is given. */
  readonly ecLengths: readonly number[];
  readonly allowSha1Signatures: boolean;
  readonly privateUsageMask: number;
  readonly publicUsageMask: number;
}

export const ASYMMETRIC_KEY_POLICY: AsymmetricPolicy = {
  name: 'crypto-policy asymmetric (NIST SP 800-131A Rev. 2)',
  rsaLengths: [2048, 3072, 4096],
  rsaMinBits: 2048,
  ecLengths: [256, 384, 521],
  allowSha1Signatures: false,
  privateUsageMask: CryptographicUsageMask.Sign,
  publicUsageMask: CryptographicUsageMask.Verify,
};

export type KeyPairDecision =
  | { readonly ok: true; readonly kind: 'rsa'; readonly bits: number }
  | { readonly ok: true; readonly kind: 'ec'; readonly bits: number }
  | { readonly ok: true; readonly kind: 'ed25519'; readonly bits: number }
  | { readonly ok: false; readonly why: string };

/** May Create Key Pair generate `algorithm` with `bits` (EC: the curve's field size)? */
export function keyPairSpec(algorithm: number, bits: number | undefined, p: AsymmetricPolicy = ASYMMETRIC_KEY_POLICY): KeyPairDecision {
  switch (algorithm) {
    case CryptographicAlgorithm.RSA: {
      if (bits === undefined) return { ok: false, why: 'RSA needs a Cryptographic Length' };
      if (bits < p.rsaMinBits) return { ok: false, why: `${p.name}: RSA keys must be at least ${p.rsaMinBits} bits (asked for ${bits})` };
      if (!p.rsaLengths.includes(bits)) return { ok: false, why: `${p.name}: RSA Cryptographic Length must be one of ${p.rsaLengths.join(', ')}` };
      return { ok: true, kind: 'rsa', bits };
    }
    case CryptographicAlgorithm.EC:
    case CryptographicAlgorithm.ECDSA:
    case CryptographicAlgorithm.ECDH: {
      if (bits === undefined) return { ok: false, why: 'EC needs a Recommended Curve or a Cryptographic Length' };
      if (!p.ecLengths.includes(bits)) return { ok: false, why: `${p.name}: EC keys on P-256, P-384 or P-521 only (Cryptographic Length ${p.ecLengths.join(', ')})` };
      return { ok: true, kind: 'ec', bits };
    }
    case CryptographicAlgorithm.Ed25519:
      if (bits !== undefined && bits !== 256) return { ok: false, why: 'Ed25519 keys have Cryptographic Length 256' };
      return { ok: true, kind: 'ed25519', bits: 256 };
    default:
      return { ok: false, why: `${p.name}: Create Key Pair generates RSA, EC (P-256/384/521) and Ed25519 keys only` };
  }
}

// ---------------------------------------------------------------------------------- Quantum Safe

/**
 * Quantum Safe (KMIP 2.1 §4.45, 2.0 §4.45): "a flag to be set to indicate an object is required to
 * be Quantum Safe for the given Protection Period and Protection Level" (§4.43, §4.42). The spec
 * names no algorithms; the Quantum Safe profile's test case QS-M-2 (AES-128 asked to be Quantum
 * Safe, Protection Level High, a 13-year Protection Period) expects Operation Failed with General
 * Failure. The rule here, for an object that has or is given Quantum Safe True:
 * - No public-key algorithm whose hardness rests on factoring or discrete logarithms: RSA, DSA,
 *   DH, EC/ECDSA/ECDH/ECMQV, Ed25519/Ed448, SM2, GOST R 34.10-2012 — Shor's algorithm breaks them
 *   all at every key size (NIST IR 8547 ipd, 2024: RSA/ECC at 112-bit security deprecated after
 *   2030, all of them disallowed after 2035; CNSA 2.0 replaces them with ML-KEM/ML-DSA, which
 *   KMIP 2.1 does not enumerate). The post-quantum families KMIP 2.1 names — XMSS, SPHINCS-256, and
 *   Classic McEliece — are accepted. A public/private key, certificate, certificate request or
 *   PGP key without a known algorithm is refused: the server cannot show that it is safe.
 * - Symmetric keys (and any other algorithm, a split key's included): at least 256 bits. Grover's
 *   search halves the effective strength of a k-bit key, so 256 bits keeps 128; CNSA 2.0 requires
 *   AES-256 for all classification levels. (NIST IR 8547 keeps AES-128 as secure at category 1;
 *   we follow the stricter CNSA 2.0 line, which is what QS-M-2 expects.)
 * - Objects without a Cryptographic Algorithm (Secret Data, Opaque Object) are stored as given:
 *   the server uses their bytes for nothing cryptographic and makes no claim about them.
 * Protection Level and Protection Period do not relax the rule: no one can say today when a
 *   cryptographically relevant quantum computer will exist, and data protected now may be stored
 *   and attacked later, so a short period or a Low level is not grounds for a smaller key.
 */
export const QUANTUM_SAFE_RULE = 'crypto-policy quantum-safe (no RSA/DSA/DH/EC/EdDSA; symmetric keys of at least 256 bits; CNSA 2.0, NIST IR 8547)';
export const QUANTUM_SAFE_MIN_SYMMETRIC_BITS = 256;

/** Public-key algorithms Shor's algorithm breaks. */
const SHOR_BROKEN: ReadonlySet<number> = new Set<number>([
  CryptographicAlgorithm.RSA,
  CryptographicAlgorithm.DSA,
  CryptographicAlgorithm.DH,
  CryptographicAlgorithm.EC,
  CryptographicAlgorithm.ECDSA,
  CryptographicAlgorithm.ECDH,
  CryptographicAlgorithm.ECMQV,
  CryptographicAlgorithm.Ed25519,
  CryptographicAlgorithm.Ed448,
  CryptographicAlgorithm.SM2,
  CryptographicAlgorithm.GOSTR34_10_2012,
]);

/** Public-key algorithms KMIP 2.1 names that are believed to resist quantum attack. */
const POST_QUANTUM: ReadonlySet<number> = new Set<number>([
  CryptographicAlgorithm.XMSS,
  CryptographicAlgorithm.SPHINCS_256,
  CryptographicAlgorithm.McEliece,
  CryptographicAlgorithm.McEliece_6960119,
  CryptographicAlgorithm.McEliece_8192128,
]);

export type QuantumSafeDecision = { readonly ok: true } | { readonly ok: false; readonly why: string };

/**
 * May an object be Quantum Safe? `publicKeyObject`: a Public/Private Key, Certificate, Certificate
 * Request or PGP Key; `algorithm`/`bits`: its Cryptographic Algorithm and Length, when it has them.
 */
export function quantumSafeSpec(o: { readonly publicKeyObject: boolean; readonly algorithm?: number; readonly bits?: number }): QuantumSafeDecision {
  const refuse = (why: string): QuantumSafeDecision => ({ ok: false, why: `${QUANTUM_SAFE_RULE}: ${why}` });
  if (o.algorithm !== undefined && SHOR_BROKEN.has(o.algorithm)) return refuse('this public-key algorithm is broken by a quantum computer (Shor) at any key size');
  if (o.algorithm !== undefined && POST_QUANTUM.has(o.algorithm)) return { ok: true };
  if (o.publicKeyObject) return refuse('a public-key object must use a post-quantum algorithm (XMSS, SPHINCS-256, McEliece)');
  if (o.algorithm === undefined) return { ok: true };
  if (o.bits === undefined) return refuse('a key without a Cryptographic Length cannot be shown to be Quantum Safe');
  if (o.bits < QUANTUM_SAFE_MIN_SYMMETRIC_BITS) return refuse(`symmetric keys must be at least ${QUANTUM_SAFE_MIN_SYMMETRIC_BITS} bits (asked for ${o.bits})`);
  return { ok: true };
}

// ------------------------------------------------------------------- the policy as configuration

/**
 * The `cryptoPolicy` section of the server configuration. Everything has a safe default (the
 * constants above); an operator may tighten, or knowingly loosen where the standards still allow:
 *   tripleDes        three-key Triple DES for Encrypt/Decrypt (default false; single DES never).
 *                    Create generates and stores three-key TDES keys whatever this says (for
 *                    devices that encrypt with them themselves); only their use here is gated.
 *   sha1Signatures   SHA-1 for signature generation (default false; verification is unaffected)
 *   rsaMinBits       the smallest RSA modulus Create Key Pair makes: 2048 (default), 3072 or 4096
 *   ecCurves         the EC curves Create Key Pair makes, by size: any of 256, 384, 521
 *   aesModes         the AES Block Cipher Modes served: any of CBC, ECB, CTR, GCM, XTS
 * and, for every key — registered, imported, re-keyed, derived, and each protecting use
 * (Encrypt, Sign, wrap, MAC) — policy/key-policy.ts: rsaMinBits and ecCurves again,
 *   rsaMinPublicExponent  smallest RSA public exponent (default 65537)
 *   hmacMinBits           smallest HMAC key (default 112 bits)
 *   pbkdf2MinIterations   Derive Key PBKDF2: fewest iterations (default 1000)
 *   pbkdf2MinSaltBytes    Derive Key PBKDF2: shortest salt (default 16 bytes)
 *   legacyKeys            accept and use client keys the settings above refuse (default false)
 * A request the policy refuses is told which setting refused it.
 */
export interface CryptoPolicyConfig {
  readonly tripleDes?: boolean;
  readonly sha1Signatures?: boolean;
  readonly rsaMinBits?: number;
  readonly ecCurves?: readonly number[];
  readonly aesModes?: readonly string[];
  readonly rsaMinPublicExponent?: number;
  readonly hmacMinBits?: number;
  readonly pbkdf2MinIterations?: number;
  readonly pbkdf2MinSaltBytes?: number;
  readonly legacyKeys?: boolean;
}

export interface CryptoPolicy {
  readonly cipher: CipherPolicy;
  readonly asymmetric: AsymmetricPolicy;
  /** Every key, not only generated ones (policy/key-policy.ts). */
  readonly keys: KeyPolicy;
}

export const DEFAULT_CRYPTO_POLICY: CryptoPolicy = { cipher: CIPHER_POLICY, asymmetric: ASYMMETRIC_KEY_POLICY, keys: DEFAULT_KEY_POLICY };

export const AES_MODE_NAMES: Readonly<Record<string, number>> = {
  CBC: BlockCipherMode.CBC,
  ECB: BlockCipherMode.ECB,
  CTR: BlockCipherMode.CTR,
  GCM: BlockCipherMode.GCM,
  XTS: BlockCipherMode.XTS,
};

export class CryptoPolicyError extends Error {
  override readonly name = 'CryptoPolicyError';
}

/** Check a cryptoPolicy section and build the policy it describes. */
export function cryptoPolicyFrom(cfg: CryptoPolicyConfig | undefined): CryptoPolicy {
  if (!cfg) return DEFAULT_CRYPTO_POLICY;
  const a = ASYMMETRIC_KEY_POLICY;
  const rsaMinBits = cfg.rsaMinBits ?? a.rsaMinBits;
  if (!a.rsaLengths.includes(rsaMinBits)) throw new CryptoPolicyError(`cryptoPolicy.rsaMinBits must be one of ${a.rsaLengths.join(', ')} (no RSA below 2048)`);
  const ecLengths = cfg.ecCurves ?? a.ecLengths;
  for (const c of ecLengths) if (!a.ecLengths.includes(c)) throw new CryptoPolicyError(`cryptoPolicy.ecCurves: ${c} is not one of ${a.ecLengths.join(', ')}`);
  const modes = cfg.aesModes ?? Object.keys(AES_MODE_NAMES);
  for (const m of modes) if (AES_MODE_NAMES[m] === undefined) throw new CryptoPolicyError(`cryptoPolicy.aesModes: ${m} is not one of ${Object.keys(AES_MODE_NAMES).join(', ')}`);
  const name = 'the server crypto policy (cryptoPolicy)';
  const bounded = (k: keyof typeof KEY_POLICY_BOUNDS, v: number | undefined, dflt: number): number => {
    const n = v ?? dflt;
    const b = KEY_POLICY_BOUNDS[k];
    if (!Number.isSafeInteger(n) || n < b.min || n > b.max) throw new CryptoPolicyError(`cryptoPolicy.${k} must be a whole number from ${b.min} to ${b.max}`);
    return n;
  };
  const d = DEFAULT_KEY_POLICY;
  const rsaMinPublicExponent = bounded('rsaMinPublicExponent', cfg.rsaMinPublicExponent, Number(d.rsaMinPublicExponent));
  if (rsaMinPublicExponent % 2 === 0) throw new CryptoPolicyError('cryptoPolicy.rsaMinPublicExponent must be odd');
  const keys: KeyPolicy = {
    rsaMinBits,
    rsaMinPublicExponent: BigInt(rsaMinPublicExponent),
    ecLengths,
    hmacMinBits: bounded('hmacMinBits', cfg.hmacMinBits, d.hmacMinBits),
    pbkdf2MinIterations: bounded('pbkdf2MinIterations', cfg.pbkdf2MinIterations, d.pbkdf2MinIterations),
    pbkdf2MinSaltBytes: bounded('pbkdf2MinSaltBytes', cfg.pbkdf2MinSaltBytes, d.pbkdf2MinSaltBytes),
    legacyKeys: cfg.legacyKeys ?? false,
  };
  return {
    cipher: { ...CIPHER_POLICY, tripleDes: cfg.tripleDes ?? false, aesModes: new Set(modes.map((m) => AES_MODE_NAMES[m]!)) },
    asymmetric: { ...a, name, rsaMinBits, rsaLengths: a.rsaLengths.filter((b) => b >= rsaMinBits), ecLengths, allowSha1Signatures: cfg.sha1Signatures ?? false },
    keys,
  };
}
