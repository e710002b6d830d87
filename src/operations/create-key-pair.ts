/**
 * Create Key Pair. KMIP 1.4 §4.2 (Tables 166-168), KMIP 2.1 §6.1.9 (Tables 189-191).
 * Generates an RSA (2048/3072/4096), EC (P-256/P-384/P-521, by Cryptographic Domain Parameters'
 * Recommended Curve or by Cryptographic Length) or Ed25519 key pair with node:crypto, and registers
 * a Private Key and a Public Key. Attributes: 1.x Common/Private/Public Key Template-Attribute,
 * 2.x Common/Private/Public Key Attributes — the specific set takes precedence over the common one
 * for single-valued attributes, multi-valued ones are the union (Protection Storage Masks accepted
 * and ignored). The server sets Cryptographic Algorithm/Length on both, a Cryptographic Usage Mask
 * when none is given (Sign / Verify), Link Public Key on the private key and Link Private Key on the
 * public key, Digest, Original Creation Date, Random Number Generator, Key Format Type, and the
 * lifecycle dates; both records are written in one atomic commit. The ID Placeholder becomes the
 * private key's uid. Stored forms: objects/key-formats.ts. With a PKCS#11 backend, a private key
 * asked to be non-Extractable (or every one under hsm.residentKeys = always) is generated in the
 * HSM and stays there: createResidentPair.
 *
 * Result Reasons:
 * - Missing Data: no Cryptographic Algorithm.
 * - Invalid Field (1.x) / Invalid Attribute Value (2.x): the two keys disagree on algorithm, length
 *   or domain parameters; an algorithm, length or curve the policy refuses (RSA below 2048 bits;
 *   the message names the policy, src/policy/crypto-policy.ts).
 * - Attribute rules (objects/attributes.ts) and Name uniqueness as in Create; Item Not Found /
 *   Object Archived for a 1.x Template name.
 * - Cryptographic Failure: the generator failed.
 * - Invalid Field: a payload that breaks its schema.
 */
import { createPublicKey } from 'node:crypto';
import { CryptographicUsageMask } from '../kmip/generated/masks.gen.js';
import { KeyFormatType, LinkType, ObjectType, Operation, ResultReason } from '../kmip/generated/enums.gen.js';
import { encodePairRef, RESIDENT_LABEL_PREFIX, residentPairTemplate, wantsResident } from '../hsm/resident.js';
import type { KeyPairTemplate, KeyRef } from '../hsm/key-backend.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { KmipError } from '../kmip/errors.js';
import { optional, payload, readPayload } from '../kmip/payload.js';
import { generateAsymmetricPair, type GeneratedPair } from '../crypto/asymmetric.js';
import { asymmetricKeyBody } from '../objects/key-formats.js';
import type { OperationContext, OperationHandler } from './context.js';
import { byVersion, checkNamesUnique, is2x, newObjectAttributes, normalizeUsageLimits } from './object-support.js';
import { addLink, choosePair, commitAll, defaultMasks, keyDigest, mergedSource, newRecord, newUid, type PairChoice } from './asymmetric-support.js';
import type { AttributeKey } from '../objects/managed-object.js';
import { stampGenerated, stampKeyFormatType } from '../objects/server-set.js';
import type { TtlvNode } from '../ttlv/node.js';

const Request1x = {
  common: optional(Tag.CommonTemplateAttribute, 'Structure'),
  private: optional(Tag.PrivateKeyTemplateAttribute, 'Structure'),
  public: optional(Tag.PublicKeyTemplateAttribute, 'Structure'),
};
const Request2x = {
  common: optional(Tag.CommonAttributes, 'Structure'),
  private: optional(Tag.PrivateKeyAttributes, 'Structure'),
  public: optional(Tag.PublicKeyAttributes, 'Structure'),
  commonMasks: optional(Tag.CommonProtectionStorageMasks, 'Structure'),
  privateMasks: optional(Tag.PrivateProtectionStorageMasks, 'Structure'),
  publicMasks: optional(Tag.PublicProtectionStorageMasks, 'Structure'),
};

export type AttrMap = Map<AttributeKey, TtlvNode[]>;

/** Read both objects' attributes from the three sets (shared with Re-key Key Pair). */
export async function pairAttributes(ctx: OperationContext, common: TtlvNode | undefined, priv: TtlvNode | undefined, pub: TtlvNode | undefined, operation: string): Promise<{ priv: AttrMap; pub: AttrMap }> {
  const src = (specific: TtlvNode | undefined) => {
    const merged = mergedSource(ctx, common, specific);
    return is2x(ctx.version) ? { attributes: merged } : { templateAttribute: merged };
  };
  return {
    priv: await newObjectAttributes(ctx, ObjectType.PrivateKey, src(priv), operation),
    pub: await newObjectAttributes(ctx, ObjectType.PublicKey, src(pub), operation),
  };
}

/** Generate under `choice`; a generator failure is a Cryptographic Failure. */
export async function generatePair(choice: PairChoice): Promise<GeneratedPair> {
  try {
    return await generateAsymmetricPair(choice.spec);
  } catch (e) {
    throw new KmipError(ResultReason.CryptographicFailure, 'key pair generation failed', { cause: e });
  }
}

/** Build both new objects (uids, Links, algorithm/length, Digest) from generated keys. */
export function pairObjects(choice: PairChoice, keys: GeneratedPair, priv: AttrMap, pub: AttrMap) {
  const privUid = newUid();
  const pubUid = newUid();
  const privBody = asymmetricKeyBody(keys.privateKey, choice.algorithm, choice.bits);
  const pubBody = asymmetricKeyBody(keys.publicKey, choice.algorithm, choice.bits);
  for (const [m, body] of [
    [priv, privBody],
    [pub, pubBody],
  ] as const) {
    m.set('CryptographicAlgorithm', [{ tag: Tag.CryptographicAlgorithm, type: 'Enumeration', value: choice.algorithm }]);
    m.set('CryptographicLength', [{ tag: Tag.CryptographicLength, type: 'Integer', value: choice.bits }]);
    const d = keyDigest(body);
    if (d) m.set('Digest', [d]);
    stampKeyFormatType(m, body);
  }
  addLink(priv, LinkType.PublicKeyLink, pubUid);
  addLink(pub, LinkType.PrivateKeyLink, privUid);
  return {
    privateKey: { uid: privUid, objectType: ObjectType.PrivateKey, attributes: priv, body: privBody },
    publicKey: { uid: pubUid, objectType: ObjectType.PublicKey, attributes: pub, body: pubBody },
  };
}

export const createKeyPair: OperationHandler = {
  operation: Operation.CreateKeyPair,
  name: 'CreateKeyPair',
  async handle(ctx, node) {
    const v = ctx.version;
    const req = is2x(v) ? readPayload(node, Request2x, { what: 'Create Key Pair request payload' }) : readPayload(node, Request1x, { what: 'Create Key Pair request payload' });
    const { priv, pub } = await pairAttributes(ctx, req.common, req.private, req.public, 'CreateKeyPair');
    const choice = choosePair(ctx, priv, pub);
    defaultMasks(priv, pub);
    normalizeUsageLimits(priv, v);
    normalizeUsageLimits(pub, v);
    stampGenerated(priv, ctx.now);
    stampGenerated(pub, ctx.now);
    await checkNamesUnique(ctx, priv, 'CreateKeyPair');
    await checkNamesUnique(ctx, pub, 'CreateKeyPair');
    // The two keys of one pair may carry the same Name: a Name in the Common set (PyKMIP 0.10's
    // own create_key_pair demo sends it there and in both specific sets; the spec calls Name "not
    // common to both keys" but does not forbid it) names both, as the PyKMIP reference server does, so a
    // Locate by Name and Object Type finds either key. Against every other object the Name stays
    // unique (checked above). See docs/tolerance.md T1.

    const resident = ctx.services.resident;
    if (resident && wantsResident(resident, priv)) {
      const t = residentPairTemplate(resident, choice.spec);
      if ('template' in t) return createResidentPair(ctx, t.template, choice, priv, pub);
      if (resident.policy === 'always') throw new KmipError(byVersion(v, ResultReason.InvalidField, ResultReason.InvalidAttributeValue), `${t.why} (the server keeps every key in the HSM)`);
      // requested: the HSM cannot hold it; the pair is made in the host and the private key still never returned (Extractable false).
    }
    const keys = await generatePair(choice);
    const objs = pairObjects(choice, keys, priv, pub);
    await commitAll(ctx, [await newRecord(ctx, objs.privateKey), await newRecord(ctx, objs.publicKey)]);
    ctx.log.debug({ privateKey: objs.privateKey.uid, publicKey: objs.publicKey.uid, algorithm: choice.algorithm, bits: choice.bits }, 'key pair stored');
    ctx.batch.idPlaceholder = objs.privateKey.uid;
    return payload(Tag.ResponsePayload, [
      { tag: Tag.PrivateKeyUniqueIdentifier, type: 'TextString', value: objs.privateKey.uid },
      { tag: Tag.PublicKeyUniqueIdentifier, type: 'TextString', value: objs.publicKey.uid },
    ]);
  },
};

/**
 * An HSM-resident private key (issue 4 item 3): the pair is generated in the token, the private
 * key a sensitive, non-extractable token object labelled kms-obj-<uid>; the Private Key record
 * holds its reference (with the public key, for choosing signature schemes) and a Key Block
 * without Key Value; Extractable false, Never Extractable true, no Digest. The public key is read
 * out of the token and stored as an ordinary Public Key. Shared with Re-key Key Pair.
 */
export async function residentPairObjects(ctx: OperationContext, template: KeyPairTemplate, choice: PairChoice, priv: AttrMap, pub: AttrMap) {
  const resident = ctx.services.resident!;
  const privUid = newUid();
  const pubUid = newUid();
  let generated: { privateKey: KeyRef; publicKey: Uint8Array };
  try {
    generated = await resident.backend.generateKeyPair({ ...template, usage: residentUsage(template, priv), label: RESIDENT_LABEL_PREFIX + privUid });
  } catch (e) {
    throw new KmipError(ResultReason.CryptographicFailure, 'key pair generation in the HSM failed', { cause: e });
  }
  const ref = generated.privateKey;
  // Undo journal: a failed commit (or item) removes the token key.
  ctx.work.onUndo(() => resident.backend.destroyKey(ref).catch((err: unknown) => ctx.log.error({ uid: privUid, err }, 'could not remove the token key of a failed key pair commit')));
  const pubBody = asymmetricKeyBody(createPublicKey({ key: Buffer.from(generated.publicKey), format: 'der', type: 'spki' }), choice.algorithm, choice.bits);
  for (const m of [priv, pub]) {
    m.set('CryptographicAlgorithm', [{ tag: Tag.CryptographicAlgorithm, type: 'Enumeration', value: choice.algorithm }]);
    m.set('CryptographicLength', [{ tag: Tag.CryptographicLength, type: 'Integer', value: choice.bits }]);
  }
  const d = keyDigest(pubBody);
  if (d) pub.set('Digest', [d]);
  priv.delete('Digest');
  priv.set('Extractable', [{ tag: Tag.Extractable, type: 'Boolean', value: false }]);
  priv.set('NeverExtractable', [{ tag: Tag.NeverExtractable, type: 'Boolean', value: true }]);
  addLink(priv, LinkType.PublicKeyLink, pubUid);
  addLink(pub, LinkType.PrivateKeyLink, privUid);
  return {
    privateKey: { uid: privUid, objectType: ObjectType.PrivateKey, attributes: priv, body: residentPrivateBody(choice.algorithm, choice.bits) },
    publicKey: { uid: pubUid, objectType: ObjectType.PublicKey, attributes: pub, body: pubBody },
    hsmKey: encodePairRef(ref, generated.publicKey),
    ref,
  };
}

/** The token key's usage from the Cryptographic Usage Mask: Sign; Decrypt or Unwrap Key (RSA) adds decryption. */
function residentUsage(template: KeyPairTemplate, priv: AttrMap): ('sign' | 'decrypt')[] {
  const m = priv.get('CryptographicUsageMask')?.[0];
  const mask = m?.type === 'Integer' ? m.value : 0;
  const decrypt = template.type === 'RSA' && (mask & (CryptographicUsageMask.Decrypt | CryptographicUsageMask.UnwrapKey)) !== 0;
  return decrypt ? ['sign', 'decrypt'] : ['sign'];
}

async function createResidentPair(ctx: OperationContext, template: KeyPairTemplate, choice: PairChoice, priv: AttrMap, pub: AttrMap) {
  const objs = await residentPairObjects(ctx, template, choice, priv, pub);
  await commitAll(ctx, [{ ...(await newRecord(ctx, objs.privateKey)), hsmKey: objs.hsmKey }, await newRecord(ctx, objs.publicKey)]);
  ctx.work.afterCommit(() => ctx.log.info({ privateKey: objs.privateKey.uid, publicKey: objs.publicKey.uid, hsmKeyId: objs.ref.id, algorithm: choice.algorithm, bits: choice.bits }, 'HSM-resident key pair created'));
  ctx.batch.idPlaceholder = objs.privateKey.uid;
  return payload(Tag.ResponsePayload, [
    { tag: Tag.PrivateKeyUniqueIdentifier, type: 'TextString', value: objs.privateKey.uid },
    { tag: Tag.PublicKeyUniqueIdentifier, type: 'TextString', value: objs.publicKey.uid },
  ]);
}

/** A Private Key body whose Key Block says what the key is, with no Key Value (the key is in the HSM). */
function residentPrivateBody(algorithm: number, bits: number) {
  return {
    tag: Tag.PrivateKey,
    type: 'Structure' as const,
    value: [
      {
        tag: Tag.KeyBlock,
        type: 'Structure' as const,
        value: [
          { tag: Tag.KeyFormatType, type: 'Enumeration' as const, value: KeyFormatType.PKCS_8 },
          { tag: Tag.CryptographicAlgorithm, type: 'Enumeration' as const, value: algorithm },
          { tag: Tag.CryptographicLength, type: 'Integer' as const, value: bits },
        ],
      },
    ],
  };
}
