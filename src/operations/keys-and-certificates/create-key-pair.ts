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
 * private key's uid. Stored forms: objects/key-formats.ts. Where the private key lives is the
 * key-custody seam's choice (src/custody/): with a PKCS#11 backend, a private key asked to be
 * non-Extractable (or every one under hsm.residentKeys = always) is generated in the HSM and stays
 * there (RSA 2048/3072/4096, EC P-256/P-384; no Digest, Extractable false); its public key is an
 * ordinary Public Key object.
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
import { LinkType, ObjectType, Operation } from '../../kmip/generated/enums.gen.js';
import type { KeyCustody } from '../../custody/index.js';
import { keyCustody } from '../key-custody.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { optional, payload, readPayload } from '../../kmip/payload.js';
import type { OperationContext, OperationHandler } from '../context.js';
import { checkNamesUnique, newObjectAttributes, normalizeUsageLimits } from '../service/new-objects.js';
import { addLink, choosePair, commitAll, defaultMasks, keyDigest, mergedSource, newRecord, newUid, type PairChoice } from './key-pairs.js';
import type { AttributeKey } from '../../objects/managed-object.js';
import { stampGenerated, stampKeyFormatType } from '../../objects/server-set.js';
import type { TtlvNode } from '../../ttlv/node.js';
import { is2x, versionReason } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { attribute } from '../../objects/typed-attributes.js';

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
export async function pairAttributes(
  ctx: OperationContext,
  common: TtlvNode | undefined,
  priv: TtlvNode | undefined,
  pub: TtlvNode | undefined,
  operation: string,
): Promise<{ priv: AttrMap; pub: AttrMap }> {
  const src = (specific: TtlvNode | undefined) => {
    const merged = mergedSource(ctx, common, specific);
    return is2x(ctx.version) ? { attributes: merged } : { templateAttribute: merged };
  };
  return {
    priv: await newObjectAttributes(ctx, ObjectType.PrivateKey, src(priv), operation),
    pub: await newObjectAttributes(ctx, ObjectType.PublicKey, src(pub), operation),
  };
}

/**
 * Make a key pair under `choice` where `custody` keeps it, and build both new objects (uids,
 * Links, algorithm/length, Digest, Key Format Type) around it. Shared with Re-key Key Pair; the
 * caller stages the records (the private one with `made.hsmKey`) and puts `made.discard` in the
 * unit of work's undo journal.
 */
export async function pairObjects(custody: KeyCustody, choice: PairChoice, priv: AttrMap, pub: AttrMap) {
  const privUid = newUid();
  const pubUid = newUid();
  const made = await custody.generatePair({
    privateUid: privUid,
    algorithm: choice.algorithm,
    bits: choice.bits,
    spec: choice.spec,
    usageMask: attribute(priv, 'CryptographicUsageMask') ?? 0,
  });
  for (const [m, body] of [
    [priv, made.privateBody],
    [pub, made.publicBody],
  ] as const) {
    m.set('CryptographicAlgorithm', [item('CryptographicAlgorithm', choice.algorithm)]);
    m.set('CryptographicLength', [item('CryptographicLength', choice.bits)]);
    const d = keyDigest(body);
    if (d) m.set('Digest', [d]);
    stampKeyFormatType(m, body);
  }
  made.stamp(priv);
  addLink(priv, LinkType.PublicKeyLink, pubUid);
  addLink(pub, LinkType.PrivateKeyLink, privUid);
  return {
    privateKey: { uid: privUid, objectType: ObjectType.PrivateKey, attributes: priv, body: made.privateBody },
    publicKey: { uid: pubUid, objectType: ObjectType.PublicKey, attributes: pub, body: made.publicBody },
    made,
  };
}

/** The private key's record, referring to its token key when it lives in the HSM. */
export async function privateRecord(ctx: OperationContext, objs: Awaited<ReturnType<typeof pairObjects>>) {
  const r = await newRecord(ctx, objs.privateKey);
  return objs.made.hsmKey !== undefined ? { ...r, hsmKey: objs.made.hsmKey } : r;
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

    // Where the private key lives (src/custody/): in the HSM when the residency policy and its
    // Extractable ask for it and the token holds the pair, else in the host, sealed.
    const custody = keyCustody(ctx).forPair({ attributes: priv, refusal: versionReason(v, 'InvalidAttributeValue') }, choice.spec);
    const objs = await pairObjects(custody, choice, priv, pub);
    // A token key made for an item whose commit fails (or that fails later) is removed: the unit of work's undo journal.
    ctx.work.onUndo(() => objs.made.discard());
    await commitAll(ctx, [await privateRecord(ctx, objs), await newRecord(ctx, objs.publicKey)]);
    ctx.log.debug({ privateKey: objs.privateKey.uid, publicKey: objs.publicKey.uid, algorithm: choice.algorithm, bits: choice.bits }, 'key pair stored');
    ctx.batch.idPlaceholder = objs.privateKey.uid;
    return payload(Tag.ResponsePayload, [item('PrivateKeyUniqueIdentifier', objs.privateKey.uid), item('PublicKeyUniqueIdentifier', objs.publicKey.uid)]);
  },
};
