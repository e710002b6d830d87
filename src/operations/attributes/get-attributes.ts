/**
 * Get Attributes. KMIP 1.4 §4.12 (Tables 196-197), KMIP 2.1 §6.1.20 (Tables 223-224).
 *
 * 1.x: the request lists Attribute Names (none = all attributes); the response holds one
 * Attribute structure per instance, with its Attribute Index when it is above 0.
 * 2.x: the request lists Attribute References (a tag Enumeration or a vendor {Vendor
 * Identification, Attribute Name} structure; none = all); the response holds one Attributes
 * structure.
 * The attributes are the stored ones plus those the server derives (Unique Identifier, Object
 * Type, State as it reads now, and the always-valued ones of objects/server-set.ts
 * `derivedAttributes`), limited to those the client's version defines. All attributes come in
 * the Get Attribute List order. A request naming no attribute returns what the client's profile
 * lets it decode (policy/client-profiles.ts: by default, at 1.0-2.0, only the attributes PyKMIP
 * 0.10 decodes; the "full" profile: every attribute of the version, derived ones included). A requested
 * attribute the object does not have is left out (both versions: "SHALL NOT be present").
 * A name that is no attribute of the version is Invalid Field (1.4 §11.1 "unknown field"; the
 * 1.x error table §11.13 lists no other reason for it); in 2.x a reference to a tag that is no
 * attribute is Invalid Attribute (2.1 §6.1.20.1), to an unknown tag Unknown Tag.
 *
 * Result Reasons: Item Not Found (no such object, or not the requester's: existence does
 * not leak), Object Archived (1.4 §11.13), Invalid Message (the same name/reference twice: 1.4 §11.13; 2.1 §6.1.20 "SHALL NOT"),
 * Invalid Field, Invalid Attribute, Unknown Tag.
 */
import { KmipError } from '../../kmip/errors.js';
import { Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { optional, payload, readPayload, repeated } from '../../kmip/payload.js';
import { keyFromAttributeName1x, readAttributeReference2x, writeAttribute1x, writeAttributes2x } from '../../objects/attributes.js';
import type { AttributeKey } from '../../objects/managed-object.js';
import { DEFAULT_CLIENT_PROFILE, inFullListing } from '../../policy/client-profiles.js';
import type { TtlvNode } from '../../ttlv/node.js';
import { loadFor, uidNode } from './attribute-change.js';
import type { OperationHandler } from '../context.js';
import { is2x } from '../../kmip/version-rules.js';
import { listOrder, servedAttributes } from '../../objects/served-attributes.js';

const Request1x = { uid: optional(Tag.UniqueIdentifier, 'TextString'), names: repeated(Tag.AttributeName, 'TextString') };
const Request2x = { uid: optional(Tag.UniqueIdentifier, 'TextString'), refs: repeated(Tag.AttributeReference, 'Enumeration', 'Structure') };

/** Keys in request order; a key named twice is Invalid Message. */
function uniqueKeys(keys: readonly AttributeKey[]): AttributeKey[] {
  const seen = new Set<AttributeKey>();
  for (const k of keys) {
    if (seen.has(k)) throw new KmipError(ResultReason.InvalidMessage, `attribute ${k} is requested more than once`);
    seen.add(k);
  }
  return [...seen];
}

export const getAttributes: OperationHandler = {
  operation: Operation.GetAttributes,
  name: 'GetAttributes',
  async handle(ctx, node) {
    const v2 = is2x(ctx.version);
    let uid: TtlvNode | undefined;
    let keys: AttributeKey[];
    if (v2) {
      const req = readPayload(node, Request2x, { what: 'Get Attributes request payload' });
      uid = req.uid;
      keys = uniqueKeys(req.refs.map((r) => readAttributeReference2x(r, ctx.version)));
    } else {
      const req = readPayload(node, Request1x, { what: 'Get Attributes request payload' });
      uid = req.uid;
      keys = uniqueKeys(req.names.map((n) => keyFromAttributeName1x(n.value, ctx.version)));
    }
    const { record, state } = await loadFor(ctx, uid, 'GetAttributes');
    const everything = keys.length === 0;
    const profile = ctx.services.clientProfiles?.forIdentity(ctx.principal.id) ?? DEFAULT_CLIENT_PROFILE;
    // Derived values are listed like stored ones; what a client cannot decode its profile leaves out.
    const visible = servedAttributes(record, state, ctx.version);
    const selected = everything ? listOrder([...visible.keys()]).filter((k) => inFullListing(profile, k, ctx.version)) : keys.filter((k) => visible.has(k));
    const instances = selected.flatMap((key) => (visible.get(key) ?? []).map((n, index) => ({ key, node: n, index })));
    const body = v2 ? [writeAttributes2x(instances)] : instances.map((i) => writeAttribute1x(i.key, i.node, i.index, true));
    return payload(Tag.ResponsePayload, [uidNode(record.uid), ...body]);
  },
};
