/**
 * Re-key Key Pair. KMIP 1.4 §4.5 (Tables 176-179), KMIP 2.1 §6.1.47 (Tables 308-311).
 * Generates a replacement for an existing key pair (named by its Private Key, or the ID
 * Placeholder): the same algorithm and length (or what the request's Common/Private/Public
 * attributes say), attributes copied from the existing keys (keys-and-certificates/replacement.ts), the existing keys'
 * Names moved to the new ones, Offset dates, Links Public Key / Private Key between the new keys,
 * Replaced Object on the new keys and Replacement Object on the existing ones. The four records are
 * written in one atomic commit. The ID Placeholder becomes the new private key's uid.
 *
 * Result Reasons:
 * - Item Not Found (1.x) / Object Not Found (2.x); Object Archived.
 * - Invalid Object Type (2.x) / Illegal Operation (1.x): not a Private Key, or it has no linked
 *   Public Key.
 * - Wrong Key Lifecycle State (2.x) / Permission Denied (1.x): a destroyed key pair.
 * - As Create Key Pair: policy and attribute refusals, Cryptographic Failure.
 */
import { LinkType, ObjectType, Operation } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, payload, readPayload } from '../../kmip/payload.js';
import type { ObjectRecord } from '../../objects/managed-object.js';
import type { OperationContext, OperationHandler } from '../context.js';
import { checkNamesUnique, normalizeUsageLimits } from '../service/new-objects.js';
import { isMetadataOnly } from '../../objects/object-body.js';
import { addLink, choosePair, commitAll, newRecord } from './key-pairs.js';
import { pairAttributes, pairObjects, privateRecord } from './create-key-pair.js';
import { keyCustody } from '../key-custody.js';
import { stampGenerated } from '../../objects/server-set.js';
import { offsetOf, replacedRecord, replacementAttributes } from './replacement.js';
import { is2x, versionReason } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { linkedUid } from '../../objects/typed-attributes.js';
import { isDestroyed } from '../../objects/lifecycle.js';
import { keyValueNotPresent, loadManaged, resolveUid } from '../service/object-service.js';

const Request1x = {
  uid: optional(Tag.PrivateKeyUniqueIdentifier, 'TextString'),
  offset: optional(Tag.Offset, 'Interval'),
  common: optional(Tag.CommonTemplateAttribute, 'Structure'),
  private: optional(Tag.PrivateKeyTemplateAttribute, 'Structure'),
  public: optional(Tag.PublicKeyTemplateAttribute, 'Structure'),
};
const Request2x = {
  uid: optional(Tag.PrivateKeyUniqueIdentifier, 'TextString'),
  offset: optional(Tag.Offset, 'Interval'),
  common: optional(Tag.CommonAttributes, 'Structure'),
  private: optional(Tag.PrivateKeyAttributes, 'Structure'),
  public: optional(Tag.PublicKeyAttributes, 'Structure'),
  commonMasks: optional(Tag.CommonProtectionStorageMasks, 'Structure'),
  privateMasks: optional(Tag.PrivateProtectionStorageMasks, 'Structure'),
  publicMasks: optional(Tag.PublicProtectionStorageMasks, 'Structure'),
};

function linked(record: ObjectRecord, linkType: number): string | undefined {
  return linkedUid(record.attributes, linkType);
}

async function existingPair(ctx: OperationContext, uid: string) {
  const v = ctx.version;
  const priv = await loadManaged(ctx, uid, 'ReKeyKeyPair');
  const wrongType = versionReason(v, 'ObjectTypeNotUsable');
  if (priv.record.objectType !== ObjectType.PrivateKey) throw new KmipError(wrongType, 'Re-key Key Pair names the Private Key of the pair');
  const pubUid = linked(priv.record, LinkType.PublicKeyLink);
  if (pubUid === undefined) throw new KmipError(wrongType, 'the Private Key has no Public Key link');
  const pub = await loadManaged(ctx, pubUid, 'ReKeyKeyPair');
  if (isDestroyed(priv.state) || isDestroyed(pub.state)) throw new KmipError(versionReason(v, 'WrongKeyLifecycleState'), 'the key pair has been destroyed');
  // The value of a metadata-only key lives elsewhere; a replacement here would not replace it.
  if (isMetadataOnly(priv.record.attributes)) throw keyValueNotPresent(ctx, priv.record.uid);
  return { priv: priv.record, pub: pub.record };
}

export const reKeyKeyPair: OperationHandler = {
  operation: Operation.ReKeyKeyPair,
  name: 'ReKeyKeyPair',
  async handle(ctx, node) {
    const v = ctx.version;
    const req = is2x(v) ? readPayload(node, Request2x, { what: 'Re-key Key Pair request payload' }) : readPayload(node, Request1x, { what: 'Re-key Key Pair request payload' });
    const old = await existingPair(ctx, resolveUid(ctx, req.uid));
    const asked = await pairAttributes(ctx, req.common, req.private, req.public, 'ReKeyKeyPair');
    const dates = ['ActivationDate', 'DeactivationDate'];
    const offset = offsetOf(req.offset);
    const opts = { now: ctx.now, dates, ...(offset !== undefined && { offset }) };
    const priv = replacementAttributes(old.priv.attributes, asked.priv, opts);
    const pub = replacementAttributes(old.pub.attributes, asked.pub, opts);
    const choice = choosePair(ctx, priv, pub);
    normalizeUsageLimits(priv, v);
    normalizeUsageLimits(pub, v);
    stampGenerated(priv, ctx.now);
    stampGenerated(pub, ctx.now);
    // Names the request gives must be free; the moved Names are the existing keys' own.
    for (const a of [asked.priv, asked.pub]) if (a.has('Name')) await checkNamesUnique(ctx, new Map([['Name', a.get('Name')!]]), 'ReKeyKeyPair');

    // Where the new private key lives (src/custody/): a resident pair is replaced by a resident
    // pair; otherwise as for Create Key Pair.
    const refusal = versionReason(v, 'InvalidAttributeValue');
    const custody = keyCustody(ctx).forPair({ attributes: priv, replacesResident: keyCustody(ctx).of(old.priv).kind === 'hsm', refusal }, choice.spec);
    const objs = await pairObjects(custody, choice, priv, pub);
    addLink(objs.privateKey.attributes, LinkType.ReplacedObjectLink, old.priv.uid);
    addLink(objs.publicKey.attributes, LinkType.ReplacedObjectLink, old.pub.uid);
    ctx.work.onUndo(() => objs.made.discard());
    await commitAll(
      ctx,
      [await privateRecord(ctx, objs), await newRecord(ctx, objs.publicKey)],
      [
        { record: replacedRecord(old.priv, objs.privateKey.uid, ctx.now), previous: old.priv },
        { record: replacedRecord(old.pub, objs.publicKey.uid, ctx.now), previous: old.pub },
      ],
    );
    ctx.log.debug({ replaced: old.priv.uid, privateKey: objs.privateKey.uid, publicKey: objs.publicKey.uid }, 'key pair re-keyed');
    ctx.batch.idPlaceholder = objs.privateKey.uid;
    return payload(Tag.ResponsePayload, [item('PrivateKeyUniqueIdentifier', objs.privateKey.uid), item('PublicKeyUniqueIdentifier', objs.publicKey.uid)]);
  },
};
