/**
 * Key derivation functions for Derive Key (KMIP 1.4 §4.6, 2.1 §6.1.14 and §7.12), on node:crypto.
 * Bytes in, bytes out; the KMIP side is operations/keys-and-certificates/derive-key.ts. Failures are CryptoErrors:
 * - PBKDF2 (RFC 8018 / PKCS#5 v2.1; vectors RFC 6070): PRF HMAC with SHA-1 (the PKCS#5 default) …
 *   SHA-512; the iteration count bounded by `KDF_LIMITS.maxIterations` (BAD_PARAMETERS beyond it);
 * - HKDF (RFC 5869): extract and expand, output at most 255 hash lengths;
 * - HMAC: HMAC(key, data), at most one hash length;
 * - HASH: a hash over the data, at most one hash length.
 * An output longer than the method gives is FAILURE (1.4 §11.7: "The specified length exceeds the
 * output of the derivation method" → Cryptographic Failure).
 */
import { createHash, createHmac, hkdf, pbkdf2 } from 'node:crypto';
import { promisify } from 'node:util';
import { CryptoError } from './errors.js';

export type KdfHash = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

/** Named limits: a request cannot make the server spin for minutes. */
export const KDF_LIMITS = { maxIterations: 10_000_000, maxOutputBytes: 4096 } as const;

const HASH_BYTES: Readonly<Record<KdfHash, number>> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

const pbkdf2Async = promisify(pbkdf2);
const hkdfAsync = promisify(hkdf);

function checkLength(bytes: number, max: number, method: string): void {
  if (!Number.isInteger(bytes) || bytes <= 0) throw new CryptoError('BAD_PARAMETERS', 'the derived length must be a positive whole number of bytes');
  if (bytes > Math.min(max, KDF_LIMITS.maxOutputBytes))
    throw new CryptoError('FAILURE', `${method} gives at most ${Math.min(max, KDF_LIMITS.maxOutputBytes)} bytes here; ${bytes} were asked for`);
}

export async function pbkdf2Derive(password: Uint8Array, salt: Uint8Array, iterations: number, bytes: number, hash: KdfHash): Promise<Uint8Array> {
  if (!Number.isInteger(iterations) || iterations < 1) throw new CryptoError('BAD_PARAMETERS', 'PBKDF2 needs an Iteration Count of at least 1');
  if (iterations > KDF_LIMITS.maxIterations) throw new CryptoError('BAD_PARAMETERS', `PBKDF2 Iteration Count is limited to ${KDF_LIMITS.maxIterations}`);
  checkLength(bytes, KDF_LIMITS.maxOutputBytes, 'PBKDF2');
  return new Uint8Array(await pbkdf2Async(password, salt, iterations, bytes, hash));
}

export async function hkdfDerive(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, bytes: number, hash: KdfHash): Promise<Uint8Array> {
  checkLength(bytes, 255 * HASH_BYTES[hash], 'HKDF');
  if (info.length > 1024) throw new CryptoError('BAD_PARAMETERS', 'HKDF info is limited to 1024 bytes');
  return new Uint8Array(await hkdfAsync(hash, ikm, salt, info, bytes));
}

export function hmacDerive(key: Uint8Array, data: Uint8Array, bytes: number, hash: KdfHash): Uint8Array {
  checkLength(bytes, HASH_BYTES[hash], 'HMAC');
  return new Uint8Array(createHmac(hash, key).update(data).digest().subarray(0, bytes));
}

export function hashDerive(data: Uint8Array, bytes: number, hash: KdfHash): Uint8Array {
  checkLength(bytes, HASH_BYTES[hash], 'HASH');
  return new Uint8Array(createHash(hash).update(data).digest().subarray(0, bytes));
}
