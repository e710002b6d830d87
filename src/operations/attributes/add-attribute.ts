/**
 * Add Attribute. KMIP 1.4 §4.14 (Tables 200-201), KMIP 2.1 §6.1.2 (Tables 167-168).
 *
 * Adds one new instance: the first value of a single-valued attribute, or a further value of a
 * multi-valued one. Existing values are never changed here. 1.x: the request's Attribute must not
 * carry an Attribute Index; the response returns the Attribute with its new index (omitted when
 * 0). 2.x: the request's New Attribute holds the attribute; the response is the Unique Identifier
 * only (Table 168). Activation/Deactivation Date go through the life cycle (attribute-change.ts).
 *
 * A single-valued attribute whose one value the server supplied by default because the creating
 * request gave none (ObjectRecord.serverDefaults: a Cryptographic Usage Mask, Fresh) has no value
 * the client created: "For single-instance attributes, this is how the attribute value is created"
 * (1.4 §4.14), so the client's Add replaces the default (index 0) instead of being refused as a
 * second instance. Clients that register or create first and then add their attributes (see
 * docs/tolerance.md) depend on it.
 *
 * Result Reasons (the table in objects/attributes.ts gives each version's):
 * - 1.x (§11.15): Item Not Found (no such object / not the requester's), Object Archived, Permission Denied
 *   (read-only attribute, or not for this object type; also a lifecycle date outside its
 *   states), Illegal Operation (single-valued attribute already present; a Name another object
 *   has, or this object already has), Invalid Field (Attribute Index given; unknown name; wrong value type), Index Out of
 *   Bounds (more than MAX_ATTRIBUTE_INSTANCES instances), Application Namespace Not Supported.
 * - 2.x (§6.1.2.1): Item Not Found, Object Archived, Read Only Attribute, Invalid Attribute (unknown, or not for
 *   this object type), Invalid Attribute Value, Attribute Single Valued, Non Unique Name
 *   Attribute (another object's Name, or one this object already has), Server Limit Exceeded, Wrong Key Lifecycle State, Invalid Field, Application
 *   Namespace Not Supported.
 */
import { KmipError } from '../../kmip/errors.js';
import { Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { optional, payload, readPayload, required } from '../../kmip/payload.js';
import {
  checkClientMayInitiallySet,
  checkInstanceLimit,
  checkMultiple,
  isMultiple,
  readAttribute1x,
  readAttributeWrapper2x,
  writeAttribute1x,
  type AttributeInstance,
} from '../../objects/attributes.js';
import { checkApplicationData, checkNameNotHeld, checkNameUnique, commitAttribute, loadFor, MAX_ATTRIBUTE_INSTANCES, uidNode } from './attribute-change.js';
import type { OperationHandler } from '../context.js';
import { is2x } from '../../kmip/version-rules.js';

const Request1x = { uid: optional(Tag.UniqueIdentifier, 'TextString'), attribute: required(Tag.Attribute, 'Structure') };
const Request2x = { uid: optional(Tag.UniqueIdentifier, 'TextString'), newAttribute: required(Tag.NewAttribute, 'Structure') };

export const addAttribute: OperationHandler = {
  operation: Operation.AddAttribute,
  name: 'AddAttribute',
  async handle(ctx, node) {
    const v2 = is2x(ctx.version);
    let inst: AttributeInstance;
    let uid;
    if (v2) {
      const req = readPayload(node, Request2x, { what: 'Add Attribute request payload' });
      uid = req.uid;
      inst = readAttributeWrapper2x(req.newAttribute, ctx.version);
    } else {
      const req = readPayload(node, Request1x, { what: 'Add Attribute request payload' });
      uid = req.uid;
      inst = readAttribute1x(req.attribute, ctx.version);
      if (inst.index !== undefined) throw new KmipError(ResultReason.InvalidField, 'Add Attribute: the Attribute Index SHALL NOT be specified (KMIP 1.4 §4.14)');
    }
    const loaded = await loadFor(ctx, uid, 'AddAttribute');
    const { record } = loaded;
    const { key, node: value } = inst;
    checkClientMayInitiallySet(key, record.objectType, ctx.version, 'add');
    const stored = record.attributes.get(key) ?? [];
    const replacesDefault = stored.length === 1 && (record.serverDefaults ?? []).includes(key) && !isMultiple(key, ctx.version);
    const existing = replacesDefault ? [] : stored;
    checkMultiple(key, existing.length, 1, ctx.version, 'add');
    checkInstanceLimit(key, existing.length + 1, MAX_ATTRIBUTE_INSTANCES, ctx.version);
    checkApplicationData(key, value);
    checkNameNotHeld(ctx, existing, key, value);
    await checkNameUnique(ctx, record.uid, key, value);
    await commitAttribute(ctx, loaded, key, [...existing, value]);
    return payload(Tag.ResponsePayload, [uidNode(record.uid), v2 ? undefined : writeAttribute1x(key, value, existing.length, true)]);
  },
};
