/**
 * Delete Attribute. KMIP 1.4 §4.16 (Tables 204-205), KMIP 2.1 §6.1.13 (Tables 202-203).
 *
 * - 1.x: Attribute Name and optional Attribute Index (absent = 0) name one instance; the
 *   response returns the deleted Attribute (index omitted when 0).
 * - 2.x: Current Attribute names one instance by its value; Attribute Reference alone deletes
 *   every instance ("If no Current Attribute is specified in the request, and an Attribute
 *   Reference is specified, then all instances of the specified attribute SHALL be deleted").
 *   Neither given: Invalid Field. Both given: they must name the same attribute (else Invalid
 *   Field), and the Current Attribute picks the instance. Response: the Unique Identifier only.
 * Attributes that must always have a value, and every attribute whose rule says "Deletable by
 * client: No", are refused.
 *
 * Result Reasons:
 * - 1.x (§11.17): Item Not Found (no such object / not the requester's; no attribute of that
 *   name; no instance at that index), Object Archived, Permission Denied (read-only / required attribute),
 *   Invalid Field (unknown name).
 * - 2.x (§6.1.13.1): Item Not Found, Object Archived, Attribute Not Found, Attribute Instance Not Found,
 *   Attribute Read Only, Invalid Attribute, Invalid Field.
 */
import { KmipError } from '../../kmip/errors.js';
import { Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { optional, payload, readPayload, required } from '../../kmip/payload.js';
import { checkClientMayDelete, findInstance, keyFromAttributeName1x, readAttributeReference2x, readAttributeWrapper2x, writeAttribute1x } from '../../objects/attributes.js';
import type { AttributeKey } from '../../objects/managed-object.js';
import type { TtlvNode } from '../../ttlv/node.js';
import { commitAttribute, loadFor, uidNode } from './attribute-change.js';
import type { OperationHandler } from '../context.js';
import { is2x } from '../../kmip/version-rules.js';

const Request1x = {
  uid: optional(Tag.UniqueIdentifier, 'TextString'),
  name: required(Tag.AttributeName, 'TextString'),
  index: optional(Tag.AttributeIndex, 'Integer'),
};
const Request2x = {
  uid: optional(Tag.UniqueIdentifier, 'TextString'),
  currentAttribute: optional(Tag.CurrentAttribute, 'Structure'),
  reference: optional(Tag.AttributeReference, 'Enumeration', 'Structure'),
};

export const deleteAttribute: OperationHandler = {
  operation: Operation.DeleteAttribute,
  name: 'DeleteAttribute',
  async handle(ctx, node) {
    if (is2x(ctx.version)) {
      const req = readPayload(node, Request2x, { what: 'Delete Attribute request payload' });
      const current = req.currentAttribute && readAttributeWrapper2x(req.currentAttribute, ctx.version);
      const refKey: AttributeKey | undefined = req.reference && readAttributeReference2x(req.reference, ctx.version);
      if (!current && refKey === undefined) throw new KmipError(ResultReason.InvalidField, 'Delete Attribute needs a Current Attribute or an Attribute Reference');
      if (current && refKey !== undefined && current.key !== refKey) {
        throw new KmipError(ResultReason.InvalidField, 'Current Attribute and Attribute Reference name different attributes');
      }
      const key = current?.key ?? (refKey as AttributeKey);
      const loaded = await loadFor(ctx, req.uid, 'DeleteAttribute');
      const { record } = loaded;
      checkClientMayDelete(key, ctx.version);
      let remaining: readonly TtlvNode[] = [];
      if (current) {
        const i = findInstance(record.attributes, key, ctx.version, { current: current.node, via: 'delete' });
        remaining = (record.attributes.get(key) ?? []).filter((_, j) => j !== i);
      } else {
        findInstance(record.attributes, key, ctx.version, { via: 'delete' }); // Attribute Not Found when absent
      }
      await commitAttribute(ctx, loaded, key, remaining);
      return payload(Tag.ResponsePayload, [uidNode(record.uid)]);
    }
    const req = readPayload(node, Request1x, { what: 'Delete Attribute request payload' });
    const key = keyFromAttributeName1x(req.name.value, ctx.version);
    if (req.index !== undefined && req.index.value < 0) throw new KmipError(ResultReason.InvalidField, 'Attribute Index must not be negative');
    const loaded = await loadFor(ctx, req.uid, 'DeleteAttribute');
    const { record } = loaded;
    checkClientMayDelete(key, ctx.version);
    const i = findInstance(record.attributes, key, ctx.version, req.index !== undefined ? { index: req.index.value, via: 'delete' } : { via: 'delete' });
    const list = record.attributes.get(key) ?? [];
    const deleted = list[i];
    if (deleted === undefined) throw new KmipError(ResultReason.ItemNotFound, `no instance ${i} of ${key}`);
    await commitAttribute(
      ctx,
      loaded,
      key,
      list.filter((_, j) => j !== i),
    );
    return payload(Tag.ResponsePayload, [uidNode(record.uid), writeAttribute1x(key, deleted, i, true)]);
  },
};
