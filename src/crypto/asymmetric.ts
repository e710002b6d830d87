/**
 * Asymmetric primitives on node:crypto: key pair generation (RSA, EC on the NIST curves,
 * Ed25519), signatures (RSA PKCS#1 v1.5 and PSS, ECDSA with DER signatures, Ed25519) and their
 * verification. This module speaks KeyObjects and hash names, not KMIP; the operations map the
 * KMIP parameters onto it (operations/crypto/sign.ts, signature-verify.ts).
 *
 * Key bytes never leave this module other than through the KeyObjects it returns; nothing here logs.
 */
import { constants, createPublicKey, generateKeyPair, privateEncrypt, publicDecrypt, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { pssSignDigest, pssVerifyDigest } from './pss.js';
import { ecdsaSignDigest, ecdsaVerifyDigest } from './ecdsa-prehash.js';

const generateKeyPairAsync = promisify(generateKeyPair);

export type KeyPairSpec =
  { readonly kind: 'rsa'; readonly bits: number; readonly publicExponent?: number } | { readonly kind: 'ec'; readonly curve: NodeCurve } | { readonly kind: 'ed25519' };

/** The curve names node:crypto (OpenSSL) knows. */
export type NodeCurve = 'P-256' | 'P-384' | 'P-521';

export interface GeneratedPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
}

/** Generate a key pair (asynchronously: RSA generation takes a while and must not block the server). */
export async function generateAsymmetricPair(spec: KeyPairSpec): Promise<GeneratedPair> {
  switch (spec.kind) {
    case 'rsa':
      return generateKeyPairAsync('rsa', { modulusLength: spec.bits, publicExponent: spec.publicExponent ?? 65537 });
    case 'ec':
      return generateKeyPairAsync('ec', { namedCurve: spec.curve });
    case 'ed25519':
      return generateKeyPairAsync('ed25519', {});
  }
}

/** Hash names node:crypto accepts. */
export type HashName = 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

export type SignatureScheme =
  | { readonly kind: 'rsa-pkcs1v15'; readonly hash: HashName }
  | { readonly kind: 'rsa-pss'; readonly hash: HashName; readonly saltLength?: number }
  | { readonly kind: 'ecdsa'; readonly hash: HashName }
  | { readonly kind: 'ed25519' };

/** Input to sign: the data itself, or its digest computed by the client (not for Ed25519). */
export type SignInput = { readonly data: Uint8Array } | { readonly digest: Uint8Array };

export class AsymmetricError extends Error {
  constructor(
    readonly code: 'DIGEST_LENGTH' | 'UNSUPPORTED' | 'KEY_MISMATCH',
    message: string,
  ) {
    super(message);
    this.name = 'AsymmetricError';
  }
}

export const HASH_BYTES: Readonly<Record<HashName, number>> = { sha1: 20, sha224: 28, sha256: 32, sha384: 48, sha512: 64 };

/** DigestInfo prefixes (RFC 8017 §9.2 note 1) for signing a precomputed digest with PKCS#1 v1.5. */
const DIGEST_INFO: Readonly<Record<HashName, string>> = {
  sha1: '3021300906052b0e03021a05000414',
  sha224: '302d300d06096086480165030402040500041c',
  sha256: '3031300d060960864801650304020105000420',
  sha384: '3041300d060960864801650304020205000430',
  sha512: '3051300d060960864801650304020305000440',
};

function rsaOptions(key: KeyObject, scheme: SignatureScheme, verifying = false): { key: KeyObject; padding?: number; saltLength?: number; dsaEncoding?: 'der' } {
  if (scheme.kind === 'rsa-pss') {
    // Signing: the salt length asked for, else the hash length (RFC 8017 §9.1 typical choice);
    // verifying: the one asked for, else whatever the signature carries.
    const dflt = verifying ? constants.RSA_PSS_SALTLEN_AUTO : HASH_BYTES[scheme.hash];
    return { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: scheme.saltLength ?? dflt };
  }
  if (scheme.kind === 'rsa-pkcs1v15') return { key, padding: constants.RSA_PKCS1_PADDING };
  return { key, dsaEncoding: 'der' };
}

export function checkDigest(scheme: SignatureScheme, digest: Uint8Array): void {
  if (scheme.kind === 'ed25519') throw new AsymmetricError('UNSUPPORTED', 'Ed25519 signs the message itself, not a digest');
  if (digest.length !== HASH_BYTES[scheme.hash]) throw new AsymmetricError('DIGEST_LENGTH', `Digested Data must be ${HASH_BYTES[scheme.hash]} bytes for ${scheme.hash}`);
}

/**
 * Sign. For a precomputed digest: ECDSA and PSS sign the digest with the hash named (node's
 * sign(null, …) with an RSA/EC key applies no hash); PKCS#1 v1.5 wraps the digest in its DigestInfo.
 */
export function signWith(privateKey: KeyObject, scheme: SignatureScheme, input: SignInput): Uint8Array {
  if (scheme.kind === 'ed25519') {
    if (!('data' in input)) throw new AsymmetricError('UNSUPPORTED', 'Ed25519 signs the message itself, not a digest');
    return nodeSign(null, input.data, privateKey);
  }
  if ('data' in input) return nodeSign(scheme.hash, input.data, rsaOptions(privateKey, scheme));
  checkDigest(scheme, input.digest);
  return signDigest(privateKey, scheme, input.digest);
}

function signDigest(privateKey: KeyObject, scheme: Exclude<SignatureScheme, { kind: 'ed25519' }>, digest: Uint8Array): Uint8Array {
  // node:crypto has no "sign this prehash" call; PKCS#1 v1.5 is the private-key primitive over
  // DigestInfo ‖ digest (RFC 8017 §9.2), which privateEncrypt with PKCS#1 padding computes.
  if (scheme.kind === 'rsa-pkcs1v15') {
    return privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([Buffer.from(DIGEST_INFO[scheme.hash], 'hex'), digest]));
  }
  // PSS: the EMSA-PSS encoding here, the raw RSA private operation in OpenSSL (src/crypto/pss.ts).
  if (scheme.kind === 'rsa-pss') return pssSignDigest(privateKey, scheme.hash, digest, scheme.saltLength ?? HASH_BYTES[scheme.hash]);
  // ECDSA: the nonce point in OpenSSL, the blinded scalar arithmetic in src/crypto/ecdsa-prehash.ts.
  return ecdsaSignDigest(privateKey, digest);
}

/** Verify a signature; false for a bad signature (never throws for one). */
export function verifyWith(publicKey: KeyObject, scheme: SignatureScheme, input: SignInput, signature: Uint8Array): boolean {
  const pub = publicKey.type === 'private' ? createPublicKey(publicKey) : publicKey;
  try {
    if (scheme.kind === 'ed25519') {
      if (!('data' in input)) throw new AsymmetricError('UNSUPPORTED', 'Ed25519 verifies the message itself, not a digest');
      return nodeVerify(null, input.data, pub, signature);
    }
    if ('data' in input) return nodeVerify(scheme.hash, input.data, rsaOptions(pub, scheme, true), signature);
    checkDigest(scheme, input.digest);
    if (scheme.kind === 'rsa-pkcs1v15') {
      const expected = Buffer.concat([Buffer.from(DIGEST_INFO[scheme.hash], 'hex'), input.digest]);
      let recovered: Buffer;
      try {
        recovered = publicDecrypt({ key: pub, padding: constants.RSA_PKCS1_PADDING }, signature);
      } catch {
        return false;
      }
      return recovered.equals(expected);
    }
    if (scheme.kind === 'rsa-pss') return pssVerifyDigest(pub, scheme.hash, input.digest, signature, scheme.saltLength);
    return ecdsaVerifyDigest(pub, input.digest, signature);
  } catch (e) {
    if (e instanceof AsymmetricError) throw e;
    // OpenSSL reports malformed signatures (wrong length, bad DER) as errors: they are invalid.
    return false;
  }
}
