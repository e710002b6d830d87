/**
 * Sign with an HSM-resident private key (issue 4 item 3). The digest is computed here (or is the
 * client's Digested Data, length-checked), and the token signs it: RSA PKCS#1 v1.5 (CKM_RSA_PKCS
 * over DigestInfo), RSA-PSS (CKM_RSA_PKCS_PSS, MGF1 with the same hash, salt length as asked,
 * else the hash length, as in the host), ECDSA (CKM_ECDSA; its r ‖ s becomes the DER SEQUENCE
 * node:crypto produces, RFC 3279). SHA-1 and Ed25519 are not signed in the HSM: Unsupported
 * Cryptographic Parameters (2.x) / Invalid Field (1.x). A token failure is Cryptographic Failure.
 */
import { createHash } from 'node:crypto';
import { ResultReason } from '../../kmip/generated/enums.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { AsymmetricError, checkDigest, HASH_BYTES, type SignatureScheme, type SignInput } from '../../crypto/asymmetric.js';
import { encodeSig } from '../../crypto/ecdsa-prehash.js';
import { HsmError, type AsymmetricSignParams, type DigestHash } from '../../hsm/key-backend.js';
import type { OperationContext } from '../context.js';
import type { ResidentSigningKey } from './signing-keys.js';
import { versionReason } from '../../kmip/version-rules.js';

const HSM_HASHES: readonly string[] = ['sha224', 'sha256', 'sha384', 'sha512'] satisfies DigestHash[];

export async function signInHsm(ctx: OperationContext, hsm: ResidentSigningKey, scheme: SignatureScheme, input: SignInput): Promise<Uint8Array> {
  const unsupported = (m: string): never => {
    throw new KmipError(versionReason(ctx.version, 'UnsupportedCryptographicParameters'), m);
  };
  if (scheme.kind === 'ed25519') return unsupported('Ed25519 keys are not HSM-resident');
  if (!HSM_HASHES.includes(scheme.hash)) return unsupported(`${scheme.hash} signatures are not made with HSM-resident keys`);
  const hash = scheme.hash as DigestHash;
  let digest: Uint8Array;
  if ('digest' in input) {
    try {
      checkDigest(scheme, input.digest);
    } catch (e) {
      if (e instanceof AsymmetricError) throw new KmipError(versionReason(ctx.version, 'BadCryptographicParameters'), e.message);
      throw e;
    }
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
    out = await hsm.backend.signDigest(params, hsm.key, digest);
  } catch (e) {
    if (e instanceof HsmError && (e.code === 'BAD_ARGUMENT' || e.code === 'NOT_SUPPORTED')) {
      throw new KmipError(versionReason(ctx.version, 'BadCryptographicParameters'), e.message);
    }
    throw new KmipError(ResultReason.CryptographicFailure, 'the HSM could not sign', { cause: e });
  }
  if (params.mechanism !== 'ECDSA') return out;
  const half = out.length / 2;
  const big = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);
  return encodeSig(big(out.subarray(0, half)), big(out.subarray(half)));
}
