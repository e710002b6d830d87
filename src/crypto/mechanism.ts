/**
 * The mechanisms behind Encrypt/Decrypt/MAC/MAC Verify/Hash, on node:crypto. This layer speaks
 * keys, parameters and bytes; it knows the KMIP enumerations (Cryptographic Algorithm, Block Cipher
 * Mode, Padding Method, Hashing Algorithm) but not messages, objects or Result Reasons. Failures are
 * `CryptoError`s with a code (./errors.ts); operations translate them.
 *
 * Symmetric ciphers are streams (`update` … `final`) so that multi-part operations (KMIP 2.1
 * §6.1.17 Init/Final Indicator) give exactly the one-shot result:
 * - AES (SP 800-38A/38D/38E): ECB and CBC (Padding Method PKCS5 or none), CTR (a 16-byte counter
 *   block, or a shorter nonce completed by Initial Counter Value, big-endian), GCM (IV of at least
 *   96 bits, Tag Length from the policy, Additional Data), XTS (double-length key, the 16-byte
 *   tweak in IV/Counter/Nonce; the whole data unit is processed at `final`, as XTS cannot stream).
 * - Triple DES (three-key, ECB/CBC) only when the policy enables it; single DES never.
 * - ChaCha20: a 12-byte nonce with a 32-bit counter (RFC 8439 §2.4, Initial Counter Value, default
 *   0), an 8-byte nonce with a 64-bit counter (the original construction; test cases
 *   CS-BC-M-CHACHA20-*), or the 16-byte counter‖nonce block. ChaCha20-Poly1305 (RFC 8439 §2.8):
 *   12-byte nonce, Additional Data, a 16-byte tag (or truncated, within the policy's tag lengths).
 * RSA (RFC 8017): OAEP with the policy's hashes and a label (P Source); MGF1 over the label hash
 * by node's OAEP, over another hash by the EME-OAEP codec in ./oaep.ts; PKCS#1 v1.5 for
 * encryption. PKCS#1 v1.5 *decryption* is refused: Node removed it (CVE-2023-46809, the Marvin
 * attack) and a server answering it would be a padding oracle.
 */
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  timingSafeEqual,
  type Cipher,
  type Decipher,
  type Hash,
  type Hmac,
  type KeyObject,
} from 'node:crypto';
import { BlockCipherMode, CryptographicAlgorithm, HashingAlgorithm, MaskGenerator, PaddingMethod } from '../kmip/generated/enums.gen.js';
import { CIPHER_POLICY, type CipherPolicy } from '../policy/crypto-policy.js';
import { AesCmac } from './cmac.js';
import { CryptoError } from './errors.js';
import { oaepDecrypt, oaepEncrypt, type OaepScheme, type OaepHash } from './oaep.js';

/** Cryptographic Parameters (KMIP 1.4 §3.6, 2.1 §7.6), the fields this layer reads. */
export interface CryptoParams {
  readonly blockCipherMode?: number;
  readonly paddingMethod?: number;
  readonly hashingAlgorithm?: number;
  readonly cryptographicAlgorithm?: number;
  readonly randomIV?: boolean;
  /** Tag Length, in bytes. */
  readonly tagLength?: number;
  /** Initial Counter Value (CTR, ChaCha20). */
  readonly initialCounterValue?: number;
  readonly maskGenerator?: number;
  readonly maskGeneratorHashingAlgorithm?: number;
  /** P Source: the OAEP label. */
  readonly pSource?: Uint8Array;
}

export type Direction = 'encrypt' | 'decrypt';

export interface CipherInput {
  readonly iv?: Uint8Array;
  readonly aad?: Uint8Array;
}

/** A symmetric cipher in progress. */
export interface CipherStream {
  /** The IV/Counter/Nonce the server generated (Random IV), to return to the client. */
  readonly generatedIv?: Uint8Array;
  update(data: Uint8Array): Uint8Array;
  /** Finish. Decrypting with an AEAD mode needs `tag`; encrypting with one returns it. */
  final(tag?: Uint8Array): { readonly data: Uint8Array; readonly tag?: Uint8Array };
  /** Bytes of data held until the end, when the mode collects it (the multi-part budgets count them). */
  held?(): number;
}

const bad = (message: string): CryptoError => new CryptoError('BAD_PARAMETERS', message);
const unsupported = (message: string): CryptoError => new CryptoError('UNSUPPORTED', message);

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.length);

const NODE_HASH: ReadonlyMap<number, string> = new Map([
  [HashingAlgorithm.SHA_1, 'sha1'],
  [HashingAlgorithm.SHA_224, 'sha224'],
  [HashingAlgorithm.SHA_256, 'sha256'],
  [HashingAlgorithm.SHA_384, 'sha384'],
  [HashingAlgorithm.SHA_512, 'sha512'],
  [HashingAlgorithm.SHA_512_224, 'sha512-224'],
  [HashingAlgorithm.SHA_512_256, 'sha512-256'],
  [HashingAlgorithm.SHA3_224, 'sha3-224'],
  [HashingAlgorithm.SHA3_256, 'sha3-256'],
  [HashingAlgorithm.SHA3_384, 'sha3-384'],
  [HashingAlgorithm.SHA3_512, 'sha3-512'],
]);

const HMAC_HASH: ReadonlyMap<number, string> = new Map([
  [CryptographicAlgorithm.HMAC_SHA1, 'sha1'],
  [CryptographicAlgorithm.HMAC_SHA224, 'sha224'],
  [CryptographicAlgorithm.HMAC_SHA256, 'sha256'],
  [CryptographicAlgorithm.HMAC_SHA384, 'sha384'],
  [CryptographicAlgorithm.HMAC_SHA512, 'sha512'],
  [CryptographicAlgorithm.HMAC_SHA3_224, 'sha3-224'],
  [CryptographicAlgorithm.HMAC_SHA3_256, 'sha3-256'],
  [CryptographicAlgorithm.HMAC_SHA3_384, 'sha3-384'],
  [CryptographicAlgorithm.HMAC_SHA3_512, 'sha3-512'],
]);

function aesName(key: Uint8Array, mode: string): string {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) throw bad(`an AES key must be 128, 192 or 256 bits, not ${key.length * 8}`);
  return `aes-${key.length * 8}-${mode}`;
}

/** A node Cipher/Decipher as a CipherStream (no AEAD). */
function plainStream(c: Cipher | Decipher, generatedIv: Uint8Array | undefined, blockSize: number | undefined, padded: boolean, dir: Direction): CipherStream {
  let total = 0;
  return {
    ...(generatedIv && { generatedIv }),
    update(data) {
      total += data.length;
      return u8(c.update(data));
    },
    final() {
      if (blockSize !== undefined && (!padded || dir === 'decrypt') && total % blockSize !== 0) {
        throw new CryptoError('BAD_DATA', `the data must be a whole number of ${blockSize}-byte blocks`);
      }
      try {
        return { data: u8(c.final()) };
      } catch (e) {
        throw new CryptoError('FAILURE', 'decryption failed (bad padding)', { cause: e });
      }
    },
  };
}

/** XTS cannot stream across calls in node; collect the data unit and process it at the end. */
function xtsStream(name: string, key: Uint8Array, iv: Uint8Array, dir: Direction, generatedIv: Uint8Array | undefined): CipherStream {
  const parts: Uint8Array[] = [];
  let total = 0;
  return {
    ...(generatedIv && { generatedIv }),
    held: () => total,
    update(data) {
      parts.push(data);
      total += data.length;
      return new Uint8Array(0);
    },
    final() {
      const all = Buffer.concat(parts);
      if (all.length < 16) throw new CryptoError('BAD_DATA', 'XTS needs at least 16 bytes of data');
      const c = dir === 'encrypt' ? createCipheriv(name, key, iv) : createDecipheriv(name, key, iv);
      return { data: u8(Buffer.concat([c.update(all), c.final()])) };
    },
  };
}

function aeadStream(name: string, key: Uint8Array, iv: Uint8Array, dir: Direction, tagLength: number, aad: Uint8Array | undefined, generatedIv: Uint8Array | undefined): CipherStream {
  const opts = { authTagLength: tagLength };
  if (dir === 'encrypt') {
    const c = createCipheriv(name as 'aes-128-gcm', key, iv, opts);
    if (aad) c.setAAD(aad);
    return {
      ...(generatedIv && { generatedIv }),
      update: (d) => u8(c.update(d)),
      final() {
        const data = u8(c.final());
        return { data, tag: u8(c.getAuthTag()) };
      },
    };
  }
  const d = createDecipheriv(name as 'aes-128-gcm', key, iv, opts);
  if (aad) d.setAAD(aad);
  return {
    update: (x) => u8(d.update(x)),
    final(tag) {
      if (!tag) throw bad('Authenticated Encryption Tag is required to decrypt');
      if (tag.length !== tagLength) throw new CryptoError('FAILURE', `the Authenticated Encryption Tag must be ${tagLength} bytes`);
      try {
        d.setAuthTag(tag);
        return { data: u8(d.final()) };
      } catch (e) {
        throw new CryptoError('FAILURE', 'authentication failed: the tag does not match', { cause: e });
      }
    },
  };
}

/** The IV to use: the request's, else a random one when Random IV allows (encrypt only). */
export function ivFor(input: CipherInput, params: CryptoParams, dir: Direction, generateBytes: number): { iv: Uint8Array; generated?: Uint8Array } {
  if (input.iv) return { iv: input.iv };
  if (dir === 'encrypt' && params.randomIV === true) {
    const g = u8(randomBytes(generateBytes));
    return { iv: g, generated: g };
  }
  throw new CryptoError('MISSING_IV', 'this mode needs an IV/Counter/Nonce (or Random IV in the Cryptographic Parameters)');
}

export function padded(params: CryptoParams): boolean {
  const p = params.paddingMethod;
  if (p === undefined || p === PaddingMethod.None) return false;
  if (p === PaddingMethod.PKCS5) return true;
  throw unsupported('block cipher padding must be PKCS5 or None');
}

/**
 * The AEAD Tag Length in bytes (default 16). A length no AEAD mode has — GCM tags are 4 to 16
 * bytes (SP 800-38D §5.2.1.2), a Poly1305 tag at most 16 — is INVALID_TAG_LENGTH (test cases
 * CS-BC-M-GCM-1 and CS-BC-M-CHACHA20POLY1305-1, steps 7-8: Tag Length 1 and 32); a length the
 * mode has but the policy does not serve is BAD_PARAMETERS.
 */
export function aeadTag(params: CryptoParams, policy: CipherPolicy): number {
  const t = params.tagLength ?? 16;
  if (!Number.isInteger(t) || t < 4 || t > 16) throw new CryptoError('INVALID_TAG_LENGTH', `invalid Tag Length ${t}: an authentication tag is 4 to 16 bytes`);
  if (!policy.aeadTagBytes.includes(t)) throw bad(`Tag Length must be one of ${policy.aeadTagBytes.join(', ')} bytes`);
  return t;
}

/** Open a symmetric cipher for `algorithm` (the key's, or the parameters'). */
export function openSymmetricCipher(algorithm: number, key: Uint8Array, params: CryptoParams, dir: Direction, input: CipherInput, policy: CipherPolicy = CIPHER_POLICY): CipherStream {
  try {
    return openCipher(algorithm, key, params, dir, input, policy);
  } catch (e) {
    if (e instanceof CryptoError) throw e;
    // node rejects key/IV lengths it cannot use ("Invalid key length", "Invalid IV length").
    throw bad(`the key or IV/Counter/Nonce does not fit the mechanism (${(e as Error).message})`);
  }
}

function openCipher(algorithm: number, key: Uint8Array, params: CryptoParams, dir: Direction, input: CipherInput, policy: CipherPolicy): CipherStream {
  const mode = params.blockCipherMode;
  if (algorithm === CryptographicAlgorithm.AES) {
    if (mode === undefined) throw bad("Block Cipher Mode is required for AES (in the request or the key's Cryptographic Parameters)");
    if (!policy.aesModes.has(mode)) throw unsupported(`AES in Block Cipher Mode ${mode} is not allowed by the server crypto policy (cryptoPolicy.aesModes)`);
    if (input.aad && mode !== BlockCipherMode.GCM) throw bad('Authenticated Encryption Additional Data applies to GCM only');
    switch (mode) {
      case BlockCipherMode.ECB: {
        const p = padded(params);
        const c = dir === 'encrypt' ? createCipheriv(aesName(key, 'ecb'), key, null) : createDecipheriv(aesName(key, 'ecb'), key, null);
        c.setAutoPadding(p);
        return plainStream(c, undefined, 16, p, dir);
      }
      case BlockCipherMode.CBC: {
        const p = padded(params);
        const { iv, generated } = ivFor(input, params, dir, 16);
        if (iv.length !== 16) throw bad('a CBC IV is 16 bytes');
        const c = dir === 'encrypt' ? createCipheriv(aesName(key, 'cbc'), key, iv) : createDecipheriv(aesName(key, 'cbc'), key, iv);
        c.setAutoPadding(p);
        return plainStream(c, generated, 16, p, dir);
      }
      case BlockCipherMode.CTR: {
        if (params.paddingMethod !== undefined && params.paddingMethod !== PaddingMethod.None) throw bad('CTR takes no padding');
        const { iv, generated } = ivFor(input, params, dir, 16);
        const block = counterBlock(iv, params.initialCounterValue);
        const c = dir === 'encrypt' ? createCipheriv(aesName(key, 'ctr'), key, block) : createDecipheriv(aesName(key, 'ctr'), key, block);
        return plainStream(c, generated, undefined, false, dir);
      }
      case BlockCipherMode.GCM: {
        const tag = aeadTag(params, policy);
        const { iv, generated } = ivFor(input, params, dir, 12);
        if (iv.length < policy.gcmMinIvBytes) throw bad(`a GCM IV must be at least ${policy.gcmMinIvBytes} bytes`);
        return aeadStream(aesName(key, 'gcm'), key, iv, dir, tag, input.aad, generated);
      }
      case BlockCipherMode.XTS: {
        if (key.length !== 32 && key.length !== 64) throw bad('an AES-XTS key is two AES-128 or AES-256 keys (256 or 512 bits)');
        const { iv, generated } = ivFor(input, params, dir, 16);
        if (iv.length !== 16) throw bad('the XTS tweak (IV/Counter/Nonce) is 16 bytes');
        if (timingSafeEqual(key.subarray(0, key.length / 2), key.subarray(key.length / 2))) throw bad('the two halves of an XTS key must differ');
        return xtsStream(`aes-${(key.length / 2) * 8}-xts`, key, iv, dir, generated);
      }
      default:
        throw unsupported(`AES in Block Cipher Mode ${mode} is not served`);
    }
  }
  if (algorithm === CryptographicAlgorithm.DES3) {
    if (!policy.tripleDes) throw unsupported('Triple DES is disabled by the server crypto policy (cryptoPolicy.tripleDes)');
    if (key.length !== 24) throw bad('only three-key Triple DES (192-bit keys) is served');
    const p = padded(params);
    if (mode === BlockCipherMode.ECB) {
      const c = dir === 'encrypt' ? createCipheriv('des-ede3-ecb', key, null) : createDecipheriv('des-ede3-ecb', key, null);
      c.setAutoPadding(p);
      return plainStream(c, undefined, 8, p, dir);
    }
    if (mode === BlockCipherMode.CBC) {
      const { iv, generated } = ivFor(input, params, dir, 8);
      const c = dir === 'encrypt' ? createCipheriv('des-ede3-cbc', key, iv) : createDecipheriv('des-ede3-cbc', key, iv);
      c.setAutoPadding(p);
      return plainStream(c, generated, 8, p, dir);
    }
    throw unsupported('Triple DES is served in ECB and CBC only');
  }
  if (algorithm === CryptographicAlgorithm.DES) throw unsupported('single DES is not served (NIST SP 800-131A)');
  if (algorithm === CryptographicAlgorithm.ChaCha20) {
    if (key.length !== 32) throw bad('a ChaCha20 key is 256 bits');
    if (input.aad) throw bad('Authenticated Encryption Additional Data applies to ChaCha20-Poly1305, not ChaCha20');
    const { iv, generated } = ivFor(input, params, dir, 12);
    const block = chachaBlock(iv, params.initialCounterValue);
    const c = dir === 'encrypt' ? createCipheriv('chacha20', key, block) : createDecipheriv('chacha20', key, block);
    return plainStream(c, generated, undefined, false, dir);
  }
  if (algorithm === CryptographicAlgorithm.ChaCha20Poly1305) {
    if (key.length !== 32) throw bad('a ChaCha20-Poly1305 key is 256 bits');
    if (mode !== undefined && mode !== BlockCipherMode.AEAD) throw bad('ChaCha20-Poly1305 takes Block Cipher Mode AEAD (or none)');
    // Truncated tags as for GCM (test case CS-BC-M-CHACHA20POLY1305-1-21 decrypts with Tag Length 12).
    const tag = aeadTag(params, policy);
    const { iv, generated } = ivFor(input, params, dir, 12);
    if (iv.length !== 12) throw bad('the ChaCha20-Poly1305 nonce is 12 bytes');
    return aeadStream('chacha20-poly1305', key, iv, dir, tag, input.aad, generated);
  }
  throw unsupported(`Cryptographic Algorithm ${algorithm} is not served for Encrypt/Decrypt with a symmetric key`);
}

/** CTR: a full 16-byte counter block, or a nonce followed by the Initial Counter Value (big-endian). */
export function counterBlock(iv: Uint8Array, initial: number | undefined): Uint8Array {
  if (iv.length === 16) {
    if (initial !== undefined) throw bad('Initial Counter Value applies only when IV/Counter/Nonce is shorter than a block');
    return iv;
  }
  if (iv.length < 4 || iv.length > 12) throw bad('a CTR IV/Counter/Nonce is a 16-byte counter block or a 4 to 12-byte nonce');
  const block = new Uint8Array(16);
  block.set(iv);
  let v = BigInt(initial ?? 0);
  for (let i = 15; i >= iv.length; i--) {
    block[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return block;
}

/** ChaCha20: node/OpenSSL take counter (32-bit LE words) ‖ nonce, 16 bytes in all. */
function chachaBlock(iv: Uint8Array, initial: number | undefined): Uint8Array {
  if (iv.length === 16) return iv;
  const block = new Uint8Array(16);
  const view = new DataView(block.buffer);
  if (iv.length === 12) {
    view.setUint32(0, (initial ?? 0) >>> 0, true);
    block.set(iv, 4);
    return block;
  }
  if (iv.length === 8) {
    view.setBigUint64(0, BigInt(initial ?? 0), true);
    block.set(iv, 8);
    return block;
  }
  throw bad('a ChaCha20 nonce is 8 or 12 bytes (or the 16-byte counter and nonce)');
}

// ---------------------------------------------------------------------------------------------- RSA

/**
 * The OAEP scheme of the parameters: Hashing Algorithm over the label (default SHA-1), MGF1
 * (the only Mask Generator) with Mask Generator Hashing Algorithm, label P Source (default empty).
 * Both hashes must be in the policy's oaepHashes. An absent Mask Generator Hashing Algorithm is
 * taken as the label hash, as PyKMIP and OpenSSL's single `oaepHash` do (KMIP 2.1 Table 59 says
 * SHA-1 when omitted; every OASIS test case states it, so both readings pass them).
 */
export function oaepScheme(params: CryptoParams, policy: CipherPolicy = CIPHER_POLICY): OaepScheme {
  const h = params.hashingAlgorithm ?? HashingAlgorithm.SHA_1;
  if (!policy.oaepHashes.has(h)) throw unsupported(`Hashing Algorithm ${h} is not served for OAEP (cryptoPolicy oaepHashes)`);
  if (params.maskGenerator !== undefined && params.maskGenerator !== MaskGenerator.MGF1) throw unsupported('OAEP is served with the MGF1 Mask Generator only');
  const m = params.maskGeneratorHashingAlgorithm ?? h;
  if (!policy.oaepHashes.has(m)) throw unsupported(`Mask Generator Hashing Algorithm ${m} is not served for OAEP (cryptoPolicy oaepHashes)`);
  return { hash: NODE_HASH.get(h) as OaepHash, mgfHash: NODE_HASH.get(m) as OaepHash, ...(params.pSource && params.pSource.length > 0 && { label: params.pSource }) };
}

function rsaPadding(params: CryptoParams, policy: CipherPolicy): number {
  const p = params.paddingMethod ?? PaddingMethod.OAEP;
  if (!policy.rsaPaddings.has(p)) throw unsupported('RSA Encrypt/Decrypt is served with OAEP or PKCS#1 v1.5 padding');
  if (params.blockCipherMode !== undefined) throw bad('RSA takes no Block Cipher Mode');
  if (p !== PaddingMethod.OAEP && params.pSource !== undefined) throw bad('P Source (the OAEP label) applies to OAEP padding only');
  return p;
}

/** node's native OAEP options: one hash for the label and MGF1. */
function nativeOaep(key: KeyObject, s: OaepScheme): { key: KeyObject; padding: number; oaepHash: string; oaepLabel?: Buffer } {
  return { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: s.hash, ...(s.label && { oaepLabel: Buffer.from(s.label) }) };
}

export function rsaEncrypt(key: KeyObject, params: CryptoParams, data: Uint8Array, policy: CipherPolicy = CIPHER_POLICY): Uint8Array {
  const p = rsaPadding(params, policy);
  try {
    if (p === PaddingMethod.OAEP) {
      const s = oaepScheme(params, policy);
      // Equal hashes: OpenSSL's OAEP; different ones: the EME-OAEP encoding in ./oaep.ts over raw RSA.
      return s.hash === s.mgfHash ? u8(publicEncrypt(nativeOaep(key, s), data)) : oaepEncrypt(key, s, data);
    }
    return u8(publicEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, data));
  } catch (e) {
    if (e instanceof CryptoError) throw e;
    throw new CryptoError('BAD_DATA', 'the data is too long for this RSA key and padding', { cause: e });
  }
}

/** The OAEP scheme RSA decryption runs with, or why the parameters are refused. */
export function rsaDecryptScheme(params: CryptoParams, policy: CipherPolicy = CIPHER_POLICY): OaepScheme {
  const p = rsaPadding(params, policy);
  if (p !== PaddingMethod.OAEP) throw unsupported('RSA PKCS#1 v1.5 decryption is not served (padding oracle; use OAEP)');
  return oaepScheme(params, policy);
}

export function rsaDecrypt(key: KeyObject, params: CryptoParams, data: Uint8Array, policy: CipherPolicy = CIPHER_POLICY): Uint8Array {
  const s = rsaDecryptScheme(params, policy);
  // Both paths fail with the same CryptoError FAILURE "RSA decryption failed" (Cryptographic Failure).
  if (s.hash !== s.mgfHash) return oaepDecrypt(key, s, data);
  try {
    return u8(privateDecrypt(nativeOaep(key, s), data));
  } catch (e) {
    throw new CryptoError('FAILURE', 'RSA decryption failed', { cause: e });
  }
}

// ----------------------------------------------------------------------------------- MAC and Hash

/** A MAC or hash in progress. */
export interface DigestStream {
  update(data: Uint8Array): void;
  digest(): Uint8Array;
}

/**
 * The MAC for a key of `keyAlgorithm`, or the parameters' Cryptographic Algorithm: HMAC with the
 * HMAC-SHA* algorithms, AES-CMAC with an AES key (Block Cipher Mode CMAC or none).
 */
export function openMac(keyAlgorithm: number | undefined, key: Uint8Array, params: CryptoParams): DigestStream {
  const algorithm = params.cryptographicAlgorithm ?? keyAlgorithm;
  const hmacHash = algorithm === undefined ? undefined : HMAC_HASH.get(algorithm);
  if (hmacHash) {
    if (params.blockCipherMode !== undefined) throw bad('HMAC takes no Block Cipher Mode');
    const h: Hmac = createHmac(hmacHash, key);
    return { update: (d) => void h.update(d), digest: () => u8(h.digest()) };
  }
  if (algorithm === CryptographicAlgorithm.AES) {
    if (params.blockCipherMode !== undefined && params.blockCipherMode !== BlockCipherMode.CMAC) throw unsupported('an AES key MACs with CMAC only');
    if (key.length !== 16 && key.length !== 24 && key.length !== 32) throw bad('an AES key must be 128, 192 or 256 bits');
    const m = new AesCmac(key);
    return { update: (d) => void m.update(d), digest: () => m.digest() };
  }
  throw unsupported(`Cryptographic Algorithm ${algorithm ?? '(none)'} is not served for MAC`);
}

export function openHash(hashingAlgorithm: number | undefined, policy: CipherPolicy = CIPHER_POLICY): DigestStream {
  if (hashingAlgorithm === undefined) throw bad('Hash needs a Hashing Algorithm in its Cryptographic Parameters');
  const name = NODE_HASH.get(hashingAlgorithm);
  if (!name || !policy.hashes.has(hashingAlgorithm)) throw unsupported(`Hashing Algorithm ${hashingAlgorithm} is not served`);
  const h: Hash = createHash(name);
  return { update: (d) => void h.update(d), digest: () => u8(h.digest()) };
}

/** Constant-time comparison of a MAC (different lengths compare unequal). */
export function macEquals(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
