/**
 * HSM-resident custody: the key is generated in the token (sensitive, non-extractable, label
 * kms-obj-<uid>) and never leaves it; the record holds its reference (`hsmKey`, hsm/resident.ts)
 * and a Key Block without Key Value that says what the key is. Secret keys encrypt, decrypt and
 * MAC in the token (hsm-mechanism.ts); private keys sign there (hsm-signature.ts) and, RSA with
 * Decrypt or Unwrap Key in their usage mask, decrypt RSA-OAEP there. A private key's record also
 * keeps its public key, which chooses signature schemes and verifies in the host.
 * A failed commit destroys the new token key (`discard`); Destroy removes it (`destroy`).
 */
import { createPublicKey } from 'node:crypto';
import { KeyFormatType, ResultReason } from '../kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../kmip/generated/masks.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { KmipError } from '../kmip/errors.js';
import type { StructureNode } from '../ttlv/node.js';
import { symmetricKeyBody } from '../objects/object-body.js';
import { asymmetricKeyBody } from '../objects/key-formats.js';
import type { ObjectRecord } from '../objects/managed-object.js';
import { verifyWith } from '../crypto/asymmetric.js';
import { CryptoError } from '../crypto/errors.js';
import type { KeyPairTemplate, KeyRef } from '../hsm/key-backend.js';
import { decodeKeyRef, encodeKeyRef, encodePairRef, RESIDENT_LABEL_PREFIX, residentPublicKey, type ResidentKeys } from '../hsm/resident.js';
import { hsmRsaDecrypt, openHsmCipher, openHsmMac } from './hsm-mechanism.js';
import { signInHsm } from './hsm-signature.js';
import { residentPairTemplate, residentTemplate } from './residency.js';
import type { AttrMap, KeyCustody, MadePair, MadeSecret, OpenOptions, PairSpec, SecretSpec, UsableKey } from './key-custody.js';

/** Told when a token key could not be removed (the operator removes it by hand). */
export interface CustodyLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

function markResident(attrs: AttrMap): void {
  attrs.set('Extractable', [{ tag: Tag.Extractable, type: 'Boolean', value: false }]);
  attrs.set('NeverExtractable', [{ tag: Tag.NeverExtractable, type: 'Boolean', value: true }]);
  attrs.delete('Digest');
}

/** The token key's usage from the Cryptographic Usage Mask: Sign; Decrypt or Unwrap Key (RSA) adds decryption. */
function pairUsage(template: KeyPairTemplate, mask: number): ('sign' | 'decrypt')[] {
  const decrypt = template.type === 'RSA' && (mask & (CryptographicUsageMask.Decrypt | CryptographicUsageMask.UnwrapKey)) !== 0;
  return decrypt ? ['sign', 'decrypt'] : ['sign'];
}

/** A Private Key body whose Key Block says what the key is, with no Key Value (the key is in the HSM). */
function residentPrivateBody(algorithm: number, bits: number): StructureNode {
  return {
    tag: Tag.PrivateKey,
    type: 'Structure',
    value: [
      {
        tag: Tag.KeyBlock,
        type: 'Structure',
        value: [
          { tag: Tag.KeyFormatType, type: 'Enumeration', value: KeyFormatType.PKCS_8 },
          { tag: Tag.CryptographicAlgorithm, type: 'Enumeration', value: algorithm },
          { tag: Tag.CryptographicLength, type: 'Integer', value: bits },
        ],
      },
    ],
  };
}

const int = (n: { type: string; value: unknown } | undefined): number | undefined => (n?.type === 'Integer' || n?.type === 'Enumeration' ? (n.value as number) : undefined);

export class HsmCustody implements KeyCustody {
  readonly kind = 'hsm';
  constructor(
    private readonly resident: ResidentKeys,
    private readonly log: CustodyLog,
  ) {}

  /** Why the token cannot hold this secret key, or undefined when it can. */
  refusesSecret(algorithm: number, bits: number): string | undefined {
    const t = residentTemplate(this.resident, algorithm, bits);
    return 'why' in t ? t.why : undefined;
  }

  /** Why the token cannot hold this key pair, or undefined when it can. */
  refusesPair(spec: PairSpec['spec']): string | undefined {
    const t = residentPairTemplate(this.resident, spec);
    return 'why' in t ? t.why : undefined;
  }

  async generate(spec: SecretSpec): Promise<MadeSecret> {
    const t = residentTemplate(this.resident, spec.algorithm, spec.bits);
    if ('why' in t) throw new KmipError(ResultReason.InvalidAttributeValue, t.why);
    const backend = this.resident.backend;
    const ref = await backend.generateKey({ ...t.template, label: RESIDENT_LABEL_PREFIX + spec.uid });
    this.log.info({ uid: spec.uid, hsmKeyId: ref.id }, 'HSM-resident key created');
    return {
      body: symmetricKeyBody(undefined, spec.algorithm, spec.bits),
      hsmKey: encodeKeyRef(ref),
      stamp: markResident,
      discard: () => this.remove(spec.uid, ref, 'could not remove the token key of a failed Create'),
      wipe: () => undefined,
    };
  }

  async generatePair(spec: PairSpec): Promise<MadePair> {
    const t = residentPairTemplate(this.resident, spec.spec);
    if ('why' in t) throw new KmipError(ResultReason.InvalidAttributeValue, t.why);
    let generated: { privateKey: KeyRef; publicKey: Uint8Array };
    try {
      generated = await this.resident.backend.generateKeyPair({ ...t.template, usage: pairUsage(t.template, spec.usageMask), label: RESIDENT_LABEL_PREFIX + spec.privateUid });
    } catch (e) {
      throw new KmipError(ResultReason.CryptographicFailure, 'key pair generation in the HSM failed', { cause: e });
    }
    const ref = generated.privateKey;
    const pub = createPublicKey({ key: Buffer.from(generated.publicKey), format: 'der', type: 'spki' });
    this.log.info({ privateKey: spec.privateUid, hsmKeyId: ref.id, algorithm: spec.algorithm, bits: spec.bits }, 'HSM-resident key pair created');
    return {
      privateBody: residentPrivateBody(spec.algorithm, spec.bits),
      publicBody: asymmetricKeyBody(pub, spec.algorithm, spec.bits),
      hsmKey: encodePairRef(ref, generated.publicKey),
      stamp: markResident,
      discard: () => this.remove(spec.privateUid, ref, 'could not remove the token key of a failed key pair commit'),
    };
  }

  async open(record: ObjectRecord, _opts: OpenOptions): Promise<UsableKey> {
    const backend = this.resident.backend;
    const ref = decodeKeyRef(record.hsmKey!);
    const pub = residentPublicKey(record.hsmKey!);
    const algorithm = int(record.attributes.get('CryptographicAlgorithm')?.[0]);
    const notHere = (what: string) => new CryptoError('UNSUPPORTED', `${what} is not served for an HSM-resident key`);
    return {
      custody: 'hsm',
      record,
      objectType: record.objectType,
      algorithm,
      ...(pub && { asymmetric: pub }),
      openCipher: (params, dir, input, policy) => {
        if (algorithm === undefined) throw new CryptoError('BAD_PARAMETERS', 'the key has no Cryptographic Algorithm');
        return openHsmCipher(backend, ref, algorithm, params, dir, input, policy);
      },
      rsa: async (dir, params, data, policy) => {
        if (dir === 'encrypt') throw notHere('RSA encryption with a private key');
        return hsmRsaDecrypt(backend, ref, params, data, policy);
      },
      openMac: (params) => openHsmMac(backend, ref, algorithm, params),
      sign: (scheme, input) => signInHsm(backend, ref, scheme, input),
      verify: (scheme, input, signature) => {
        if (!pub) throw notHere('Signature verification');
        return verifyWith(pub, scheme, input, signature);
      },
    };
  }

  async destroy(record: Pick<ObjectRecord, 'uid' | 'hsmKey'>): Promise<void> {
    if (record.hsmKey === undefined) return;
    await this.resident.backend.destroyKey(decodeKeyRef(record.hsmKey));
  }

  private async remove(uid: string, ref: KeyRef, msg: string): Promise<void> {
    await this.resident.backend.destroyKey(ref).catch((err: unknown) => this.log.error({ uid, err }, msg));
  }
}
