/**
 * Three-key Triple DES key generation (Create of a DES3 Symmetric Key).
 *
 * A TDEA key bundle is three DES keys K1 ‖ K2 ‖ K3, 24 bytes. What the standards ask of it:
 * - Parity: each DES key byte carries 7 key bits and, in its low-order bit, an odd-parity bit
 *   (FIPS 46-3 §"DES key"; SP 800-67 Rev. 2 §3.3.1). The 168 key bits are the Cryptographic
 *   Length KMIP states (the OASIS SKFF cases use 168); 192 names the same 24 bytes.
 * - Keying option 1 only: K1, K2 and K3 distinct (SP 800-67 Rev. 2 §3.3.2). Two-key TDEA
 *   (K1 = K3) and single DES are disallowed by SP 800-131A Rev. 2 and are not generated.
 * - No weak or semi-weak DES key in the bundle (SP 800-67 Rev. 2 §3.3.2, which lists them): a
 *   weak key makes DES an involution, a semi-weak pair makes one key decrypt the other's output.
 * A random bundle fails these checks with probability about 2^-50; the generator then draws again.
 *
 * Using a TDES key (Encrypt/Decrypt) is a separate decision of the crypto policy
 * (`cryptoPolicy.tripleDes`, src/crypto/mechanism.ts); generating and storing one is allowed, for
 * the storage and tape devices that still encrypt with it themselves.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { CryptographicAlgorithm } from '../kmip/generated/enums.gen.js';

export const TDES_KEY_BYTES = 24;

/** The weak and semi-weak DES keys (SP 800-67 Rev. 2 §3.3.2), parity bits set. */
const WEAK_AND_SEMI_WEAK_HEX = [
  // weak
  '0101010101010101',
  'fefefefefefefefe',
  'e0e0e0e0f1f1f1f1',
  '1f1f1f1f0e0e0e0e',
  // semi-weak pairs
  '011f011f010e010e',
  '1f011f010e010e01',
  '01e001e001f101f1',
  'e001e001f101f101',
  '01fe01fe01fe01fe',
  'fe01fe01fe01fe01',
  '1fe01fe00ef10ef1',
  'e01fe01ff10ef10e',
  '1ffe1ffe0efe0efe',
  'fe1ffe1ffe0efe0e',
  'e0fee0fef1fef1fe',
  'fee0fee0fef1fef1',
];

/** Compared without their parity bits: a key equals a weak key whatever its parity bits say. */
const WEAK = WEAK_AND_SEMI_WEAK_HEX.map((h) => withoutParity(Buffer.from(h, 'hex')));

function withoutParity(k: Uint8Array): Buffer {
  return Buffer.from(k.map((b) => b & 0xfe));
}

/** Set each byte's low-order bit so that the byte has an odd number of 1 bits (in place). */
export function setOddParity(key: Uint8Array): Uint8Array {
  for (let i = 0; i < key.length; i++) {
    let b = key[i]! & 0xfe;
    let ones = 0;
    for (let x = b; x !== 0; x >>= 1) ones += x & 1;
    if (ones % 2 === 0) b |= 1;
    key[i] = b;
  }
  return key;
}

/** Every byte has odd parity. */
export function hasOddParity(key: Uint8Array): boolean {
  return key.every((b) => {
    let ones = 0;
    for (let x = b; x !== 0; x >>= 1) ones += x & 1;
    return ones % 2 === 1;
  });
}

/** One 8-byte DES key equals a weak or semi-weak key (parity bits ignored). */
export function isWeakDesKey(k: Uint8Array): boolean {
  if (k.length !== 8) throw new RangeError('a DES key is 8 bytes');
  const x = withoutParity(k);
  let weak = false;
  for (const w of WEAK) weak = timingSafeEqual(x, w) || weak; // no early exit: the key is secret
  return weak;
}

/**
 * Why a 24-byte bundle is not a valid three-key TDES key, or undefined when it is: parity,
 * distinct parts (compared without parity bits, in constant time), no weak or semi-weak part.
 */
export function tdesKeyProblem(key: Uint8Array): string | undefined {
  if (key.length !== TDES_KEY_BYTES) return 'a three-key Triple DES key is 24 bytes';
  if (!hasOddParity(key)) return 'a DES key byte has even parity';
  const parts = [0, 1, 2].map((i) => withoutParity(key.subarray(i * 8, i * 8 + 8)));
  const [k1, k2, k3] = parts as [Buffer, Buffer, Buffer];
  const same = [timingSafeEqual(k1, k2), timingSafeEqual(k2, k3), timingSafeEqual(k1, k3)];
  if (same.some(Boolean)) return 'the three DES keys of the bundle are not distinct';
  if (parts.map(isWeakDesKey).some(Boolean)) return 'a DES key of the bundle is weak or semi-weak';
  return undefined;
}

/**
 * A new three-key TDES key from the CSPRNG (`random` is for tests): odd parity set, drawn again
 * until the bundle passes `tdesKeyProblem`. The caller owns (and zeroes) the returned buffer.
 */
export function generateTdesKey(random: (n: number) => Uint8Array = randomBytes): Buffer {
  for (let attempt = 0; attempt < 16; attempt++) {
    const raw = random(TDES_KEY_BYTES);
    const key = Buffer.isBuffer(raw) ? raw : Buffer.from(raw);
    if (key !== raw) raw.fill(0);
    setOddParity(key);
    if (tdesKeyProblem(key) === undefined) return key;
    key.fill(0);
  }
  throw new Error('the random generator keeps giving invalid Triple DES keys');
}

/** New key material for a symmetric key of `algorithm` and `bits` the crypto policy accepted (Create, Re-key). */
export function generateSymmetricKey(algorithm: number, bits: number): Buffer {
  return algorithm === CryptographicAlgorithm.DES3 ? generateTdesKey() : randomBytes(bits / 8);
}
