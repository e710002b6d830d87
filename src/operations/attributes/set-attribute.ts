/**
 * Set Attribute (KMIP 2.x only). KMIP 2.1 §6.1.51 (Tables 322-323).
 *
 * "If the object did not have any instances of the attribute, one is created. If the object had
 * exactly one instance, then it is modified. If it has more than one instance an error is
 * raised." The decision follows the instances the object holds, as the text says, so a
 * multi-valued attribute (a vendor attribute, an Object Group) with at most one instance can be
 * set. Creating follows Add Attribute's rules, modifying Modify Attribute's; read-only attributes
 * are refused either way with the reason this operation names (Read Only Attribute).
 * Activation/Deactivation Date go through the life cycle. Response: the Unique Identifier.
 *
 * Result Reasons (§6.1.51.1): Item Not Found (no such object / not the requester's), Object
 * Archived, Multi
 * Valued Attribute (more than one instance), Read Only Attribute, Invalid Attribute, Invalid
 * Attribute Value, Non Unique Name Attribute, Wrong Key Lifecycle State, Invalid Field,
 * Application Namespace Not Supported.
 */
import { KmipError } from '../../kmip/errors.js';
import { Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { optional, payload, readPayload, required } from '../../kmip/payload.js';
import { checkClientMayInitiallySet, checkClientMayModify, readAttributeWrapper2x } from '../../objects/attributes.js';
import { checkApplicationData, checkNameUnique, commitAttribute, loadFor, remapReason, uidNode } from './attribute-change.js';
import type { OperationHandler } from '../context.js';

const Request = { uid: optional(Tag.UniqueIdentifier, 'TextString'), newAttribute: required(Tag.NewAttribute, 'Structure') };

export const setAttribute: OperationHandler = {
  operation: Operation.SetAttribute,
  name: 'SetAttribute',
  async handle(ctx, node) {
    const req = readPayload(node, Request, { what: 'Set Attribute request payload' });
    const { key, node: value } = readAttributeWrapper2x(req.newAttribute, ctx.version);
    const loaded = await loadFor(ctx, req.uid, 'SetAttribute');
    const { record, state } = loaded;
    const list = record.attributes.get(key) ?? [];
    if (list.length > 1) throw new KmipError(ResultReason.MultiValuedAttribute, `${key} has ${list.length} instances: use Modify Attribute`);
    if (list.length === 0) checkClientMayInitiallySet(key, record.objectType, ctx.version, 'set');
    else remapReason(() => checkClientMayModify(key, record.objectType, state, ctx.version), ResultReason.AttributeReadOnly, ResultReason.ReadOnlyAttribute);
    checkApplicationData(key, value);
    await checkNameUnique(ctx, record.uid, key, value);
    await commitAttribute(ctx, loaded, key, [value]);
    return payload(Tag.ResponsePayload, [uidNode(record.uid)]);
  },
};
