/**
 * Signatures with an HSM-resident private key. The digest is computed in the host (or is the
 * client's Digested Data, length-checked), and the token signs it: RSA PKCS#1 v1.5 (CKM_RSA_PKCS
 * over DigestInfo), RSA-PSS (CKM_RSA_PKCS_PSS, MGF1 with the same hash, salt length as asked,
 * else the hash length, as in the host), ECDSA (CKM_ECDSA; its r ‖ s becomes the DER SEQUENCE
 * node:crypto produces, RFC 3279). Failures are the host signer's errors (crypto/asymmetric.ts),
 * so an operation maps both custodies' refusals alike: SHA-1 and Ed25519 are not signed in the
 * HSM (AsymmetricError UNSUPPORTED: Unsupported Cryptographic Parameters in 2.x, Invalid Field
 * in 1.x); a digest or parameters the token refuses are KEY_MISMATCH / DIGEST_LENGTH (Bad
 * Cryptographic Parameters); any other token failure is a plain Error (Cryptographic Failure).
 */
import { createHash } from 'node:crypto';
import { AsymmetricError, checkDigest, HASH_BYTES, type SignatureScheme, type SignInput } from '../crypto/asymmetric.js';
import { encodeSig } from '../crypto/ecdsa-prehash.js';
import { HsmError, type AsymmetricSignParams, type DigestHash, type KeyBackend, type KeyRef } from '../hsm/key-backend.js';

const HSM_HASHES: readonly string[] = ['sha224', 'sha256', 'sha384', 'sha512'] satisfies DigestHash[];

export async function signInHsm(backend: KeyBackend, key: KeyRef, scheme: SignatureScheme, input: SignInput): Promise<Uint8Array> {
  if (scheme.kind === 'ed25519') throw new AsymmetricError('UNSUPPORTED', 'Ed25519 keys are not HSM-resident');
  if (!HSM_HASHES.includes(scheme.hash)) throw new AsymmetricError('UNSUPPORTED', `${scheme.hash} signatures are not made with HSM-resident keys`);
  const hash = scheme.hash as DigestHash;
  let digest: Uint8Array;
  if ('digest' in input) {
    checkDigest(scheme, input.digest);
    digest = input.digest;
  } else {
    digest = createHash(hash).update(input.data).digest();
  }
  const params: AsymmetricSignParams =
    scheme.kind === 'rsa-pkcs1v15'
      ? { mechanism: 'RSA_PKCS1', hash }
      : scheme.kind === 'rsa-pss'
        ? { mechanism: 'RSA_PSS', hash, saltLength: scheme.saltLength ?? HASH_BYTES[hash] }
        : { mechanism: 'ECDSA' };
  let out: Uint8Array;
  try {
    out = await backend.signDigest(params, key, digest);
  } catch (e) {
    if (e instanceof HsmError && (e.code === 'BAD_ARGUMENT' || e.code === 'NOT_SUPPORTED')) throw new AsymmetricError('KEY_MISMATCH', e.message);
    throw new Error('the HSM could not sign', { cause: e });
  }
  if (params.mechanism !== 'ECDSA') return out;
  const half = out.length / 2;
  const big = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);
  return encodeSig(big(out.subarray(0, half)), big(out.subarray(half)));
}
