/**
 * KeyBackend: where keys live and where cryptography on them happens, in HSM terms
 * (keys, mechanisms, sensitive/extractable), never KMIP terms. The HSM never decides UIDs:
 * callers map their objects to `KeyRef`s.
 *
 * Two implementations pass one shared contract suite (test/hsm/contract.ts), configured by
 * `capabilities()`:
 *   - pkcs11/  a PKCS#11 token through pkcs11js (SoftHSM2 in CI)
 *   - software/ node:crypto, keys in process memory, persistent keys wrapped at rest under a
 *     master key file. Not an HSM.
 *
 * Errors are `HsmError` with a code: a PKCS#11 return value name (`CKR_…`), also used by the
 * software backend for the same situations, or one of the backend-level codes below.
 */

export type SecretKeyType = 'AES' | 'GENERIC_SECRET';
/** Private keys of key pairs (generateKeyPair). */
export type PrivateKeyType = 'RSA' | 'EC';
export type KeyType = SecretKeyType | PrivateKeyType;
export type EcCurve = 'P-256' | 'P-384';
export type KeyUsage = 'encrypt' | 'decrypt' | 'wrap' | 'unwrap' | 'sign' | 'verify';

export type CipherMechanism = 'AES_GCM' | 'AES_CBC' | 'AES_CBC_PAD' | 'AES_CTR' | 'AES_ECB';
/** AES_KEY_WRAP: RFC 3394. AES_KEY_WRAP_PAD: RFC 5649 (KWP). AES_GCM: ciphertext ‖ tag of the key value. */
export type WrapMechanism = 'AES_KEY_WRAP' | 'AES_KEY_WRAP_PAD' | 'AES_GCM';
export type MacMechanism = 'HMAC_SHA1' | 'HMAC_SHA224' | 'HMAC_SHA256' | 'HMAC_SHA384' | 'HMAC_SHA512';
/** Signing mechanisms. Only MACs until key pairs exist. */
export type SignMechanism = MacMechanism;

/**
 * Signatures with a private key over a digest the caller computed (so one-shot Data and a
 * client's Digested Data sign alike). RSA_PKCS1: EMSA-PKCS1-v1_5 (DigestInfo built by the
 * backend); RSA_PSS: MGF1 with the same hash; ECDSA: the output is r ‖ s (PKCS#11 form), each
 * the curve's size, not DER.
 */
export type DigestHash = 'sha224' | 'sha256' | 'sha384' | 'sha512';
export type AsymmetricSignParams =
  | { readonly mechanism: 'RSA_PKCS1'; readonly hash: DigestHash }
  | { readonly mechanism: 'RSA_PSS'; readonly hash: DigestHash; readonly saltLength: number }
  | { readonly mechanism: 'ECDSA' };
export type AsymmetricSignMechanism = AsymmetricSignParams['mechanism'];

/** A key pair to generate: the private key stays in the backend, the public key comes back as SubjectPublicKeyInfo DER. */
export type KeyPairTemplate = ({ readonly type: 'RSA'; readonly bits: number } | { readonly type: 'EC'; readonly curve: EcCurve }) & {
  readonly token: boolean;
  readonly sensitive: boolean;
  readonly extractable: boolean;
  /** What the private key may do; ['sign'] when absent. 'decrypt': RSA only. */
  readonly usage?: readonly ('sign' | 'decrypt')[];
  readonly label?: string;
  readonly id?: Uint8Array;
};

/**
 * RSA decryption with a private key: OAEP (PKCS#11 CKM_RSA_PKCS_OAEP, CK_RSA_PKCS_OAEP_PARAMS):
 * `hash` over the label, MGF1 over `mgfHash` (default: `hash`), label `label` (default: empty).
 */
export interface AsymmetricDecryptParams {
  readonly mechanism: 'RSA_OAEP';
  readonly hash: 'sha1' | DigestHash;
  readonly mgfHash?: 'sha1' | DigestHash;
  readonly label?: Uint8Array;
}

export interface GeneratedKeyPair {
  /** The private key: usage as the template says, bits the modulus or curve size. */
  readonly privateKey: KeyRef;
  /** SubjectPublicKeyInfo DER of the public key (the backend keeps no public key object). */
  readonly publicKey: Uint8Array;
}

/** Parameters of a cipher call. GCM output is ciphertext ‖ tag; its input to decrypt likewise. */
export type CipherParams =
  | { readonly mechanism: 'AES_GCM'; readonly iv: Uint8Array; readonly aad?: Uint8Array; readonly tagBits?: 96 | 104 | 112 | 120 | 128 }
  | { readonly mechanism: 'AES_CBC' | 'AES_CBC_PAD'; readonly iv: Uint8Array }
  /** counterBlock: the initial 16-byte counter block; counterBits: how many low bits count (default 128). */
  | { readonly mechanism: 'AES_CTR'; readonly counterBlock: Uint8Array; readonly counterBits?: number }
  | { readonly mechanism: 'AES_ECB' };

export type WrapParams = { readonly mechanism: 'AES_KEY_WRAP' | 'AES_KEY_WRAP_PAD' } | { readonly mechanism: 'AES_GCM'; readonly iv: Uint8Array; readonly aad?: Uint8Array };

export interface UnwrapTemplate {
  readonly type: SecretKeyType;
  readonly token: boolean;
  readonly sensitive: boolean;
  readonly extractable: boolean;
  readonly usage: readonly KeyUsage[];
  readonly label?: string;
  readonly id?: Uint8Array;
}

export interface KeyTemplate {
  readonly type: SecretKeyType;
  /** AES: 128, 192 or 256. Generic secret: a multiple of 8 within capabilities().genericSecretBits. */
  readonly bits: number;
  /** true: a persistent token object; false: a session object (gone when the backend closes or its session is lost). */
  readonly token: boolean;
  /** The value can never be read in the clear (CKA_SENSITIVE). */
  readonly sensitive: boolean;
  /** The key may be wrapped out of the backend (CKA_EXTRACTABLE). */
  readonly extractable: boolean;
  readonly usage: readonly KeyUsage[];
  readonly label?: string;
  /** CKA_ID; a random 16-byte id is assigned when absent. Keys are found again by it. */
  readonly id?: Uint8Array;
}

/**
 * A reference to a key in a backend: plain data, safe to store. `id` (hex of CKA_ID) is what
 * the backend looks the key up by, so a reference outlives sessions, module re-initialisation
 * and (for token keys) restarts. It never holds key material.
 */
export interface KeyRef {
  readonly id: string;
  readonly label?: string;
  readonly token: boolean;
  readonly type: KeyType;
  readonly bits: number;
  readonly sensitive: boolean;
  readonly extractable: boolean;
  readonly usage: readonly KeyUsage[];
}

export interface FindQuery {
  readonly label?: string;
  readonly id?: Uint8Array;
  /** Only token (true) or only session (false) keys; both when absent. */
  readonly token?: boolean;
}

/** Known deviations of a backend from the mechanism specifications, declared so tests and callers can see them. */
export type BackendQuirk =
  /** SoftHSM2 ≤ 2.6: CKM_AES_KEY_WRAP_PAD zero-pads a key whose length is not a multiple of 8 before wrapping, so the output is not RFC 5649's (unwrap is conformant). */
  | 'KWP_WRAP_PADS_UNALIGNED_KEYS'
  /** SoftHSM2: an AES-GCM tag mismatch comes back as CKR_GENERAL_ERROR; the backend reports CKR_ENCRYPTED_DATA_INVALID. */
  | 'GCM_AUTH_FAILURE_IS_GENERAL_ERROR'
  /** SoftHSM2: an unwrapped key's CKA_VALUE_LEN reads 0; unwrapKey works out the length, but findKeys reports bits 0 for such keys. */
  | 'UNWRAP_LEAVES_VALUE_LEN_ZERO';

export interface BackendCapabilities {
  readonly kind: 'pkcs11' | 'software';
  /** Human description of the token/module (or the loud "not an HSM"). */
  readonly token: string;
  readonly aesKeyBits: readonly number[];
  /** Generic secret (HMAC key) generation bounds, in bits; absent when not generatable. */
  readonly genericSecretBits?: { readonly min: number; readonly max: number };
  readonly ciphers: readonly CipherMechanism[];
  readonly wraps: readonly WrapMechanism[];
  /** MAC mechanisms with the key lengths (bits) the backend accepts for them. */
  readonly macs: readonly { readonly mechanism: MacMechanism; readonly minKeyBits: number; readonly maxKeyBits: number }[];
  /** Keys with known values can be created (C_CreateObject). */
  readonly importKeys: boolean;
  /** Token keys survive a restart (a new backend instance on the same token / key file). */
  readonly persistentKeys: boolean;
  /** Concurrent sessions this backend will use (its pool size). */
  readonly maxSessions: number;
  readonly quirks: readonly BackendQuirk[];
  /** Key pairs generateKeyPair makes (empty: none), and the signatures signDigest makes with them. */
  readonly rsaKeyBits: readonly number[];
  readonly ecCurves: readonly EcCurve[];
  readonly asymmetricSigns: readonly AsymmetricSignMechanism[];
  readonly asymmetricDecrypts: readonly AsymmetricDecryptParams['mechanism'][];
  /** The hashes RSA_OAEP takes (SoftHSM2 ≤ 2.6: SHA-1 only), over the label and in MGF1. */
  readonly oaepHashes: readonly AsymmetricDecryptParams['hash'][];
  /** RSA_OAEP takes an MGF1 hash other than the label hash (SoftHSM2 ≤ 2.6: no). */
  readonly oaepMixedHashes: boolean;
  /** RSA_OAEP takes a non-empty label (CKZ_DATA_SPECIFIED with source data; SoftHSM2 ≤ 2.6: no). */
  readonly oaepLabels: boolean;
}

export interface KeyBackend {
  /** A short description for logs. */
  readonly description: string;
  capabilities(): BackendCapabilities;

  generateKey(template: KeyTemplate): Promise<KeyRef>;
  /** Create a key with a known value (tests, imports). `template.bits` must match the value. */
  importKey(template: KeyTemplate, value: Uint8Array): Promise<KeyRef>;
  /** Read a key's value. Sensitive or non-extractable keys: HsmError CKR_ATTRIBUTE_SENSITIVE. */
  exportKey(key: KeyRef): Promise<Uint8Array>;

  wrapKey(params: WrapParams, wrappingKey: KeyRef, key: KeyRef): Promise<Uint8Array>;
  /** The key length comes from the unwrapped value; the returned reference says it. */
  unwrapKey(params: WrapParams, unwrappingKey: KeyRef, wrapped: Uint8Array, template: UnwrapTemplate): Promise<KeyRef>;

  encrypt(params: CipherParams, key: KeyRef, data: Uint8Array): Promise<Uint8Array>;
  /** A GCM tag, AAD or ciphertext mismatch: HsmError CKR_ENCRYPTED_DATA_INVALID. */
  decrypt(params: CipherParams, key: KeyRef, data: Uint8Array): Promise<Uint8Array>;

  sign(mechanism: SignMechanism, key: KeyRef, data: Uint8Array): Promise<Uint8Array>;
  /** false when the signature/MAC does not match; errors only for unusable keys or mechanisms. */
  verify(mechanism: SignMechanism, key: KeyRef, data: Uint8Array, signature: Uint8Array): Promise<boolean>;

  /** A private key generated in the backend (never readable when sensitive / non-extractable). NOT_SUPPORTED outside capabilities(). */
  generateKeyPair(template: KeyPairTemplate): Promise<GeneratedKeyPair>;
  /** Sign a digest (its length must be the hash's; ECDSA: any hash the caller chose) with a private key. */
  signDigest(params: AsymmetricSignParams, key: KeyRef, digest: Uint8Array): Promise<Uint8Array>;
  /** Decrypt with a private key; a ciphertext that does not decrypt: HsmError CKR_ENCRYPTED_DATA_INVALID. */
  decryptAsymmetric(params: AsymmetricDecryptParams, key: KeyRef, data: Uint8Array): Promise<Uint8Array>;

  /** At most MAX_RANDOM_BYTES per call. */
  random(length: number): Promise<Uint8Array>;
  destroyKey(key: KeyRef): Promise<void>;
  findKeys(query: FindQuery): Promise<KeyRef[]>;
  close(): Promise<void>;
}

export const MAX_RANDOM_BYTES = 1 << 20;

export type HsmErrorCode =
  | `CKR_${string}`
  /** The mechanism, key type or size is not offered by this backend (see capabilities()). */
  | 'NOT_SUPPORTED'
  /** The session or module failed and could not be recovered (or failed again after one retry). */
  | 'SESSION_LOST'
  /** No key with this reference (destroyed, or a session key lost with its session). */
  | 'KEY_NOT_FOUND'
  /** A bad argument caught before reaching the token. */
  | 'BAD_ARGUMENT'
  /** The PKCS#11 library could not be loaded, or the token/slot is absent. */
  | 'MODULE_UNAVAILABLE'
  /** The backend was closed. */
  | 'CLOSED';

export class HsmError extends Error {
  override readonly name = 'HsmError';
  constructor(
    readonly code: HsmErrorCode,
    message: string,
    options?: { cause?: unknown; ckr?: number; fn?: string },
  ) {
    super(message, options);
    this.ckr = options?.ckr;
    this.fn = options?.fn;
  }
  /** The numeric PKCS#11 return value, when the error came from a token. */
  readonly ckr: number | undefined;
  /** The PKCS#11 function that failed. */
  readonly fn: string | undefined;
}

/** Argument checks shared by both backends, so they fail the same way. */
export function checkTemplate(t: KeyTemplate, caps: BackendCapabilities): void {
  checkUnwrapTemplate(t);
  if (t.type === 'AES') {
    if (!caps.aesKeyBits.includes(t.bits)) throw new HsmError('NOT_SUPPORTED', `AES-${t.bits} keys are not supported here (${caps.aesKeyBits.join(', ')})`);
  } else if (t.type === 'GENERIC_SECRET') {
    const g = caps.genericSecretBits;
    if (!g) throw new HsmError('NOT_SUPPORTED', 'generic secret keys are not supported here');
    if (!Number.isSafeInteger(t.bits) || t.bits % 8 !== 0 || t.bits < g.min || t.bits > g.max) {
      throw new HsmError('BAD_ARGUMENT', `generic secret length must be a multiple of 8 bits in [${g.min}, ${g.max}], not ${t.bits}`);
    }
  }
}

/** Import checks: the value decides the length; generic secrets may be any whole number of bytes up to 8 KiB. */
export function checkImport(t: KeyTemplate, value: Uint8Array, caps: BackendCapabilities): void {
  checkUnwrapTemplate(t);
  if (!caps.importKeys) throw new HsmError('NOT_SUPPORTED', 'this backend cannot import key values');
  if (value.length * 8 !== t.bits) throw new HsmError('BAD_ARGUMENT', `key value is ${value.length * 8} bits, the template says ${t.bits}`);
  if (t.type === 'AES' && !caps.aesKeyBits.includes(t.bits)) throw new HsmError('NOT_SUPPORTED', `AES-${t.bits} keys are not supported here`);
  if (t.type === 'GENERIC_SECRET' && (value.length < 1 || value.length > 8192)) throw new HsmError('BAD_ARGUMENT', 'generic secret values must be 1 to 8192 bytes');
}

export function checkUnwrapTemplate(t: UnwrapTemplate): void {
  if (t.type !== 'AES' && t.type !== 'GENERIC_SECRET') throw new HsmError('BAD_ARGUMENT', `unknown key type ${String((t as { type: unknown }).type)}`);
  if (t.label !== undefined && (typeof t.label !== 'string' || Buffer.byteLength(t.label) > 256)) throw new HsmError('BAD_ARGUMENT', 'label must be a string of at most 256 bytes');
  if (t.id !== undefined && (t.id.length === 0 || t.id.length > 64)) throw new HsmError('BAD_ARGUMENT', 'id must be 1 to 64 bytes');
  for (const u of t.usage) if (!USAGES.includes(u)) throw new HsmError('BAD_ARGUMENT', `unknown usage ${String(u)}`);
}

const USAGES: readonly KeyUsage[] = ['encrypt', 'decrypt', 'wrap', 'unwrap', 'sign', 'verify'];

const DIGEST_BYTES: Readonly<Record<DigestHash, number>> = { sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

export function checkKeyPairTemplate(t: KeyPairTemplate, caps: BackendCapabilities): void {
  if (t.label !== undefined && (typeof t.label !== 'string' || Buffer.byteLength(t.label) > 256)) throw new HsmError('BAD_ARGUMENT', 'label must be a string of at most 256 bytes');
  if (t.id !== undefined && (t.id.length === 0 || t.id.length > 64)) throw new HsmError('BAD_ARGUMENT', 'id must be 1 to 64 bytes');
  if (t.type === 'RSA') {
    if (!caps.rsaKeyBits.includes(t.bits)) throw new HsmError('NOT_SUPPORTED', `RSA-${t.bits} key pairs are not supported here (${caps.rsaKeyBits.join(', ') || 'none'})`);
  } else if (t.type === 'EC') {
    if (!caps.ecCurves.includes(t.curve)) throw new HsmError('NOT_SUPPORTED', `EC ${t.curve} key pairs are not supported here (${caps.ecCurves.join(', ') || 'none'})`);
    if (t.usage?.includes('decrypt')) throw new HsmError('BAD_ARGUMENT', 'EC private keys do not decrypt');
  } else {
    throw new HsmError('BAD_ARGUMENT', `unknown key pair type ${String((t as { type: unknown }).type)}`);
  }
}

/** Argument checks of signDigest shared by both backends. */
export function checkSignDigest(p: AsymmetricSignParams, key: KeyRef, digest: Uint8Array, caps: BackendCapabilities): void {
  if (!caps.asymmetricSigns.includes(p.mechanism)) throw new HsmError('NOT_SUPPORTED', `${p.mechanism} signatures are not supported here`);
  const rsa = p.mechanism === 'RSA_PKCS1' || p.mechanism === 'RSA_PSS';
  if (key.type !== (rsa ? 'RSA' : 'EC')) throw new HsmError('CKR_KEY_TYPE_INCONSISTENT', `${p.mechanism} needs ${rsa ? 'an RSA' : 'an EC'} private key`);
  if (!key.usage.includes('sign')) throw new HsmError('CKR_KEY_FUNCTION_NOT_PERMITTED', 'the key may not sign');
  if (p.mechanism !== 'ECDSA' && digest.length !== DIGEST_BYTES[p.hash]) throw new HsmError('BAD_ARGUMENT', `a ${p.hash} digest is ${DIGEST_BYTES[p.hash]} bytes, not ${digest.length}`);
  if (p.mechanism === 'ECDSA' && (digest.length < 20 || digest.length > 64)) throw new HsmError('BAD_ARGUMENT', 'an ECDSA digest is 20 to 64 bytes');
  if (p.mechanism === 'RSA_PSS' && (!Number.isSafeInteger(p.saltLength) || p.saltLength < 0 || p.saltLength > key.bits / 8 - DIGEST_BYTES[p.hash] - 2)) {
    throw new HsmError('BAD_ARGUMENT', `PSS salt length ${p.saltLength} does not fit a ${key.bits}-bit key with ${p.hash}`);
  }
}

export function checkDecryptAsymmetric(p: AsymmetricDecryptParams, key: KeyRef, caps: BackendCapabilities): void {
  if (!caps.asymmetricDecrypts.includes(p.mechanism)) throw new HsmError('NOT_SUPPORTED', `${String(p.mechanism)} is not supported here`);
  if (!caps.oaepHashes.includes(p.hash)) throw new HsmError('NOT_SUPPORTED', `OAEP with ${String(p.hash)} is not supported here (${caps.oaepHashes.join(', ') || 'none'})`);
  const mgf = p.mgfHash ?? p.hash;
  if (!caps.oaepHashes.includes(mgf)) throw new HsmError('NOT_SUPPORTED', `OAEP with MGF1 over ${String(mgf)} is not supported here (${caps.oaepHashes.join(', ') || 'none'})`);
  if (mgf !== p.hash && !caps.oaepMixedHashes) throw new HsmError('NOT_SUPPORTED', 'OAEP with an MGF1 hash other than the label hash is not supported here');
  if (p.label !== undefined && p.label.length > 0 && !caps.oaepLabels) throw new HsmError('NOT_SUPPORTED', 'OAEP with a label is not supported here');
  if (key.type !== 'RSA') throw new HsmError('CKR_KEY_TYPE_INCONSISTENT', 'OAEP needs an RSA private key');
  if (!key.usage.includes('decrypt')) throw new HsmError('CKR_KEY_FUNCTION_NOT_PERMITTED', 'the key may not decrypt');
}

/** DigestInfo prefixes (RFC 8017 §9.2 note 1). */
export const DIGEST_INFO_PREFIX: Readonly<Record<DigestHash, string>> = {
  sha224: '302d300d06096086480165030402040500041c',
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

export function checkRandomLength(length: number): void {
  if (!Number.isSafeInteger(length) || length < 0 || length > MAX_RANDOM_BYTES) throw new HsmError('BAD_ARGUMENT', `random length must be an integer in [0, ${MAX_RANDOM_BYTES}]`);
}

export function checkCipherParams(p: CipherParams): void {
  switch (p.mechanism) {
    case 'AES_GCM':
      if (p.iv.length < 1 || p.iv.length > 128) throw new HsmError('BAD_ARGUMENT', 'GCM IV must be 1 to 128 bytes (12 recommended)');
      if (p.tagBits !== undefined && ![96, 104, 112, 120, 128].includes(p.tagBits)) throw new HsmError('BAD_ARGUMENT', 'GCM tag must be 96 to 128 bits');
      return;
    case 'AES_CBC':
    case 'AES_CBC_PAD':
      if (p.iv.length !== 16) throw new HsmError('BAD_ARGUMENT', 'CBC IV must be 16 bytes');
      return;
    case 'AES_CTR':
      if (p.counterBlock.length !== 16) throw new HsmError('BAD_ARGUMENT', 'CTR counter block must be 16 bytes');
      if (p.counterBits !== undefined && (!Number.isSafeInteger(p.counterBits) || p.counterBits < 1 || p.counterBits > 128))
        throw new HsmError('BAD_ARGUMENT', 'CTR counter bits must be 1 to 128');
      return;
    case 'AES_ECB':
      return;
    default:
      throw new HsmError('NOT_SUPPORTED', `unknown cipher mechanism ${String((p as { mechanism: unknown }).mechanism)}`);
  }
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}
