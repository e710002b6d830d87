/**
 * Key wrapping mechanisms, on node:crypto. This layer speaks keys and bytes; the KMIP side
 * (Key Wrapping Specification / Key Wrapping Data) is operations/service/key-wrapping.ts.
 *
 * - AES Key Wrap, RFC 3394 / NIST SP 800-38F KW: the data is at least 16 bytes and a whole number
 *   of 8-byte blocks; the default integrity check value A6A6A6A6A6A6A6A6.
 * - AES Key Wrap with Padding, RFC 5649 / SP 800-38F KWP: any non-empty length; the alternative
 *   initial value A65959A6 followed by the data length.
 * - RSA-OAEP (RFC 8017) with a public key to wrap and the private key to unwrap: src/crypto/mechanism.ts.
 * Unwrapping checks the integrity value; a mismatch is FAILURE (Cryptographic Failure).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { CryptoError } from './errors.js';

const KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');
const KWP_IV = Buffer.from('A65959A6', 'hex');

export type AesWrapVariant = 'kw' | 'kwp';

function cipherName(kek: Uint8Array, variant: AesWrapVariant): string {
  if (kek.length !== 16 && kek.length !== 24 && kek.length !== 32) {
    throw new CryptoError('BAD_PARAMETERS', `an AES key-encryption key must be 128, 192 or 256 bits, not ${kek.length * 8}`);
  }
  return `id-aes${kek.length * 8}-wrap${variant === 'kwp' ? '-pad' : ''}`;
}

/** Wrap `data` under the AES key `kek`. */
export function aesWrap(kek: Uint8Array, data: Uint8Array, variant: AesWrapVariant): Uint8Array {
  const name = cipherName(kek, variant);
  if (variant === 'kw' && (data.length < 16 || data.length % 8 !== 0)) {
    throw new CryptoError('BAD_DATA', `AES Key Wrap (RFC 3394) needs at least 16 bytes in whole 8-byte blocks (got ${data.length}); use AES Key Wrap with Padding`);
  }
  if (data.length === 0) throw new CryptoError('BAD_DATA', 'nothing to wrap');
  const c = createCipheriv(name, kek, variant === 'kw' ? KW_IV : KWP_IV);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

/** Unwrap; the integrity check failing (wrong key, altered data) is FAILURE. */
export function aesUnwrap(kek: Uint8Array, wrapped: Uint8Array, variant: AesWrapVariant): Uint8Array {
  const name = cipherName(kek, variant);
  if (wrapped.length < 16 || wrapped.length % 8 !== 0) throw new CryptoError('BAD_DATA', 'wrapped data must be at least 16 bytes in whole 8-byte blocks');
  try {
    const d = createDecipheriv(name, kek, variant === 'kw' ? KW_IV : KWP_IV);
    return new Uint8Array(Buffer.concat([d.update(wrapped), d.final()]));
  } catch (e) {
    throw new CryptoError('FAILURE', 'unwrapping failed: the integrity check does not hold (wrong key or altered data)', { cause: e });
  }
}
