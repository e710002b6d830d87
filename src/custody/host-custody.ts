/**
 * Host-sealed custody: the key value is generated in the host (node:crypto, the platform
 * CSPRNG), stored in the object's content sealed under the key protector, and used in process
 * by src/crypto. Nothing lives outside the record, so discarding or destroying leaves nothing
 * behind; `wipe` zeroes the generated secret once it has been sealed.
 */
import { ResultReason } from '../kmip/generated/enums.gen.js';
import { KmipError } from '../kmip/errors.js';
import { rawKeyDigest, symmetricKeyBody } from '../objects/object-body.js';
import { asymmetricKeyBody } from '../objects/key-formats.js';
import type { ObjectRecord } from '../objects/managed-object.js';
import { generateSymmetricKey } from '../crypto/tdes-key.js';
import { generateAsymmetricPair, signWith, verifyWith } from '../crypto/asymmetric.js';
import { openMac, openSymmetricCipher, rsaDecrypt, rsaEncrypt } from '../crypto/mechanism.js';
import { CryptoError } from '../crypto/errors.js';
import type { HostKey, KeyCustody, MadePair, MadeSecret, OpenOptions, PairSpec, SecretSpec, UsableKey } from './key-custody.js';

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new CryptoError('BAD_PARAMETERS', `the key has no ${what}`);
  return v;
}

export function hostUsableKey(record: ObjectRecord, key: HostKey): UsableKey {
  return {
    custody: 'host',
    record,
    objectType: record.objectType,
    algorithm: key.algorithm,
    ...(key.keyObject && { asymmetric: key.keyObject }),
    host: key,
    openCipher: (params, dir, input, policy) => openSymmetricCipher(need(key.algorithm, 'Cryptographic Algorithm'), need(key.material, 'symmetric key value'), params, dir, input, policy),
    rsa: async (dir, params, data, policy) => {
      const k = need(key.keyObject, 'RSA key');
      return dir === 'encrypt' ? rsaEncrypt(k, params, data, policy) : rsaDecrypt(k, params, data, policy);
    },
    openMac: (params) => openMac(key.algorithm, need(key.material, 'MAC key value'), params),
    sign: async (scheme, input) => signWith(need(key.keyObject, 'private key'), scheme, input),
    verify: (scheme, input, signature) => verifyWith(need(key.keyObject, 'public key'), scheme, input, signature),
  };
}

export const hostCustody: KeyCustody = {
  kind: 'host',

  async generate(spec: SecretSpec): Promise<MadeSecret> {
    const key = generateSymmetricKey(spec.algorithm, spec.bits);
    return {
      body: symmetricKeyBody(key, spec.algorithm, spec.bits),
      stamp: (attrs) => void attrs.set('Digest', [rawKeyDigest(key)]),
      discard: async () => undefined,
      wipe: () => void key.fill(0),
    };
  },

  async generatePair(spec: PairSpec): Promise<MadePair> {
    let keys;
    try {
      keys = await generateAsymmetricPair(spec.spec);
    } catch (e) {
      throw new KmipError(ResultReason.CryptographicFailure, 'key pair generation failed', { cause: e });
    }
    return {
      privateBody: asymmetricKeyBody(keys.privateKey, spec.algorithm, spec.bits),
      publicBody: asymmetricKeyBody(keys.publicKey, spec.algorithm, spec.bits),
      stamp: () => undefined,
      discard: async () => undefined,
    };
  },

  async open(record: ObjectRecord, opts: OpenOptions): Promise<UsableKey> {
    return hostUsableKey(record, await opts.host());
  },

  async destroy(): Promise<void> {},
};
