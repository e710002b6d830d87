/**
 * Modify Attribute. KMIP 1.4 §4.15 (Tables 202-203), KMIP 2.1 §6.1.34 (Tables 265-266).
 *
 * Changes one existing instance; never adds one.
 * - 1.x: the Attribute names the instance by its Attribute Index (absent = 0); the response
 *   returns the modified Attribute with its new value (index omitted when 0).
 * - 2.x: Current Attribute (optional) names the instance by its value; without it the attribute
 *   must have exactly one instance ("if there are multiple instances of the Attribute an error
 *   SHALL be returned": Invalid Field, the request lacking the field that would pick one). The
 *   response is the Unique Identifier only (Table 266). Current and New Attribute must be the
 *   same attribute (else Invalid Field).
 * The rule checks (read-only, object type, the states the rule allows) come before the instance
 * lookup. Activation/Deactivation Date go through the life cycle.
 *
 * Result Reasons:
 * - 1.x (§11.16): Item Not Found (no such object / not the requester's; no instance at that
 *   index), Invalid Field (the object lacks the attribute; unknown name; wrong value type),
 *   Object Archived, Permission Denied (read-only attribute; modified outside the states its rule allows, test
 *   case SKLC-M-3-14), Illegal Operation (a Name another object has), Application Namespace Not
 *   Supported.
 * - 2.x (§6.1.34.1): Item Not Found, Object Archived, Attribute Not Found, Attribute Instance Not Found,
 *   Attribute Read Only, Wrong Key Lifecycle State (SKLC-M-3-21), Non Unique Name Attribute,
 *   Invalid Attribute, Invalid Attribute Value, Invalid Field, Application Namespace Not Supported.
 */
import { KmipError } from '../../kmip/errors.js';
import { Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { optional, payload, readPayload, required } from '../../kmip/payload.js';
import { checkClientMayModify, findInstance, readAttribute1x, readAttributeWrapper2x, writeAttribute1x, type AttributeInstance } from '../../objects/attributes.js';
import { withDerived } from '../../objects/server-set.js';
import type { TtlvNode } from '../../ttlv/node.js';
import { checkApplicationData, checkNameUnique, commitAttribute, loadFor, uidNode } from './attribute-change.js';
import type { OperationHandler } from '../context.js';
import { is2x } from '../../kmip/version-rules.js';

const Request1x = { uid: optional(Tag.UniqueIdentifier, 'TextString'), attribute: required(Tag.Attribute, 'Structure') };
const Request2x = {
  uid: optional(Tag.UniqueIdentifier, 'TextString'),
  currentAttribute: optional(Tag.CurrentAttribute, 'Structure'),
  newAttribute: required(Tag.NewAttribute, 'Structure'),
};

export const modifyAttribute: OperationHandler = {
  operation: Operation.ModifyAttribute,
  name: 'ModifyAttribute',
  async handle(ctx, node) {
    const v2 = is2x(ctx.version);
    let uid: TtlvNode | undefined;
    let inst: AttributeInstance;
    let current: AttributeInstance | undefined;
    if (v2) {
      const req = readPayload(node, Request2x, { what: 'Modify Attribute request payload' });
      uid = req.uid;
      inst = readAttributeWrapper2x(req.newAttribute, ctx.version);
      current = req.currentAttribute && readAttributeWrapper2x(req.currentAttribute, ctx.version);
      if (current && current.key !== inst.key) throw new KmipError(ResultReason.InvalidField, 'Current Attribute and New Attribute name different attributes');
    } else {
      const req = readPayload(node, Request1x, { what: 'Modify Attribute request payload' });
      uid = req.uid;
      inst = readAttribute1x(req.attribute, ctx.version);
    }
    const loaded = await loadFor(ctx, uid, 'ModifyAttribute');
    const { record, state } = loaded;
    const { key, node: value } = inst;
    checkClientMayModify(key, record.objectType, state, ctx.version);
    const sel = current ? { current: current.node, via: 'modify' as const } : inst.index !== undefined ? { index: inst.index, via: 'modify' as const } : { via: 'modify' as const };
    // Sensitive / Extractable have a value even when none is stored (the derived default).
    const attrs = withDerived(record, record.attributes);
    const i = findInstance(attrs, key, ctx.version, sel);
    const list = attrs.get(key) ?? [];
    if (v2 && !current && list.length > 1) {
      throw new KmipError(ResultReason.InvalidField, `${key} has ${list.length} instances: give the Current Attribute to pick one`);
    }
    checkApplicationData(key, value);
    await checkNameUnique(ctx, record.uid, key, value);
    await commitAttribute(
      ctx,
      loaded,
      key,
      list.map((n, j) => (j === i ? value : n)),
    );
    return payload(Tag.ResponsePayload, [uidNode(record.uid), v2 ? undefined : writeAttribute1x(key, value, i, true)]);
  },
};
