/**
 * Re-key. KMIP 1.4 §4.4 (Tables 172-175), KMIP 2.1 §6.1.46 (Tables 303-306).
 * Generates a replacement for an existing Symmetric Key (named by uid or the ID Placeholder): the
 * same algorithm and length (unless the request's attributes say otherwise, under the same policy
 * as Create), fresh key bytes, attributes copied from the existing key (keys-and-certificates/replacement.ts), its
 * Names moved, Offset dates (Activation, Deactivation, Process Start, Protect Stop), Replaced
 * Object link on the new key and Replacement Object link on the existing one; both records in one
 * atomic commit; the ID Placeholder becomes the new uid. Where the new key lives is the
 * key-custody seam's choice (src/custody/), as for Create; an HSM-resident key is replaced by a
 * resident key (the replaced key's token object stays until it is destroyed).
 *
 * Result Reasons:
 * - Item Not Found (1.x) / Object Not Found (2.x); Object Archived.
 * - Invalid Object Type (2.x) / Illegal Operation (1.x): not a Symmetric Key.
 * - Wrong Key Lifecycle State (2.x) / Permission Denied (1.x): a destroyed key.
 * - Invalid Field (1.x) / Invalid Attribute Value (2.x): what the policy refuses; attribute rules.
 */
import { LinkType, ObjectType, Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, payload, readPayload } from '../../kmip/payload.js';
import { isMetadataOnly } from '../../objects/object-body.js';
import { symmetricKeySpec } from '../../policy/crypto-policy.js';
import type { OperationHandler } from '../context.js';
import { checkNamesUnique, newObjectAttributes, normalizeUsageLimits } from '../service/new-objects.js';
import { addLink, commitAll, newRecord, newUid } from './key-pairs.js';
import { stampGenerated, stampKeyFormatType } from '../../objects/server-set.js';
import { offsetOf, replacedRecord, replacementAttributes } from './replacement.js';
import { keyPolicyOf } from '../crypto/key-policy-check.js';
import { is2x, versionReason } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { instance } from '../../objects/typed-attributes.js';
import { isDestroyed } from '../../objects/lifecycle.js';
import { keyValueNotPresent, loadManaged, resolveUid } from '../service/object-service.js';
import { keyCustody } from '../key-custody.js';

const Request1x = {
  uid: optional(Tag.UniqueIdentifier, 'TextString'),
  offset: optional(Tag.Offset, 'Interval'),
  templateAttribute: optional(Tag.TemplateAttribute, 'Structure'),
};
const Request2x = {
  uid: optional(Tag.UniqueIdentifier, 'TextString'),
  offset: optional(Tag.Offset, 'Interval'),
  attributes: optional(Tag.Attributes, 'Structure'),
  protectionStorageMasks: optional(Tag.ProtectionStorageMasks, 'Structure'),
};

export const reKey: OperationHandler = {
  operation: Operation.ReKey,
  name: 'ReKey',
  async handle(ctx, node) {
    const v = ctx.version;
    const req = is2x(v) ? readPayload(node, Request2x, { what: 'Re-key request payload' }) : readPayload(node, Request1x, { what: 'Re-key request payload' });
    const { record: old, state } = await loadManaged(ctx, resolveUid(ctx, req.uid), 'ReKey');
    if (old.objectType !== ObjectType.SymmetricKey) throw new KmipError(versionReason(v, 'ObjectTypeNotUsable'), 'Re-key replaces Symmetric Keys (use Re-key Key Pair for key pairs)');
    if (isDestroyed(state)) throw new KmipError(versionReason(v, 'WrongKeyLifecycleState'), 'the key has been destroyed');
    // The value of a metadata-only key lives elsewhere; a replacement here would not replace it.
    if (isMetadataOnly(old.attributes)) throw keyValueNotPresent(ctx, old.uid);
    const src = 'attributes' in req ? { ...(req.attributes && { attributes: req.attributes }) } : { ...(req.templateAttribute && { templateAttribute: req.templateAttribute }) };
    const asked = await newObjectAttributes(ctx, ObjectType.SymmetricKey, src, 'ReKey');
    const offset = offsetOf(req.offset);
    const attrs = replacementAttributes(old.attributes, asked, {
      now: ctx.now,
      dates: ['ActivationDate', 'DeactivationDate', 'ProcessStartDate', 'ProtectStopDate'],
      ...(offset !== undefined && { offset }),
    });
    const alg = instance(attrs, 'CryptographicAlgorithm');
    const len = instance(attrs, 'CryptographicLength');
    if (alg?.type !== 'Enumeration') throw new KmipError(ResultReason.MissingData, 'the key has no Cryptographic Algorithm');
    const decision = symmetricKeySpec(alg.value, len?.type === 'Integer' ? len.value : undefined, keyPolicyOf(ctx));
    if (!decision.ok) throw new KmipError(versionReason(v, 'InvalidAttributeValue'), decision.why);
    attrs.set('CryptographicLength', [item('CryptographicLength', decision.bits)]);
    normalizeUsageLimits(attrs, v);
    stampGenerated(attrs, ctx.now);
    if (asked.has('Name')) await checkNamesUnique(ctx, new Map([['Name', asked.get('Name')!]]), 'ReKey');

    // Where the new key lives (src/custody/): a resident key is replaced by a resident key;
    // otherwise as for Create.
    const refusal = versionReason(v, 'InvalidAttributeValue');
    const custody = keyCustody(ctx).forSecret({ attributes: attrs, replacesResident: keyCustody(ctx).of(old).kind === 'hsm', refusal }, alg.value, decision.bits);
    const uid = newUid();
    const made = await custody.generate({ uid, algorithm: alg.value, bits: decision.bits });
    ctx.work.onUndo(() => made.discard());
    try {
      made.stamp(attrs);
      addLink(attrs, LinkType.ReplacedObjectLink, old.uid);
      stampKeyFormatType(attrs, made.body);
      const fresh = await newRecord(ctx, { uid, objectType: ObjectType.SymmetricKey, attributes: attrs, body: made.body });
      await commitAll(ctx, [made.hsmKey !== undefined ? { ...fresh, hsmKey: made.hsmKey } : fresh], [{ record: replacedRecord(old, uid, ctx.now), previous: old }]);
    } finally {
      made.wipe();
    }
    ctx.batch.idPlaceholder = uid;
    return payload(Tag.ResponsePayload, [item('UniqueIdentifier', uid)]);
  },
};
