/**
 * RSAES-OAEP (RFC 8017 §7.1) with a label hash and an MGF1 hash chosen independently. node:crypto
 * (OpenSSL's RSA_PKCS1_OAEP_PADDING) takes one `oaepHash` for both, so when a client asks for, say,
 * SHA-384 over the label and MGF1 with SHA-256 (KMIP Cryptographic Parameters Hashing Algorithm and
 * Mask Generator Hashing Algorithm; test cases CS-AC-M-OAEP-7…10) the EME-OAEP encoding is done here
 * and only the RSA primitive by OpenSSL: RSAEP as the raw public operation, RSADP as the raw
 * (blinded) private operation, both with RSA_NO_PADDING. Equal hashes keep node's native OAEP
 * (mechanism.ts); this codec gives the same results there, which the tests check.
 *
 * Decoding is written not to tell which check failed (Manger's attack on OAEP needs exactly that):
 * every check (leading byte, label hash, the zero string and its 0x01 separator) is computed over
 * the whole block without a branch or early exit on the decrypted data, the results are combined
 * into one flag, and a failure is one error with one message. The time taken depends only on the
 * lengths (the modulus, the hashes). What JavaScript cannot promise — the engine's own timing of
 * integer operations, the garbage collector — is out of reach here as for any JS code; the length
 * of the recovered message is, as in every OAEP implementation, visible in the result.
 *
 * Nothing here logs; no message carries key bytes, plaintext or ciphertext.
 */
import { constants, createHash, privateDecrypt, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { CryptoError } from './errors.js';
import { mgf1 } from './mgf1.js';

/** Hash names (node:crypto) for the label hash and MGF1. */
export type OaepHash = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

export interface OaepScheme {
  /** The hash over the label (RFC 8017 "Hash"); its length fixes the seed length. */
  readonly hash: OaepHash;
  /** The hash inside MGF1. */
  readonly mgfHash: OaepHash;
  /** The label L (KMIP P Source); empty when absent. */
  readonly label?: Uint8Array;
}

const HASH_BYTES: Readonly<Record<OaepHash, number>> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

/** The one error every decoding or decryption failure gives (the existing OAEP path's message). */
export const decryptionError = (): CryptoError => new CryptoError('FAILURE', 'RSA decryption failed');

/** The modulus length in bytes (k). */
export function modulusBytes(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (key.asymmetricKeyType !== 'rsa' || !bits) throw new CryptoError('BAD_PARAMETERS', 'OAEP needs an RSA key');
  return Math.ceil(bits / 8);
}

/** The longest message OAEP carries for a k-byte modulus: k - 2hLen - 2 (may be negative). */
export function maxMessageBytes(scheme: OaepScheme, k: number): number {
  return k - 2 * HASH_BYTES[scheme.hash] - 2;
}

/** EME-OAEP encoding (RFC 8017 §7.1.1 step 2): EM = 0x00 ‖ maskedSeed ‖ maskedDB, k bytes. */
export function emeOaepEncode(scheme: OaepScheme, k: number, message: Uint8Array, seed: Uint8Array = randomBytes(HASH_BYTES[scheme.hash])): Buffer {
  const hLen = HASH_BYTES[scheme.hash];
  if (seed.length !== hLen) throw new RangeError(`the OAEP seed is ${hLen} bytes`);
  if (message.length > maxMessageBytes(scheme, k)) throw new CryptoError('BAD_DATA', 'the data is too long for this RSA key and padding');
  const lHash = createHash(scheme.hash)
    .update(scheme.label ?? new Uint8Array(0))
    .digest();
  // DB = lHash ‖ PS (zeros) ‖ 0x01 ‖ M
  const db = Buffer.alloc(k - hLen - 1);
  lHash.copy(db, 0);
  db[db.length - message.length - 1] = 0x01;
  db.set(message, db.length - message.length);
  const dbMask = mgf1(scheme.mgfHash, seed, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= dbMask[i]!;
  const seedMask = mgf1(scheme.mgfHash, db, hLen);
  const maskedSeed = Buffer.alloc(hLen);
  for (let i = 0; i < hLen; i++) maskedSeed[i] = seed[i]! ^ seedMask[i]!;
  return Buffer.concat([Buffer.alloc(1), maskedSeed, db]);
}

/** 1 when the byte `x` (0…255) is zero, else 0, without a branch. */
const isZero = (x: number): number => ((x - 1) >>> 31) & 1;

/**
 * EME-OAEP decoding (RFC 8017 §7.1.2 step 3): the message, or the one decryption error. All checks
 * run to the end and are combined before the single decision.
 */
export function emeOaepDecode(scheme: OaepScheme, k: number, em: Uint8Array): Buffer {
  const hLen = HASH_BYTES[scheme.hash];
  // Public facts only (lengths): no secret has been looked at yet.
  if (em.length !== k || k < 2 * hLen + 2) throw decryptionError();
  const lHash = createHash(scheme.hash)
    .update(scheme.label ?? new Uint8Array(0))
    .digest();
  const maskedSeed = em.subarray(1, 1 + hLen);
  const db = Buffer.from(em.subarray(1 + hLen));
  const seedMask = mgf1(scheme.mgfHash, db, hLen);
  const seed = Buffer.alloc(hLen);
  for (let i = 0; i < hLen; i++) seed[i] = maskedSeed[i]! ^ seedMask[i]!;
  const dbMask = mgf1(scheme.mgfHash, seed, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= dbMask[i]!;

  // Y must be 0 and lHash' must equal lHash: OR the differences together.
  let diff = em[0]!;
  for (let i = 0; i < hLen; i++) diff |= db[i]! ^ lHash[i]!;
  // After lHash': zeros, then 0x01, then M. Find the first 0x01 and note any other non-zero byte before it.
  let found = 0;
  let index = 0;
  let stray = 0;
  for (let i = hLen; i < db.length; i++) {
    const b = db[i]!;
    const one = isZero(b ^ 0x01);
    const firstOne = one & (found ^ 1);
    index |= -firstOne & i;
    stray |= (found ^ 1) & (one ^ 1) & (isZero(b) ^ 1);
    found |= one;
  }
  const good = isZero(diff) & found & (stray ^ 1);
  seed.fill(0);
  if (good !== 1) {
    db.fill(0);
    throw decryptionError();
  }
  const message = Buffer.from(db.subarray(index + 1));
  db.fill(0);
  return message;
}

/** RSAES-OAEP-ENCRYPT (RFC 8017 §7.1.1) with the public key (a private KeyObject works too). */
export function oaepEncrypt(key: KeyObject, scheme: OaepScheme, message: Uint8Array): Uint8Array {
  const k = modulusBytes(key);
  const em = emeOaepEncode(scheme, k, message);
  // EM starts with 0x00, so as an integer it is below the modulus (n ≥ 2^(8(k-1))).
  return new Uint8Array(publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, em));
}

/** RSAES-OAEP-DECRYPT (RFC 8017 §7.1.2): the message, or the one decryption error for any failure. */
export function oaepDecrypt(privateKey: KeyObject, scheme: OaepScheme, ciphertext: Uint8Array): Uint8Array {
  const k = modulusBytes(privateKey);
  if (ciphertext.length !== k || k < 2 * HASH_BYTES[scheme.hash] + 2) throw decryptionError();
  let em: Buffer;
  try {
    // RSADP: OpenSSL's private operation (blinded), no padding; a representative ≥ n is refused.
    em = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ciphertext);
  } catch {
    throw decryptionError();
  }
  try {
    return new Uint8Array(emeOaepDecode(scheme, k, em));
  } finally {
    em.fill(0);
  }
}
