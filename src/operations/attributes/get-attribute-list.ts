/**
 * Get Attribute List. KMIP 1.4 §4.13 (Tables 198-199), KMIP 2.1 §6.1.21 (Tables 226-227).
 *
 * The attributes the object has, as the client's version sees them (stored plus Unique
 * Identifier, Object Type, State), in the order of the OASIS test cases (the spec sets none):
 * Unique Identifier, Short Unique Identifier, Object Type, Cryptographic Algorithm and Length, then
 * the others by name (Key Format Type right after Digest), custom and vendor attributes last; the
 * derived always-valued attributes included (objects/server-set.ts `derivedAttributes`): 1.x Attribute Name text strings ("Cryptographic Algorithm",
 * "x-ID"); 2.x Attribute References (the attribute's tag as an Enumeration, or {Vendor
 * Identification, Attribute Name} for a vendor attribute, as test case TL-M-3-21 shows).
 *
 * Result Reasons: Item Not Found (no such object, or not the requester's), Object Archived (1.4 §11.14), Invalid Field
 * (malformed payload).
 */
import { Operation } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { optional, payload, readPayload } from '../../kmip/payload.js';
import { tagDefByName } from '../../kmip/registry.js';
import { attributeName1x } from '../../objects/attributes.js';
import { parseCustomKey, type AttributeKey } from '../../objects/managed-object.js';
import type { TtlvNode } from '../../ttlv/node.js';
import { loadFor, uidNode } from './attribute-change.js';
import type { OperationHandler } from '../context.js';
import { is2x } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { servedAttributes } from '../../objects/served-attributes.js';
import { listOrder } from '../../objects/served-attributes.js';

const Request = { uid: optional(Tag.UniqueIdentifier, 'TextString') };

/** A 2.x Attribute Reference for a record key (2.1 §7.3). */
export function attributeReference2x(key: AttributeKey): TtlvNode {
  const c = parseCustomKey(key);
  if (c) {
    return {
      tag: Tag.AttributeReference,
      type: 'Structure',
      value: [item('VendorIdentification', c.vendor), item('AttributeName', c.name)],
    };
  }
  const def = tagDefByName(key);
  if (!def) throw new RangeError(`no attribute ${key}`);
  return item('AttributeReference', def.tag);
}

export const getAttributeList: OperationHandler = {
  operation: Operation.GetAttributeList,
  name: 'GetAttributeList',
  async handle(ctx, node) {
    const req = readPayload(node, Request, { what: 'Get Attribute List request payload' });
    const { record, state } = await loadFor(ctx, req.uid, 'GetAttributeList');
    const keys = listOrder([...servedAttributes(record, state, ctx.version).keys()]);
    const names = is2x(ctx.version) ? keys.map(attributeReference2x) : keys.map((k): TtlvNode => item('AttributeName', attributeName1x(k)));
    return payload(Tag.ResponsePayload, [uidNode(record.uid), ...names]);
  },
};
