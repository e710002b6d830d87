/**
 * RSASSA-PSS over a digest the client computed (RFC 8017 §8.1, §9.1): node:crypto signs only
 * messages it hashes itself, so the encoding is done here (EMSA-PSS with MGF1 on the same hash)
 * and the RSA primitive by OpenSSL (raw, blinded private operation; raw public operation).
 */
import { constants, createHash, privateDecrypt, publicEncrypt, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';
import { mgf1 } from './mgf1.js';

export type PssHash = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

function modulusBits(key: KeyObject): number {
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (!bits) throw new Error('not an RSA key');
  return bits;
}

/** EMSA-PSS-ENCODE(mHash) for a modulus of `modBits` bits; emBits = modBits - 1. */
export function emsaPssEncode(hash: PssHash, mHash: Uint8Array, modBits: number, saltLength: number, salt = randomBytes(saltLength)): Buffer {
  const hLen = mHash.length;
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  if (emLen < hLen + saltLength + 2) throw new RangeError('the salt is too long for this key and hash');
  const h = createHash(hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  const db = Buffer.alloc(emLen - hLen - 1);
  db[emLen - saltLength - hLen - 2] = 0x01;
  salt.copy(db, emLen - saltLength - hLen - 1);
  const mask = mgf1(hash, h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >> (8 * emLen - emBits);
  return Buffer.concat([db, h, Buffer.from([0xbc])]);
}

/** EMSA-PSS-VERIFY: whether `em` encodes `mHash`. `saltLength` undefined: recovered from the encoding. */
export function emsaPssVerify(hash: PssHash, mHash: Uint8Array, em: Uint8Array, modBits: number, saltLength: number | undefined): boolean {
  const hLen = mHash.length;
  const emBits = modBits - 1;
  const emLen = Math.ceil(emBits / 8);
  if (em.length !== emLen || emLen < hLen + 2 || em[emLen - 1] !== 0xbc) return false;
  const maskedDb = Buffer.from(em.subarray(0, emLen - hLen - 1));
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  if ((maskedDb[0]! & ~(0xff >> (8 * emLen - emBits)) & 0xff) !== 0) return false;
  const mask = mgf1(hash, h, maskedDb.length);
  for (let i = 0; i < maskedDb.length; i++) maskedDb[i]! ^= mask[i]!;
  maskedDb[0]! &= 0xff >> (8 * emLen - emBits);
  const one = maskedDb.indexOf(0x01);
  if (one < 0 || maskedDb.subarray(0, one).some((b) => b !== 0)) return false;
  const salt = maskedDb.subarray(one + 1);
  if (saltLength !== undefined && salt.length !== saltLength) return false;
  const h2 = createHash(hash).update(Buffer.alloc(8)).update(mHash).update(salt).digest();
  return timingSafeEqual(h, h2);
}

/** RSASSA-PSS-SIGN over a digest. */
export function pssSignDigest(privateKey: KeyObject, hash: PssHash, digest: Uint8Array, saltLength: number): Uint8Array {
  const bits = modulusBits(privateKey);
  const k = Math.ceil(bits / 8);
  const em = emsaPssEncode(hash, digest, bits, saltLength);
  const block = Buffer.concat([Buffer.alloc(k - em.length), em]);
  return privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, block);
}

/** RSASSA-PSS-VERIFY over a digest; false for any malformed or wrong signature. */
export function pssVerifyDigest(publicKey: KeyObject, hash: PssHash, digest: Uint8Array, signature: Uint8Array, saltLength: number | undefined): boolean {
  const bits = modulusBits(publicKey);
  const k = Math.ceil(bits / 8);
  if (signature.length !== k) return false;
  let m: Buffer;
  try {
    m = publicEncrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, signature);
  } catch {
    return false;
  }
  const emLen = Math.ceil((bits - 1) / 8);
  if (m.length - emLen > 0 && m.subarray(0, m.length - emLen).some((b) => b !== 0)) return false;
  return emsaPssVerify(hash, digest, m.subarray(m.length - emLen), bits, saltLength);
}
