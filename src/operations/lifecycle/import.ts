/**
 * Import. KMIP 2.1 §6.1.25 (Tables 238-240), KMIP 2.0 §6.1.24. Served from KMIP 2.0 on (as
 * Export; KMIP 1.4 §4.41 defines it too, with 1.x Attribute structures — not served here).
 * Creates an object under the Unique Identifier the client gives, with the attributes it gives —
 * typically what Export (export.ts) returned on another server. "Initially set by" and "When
 * implicitly set" are not enforced: server-set attributes the client supplies (Initial Date, Last
 * Change Date, Digest, Fresh, Lease Time, Activation Date, …) are stored as given, and State is
 * the object's state. What the server still decides: Short Unique Identifier (derived from the
 * identifier) and Protection Storage Mask (where this server keeps it) are not stored; attributes
 * not supplied get what Register gives them (algorithm/length/digest from the content, Initial and
 * Last Change Date now, State by the lifecycle's Create, Lease Time, Fresh).
 *
 * The object is stored as Register stores it: content sealed under the KEK bound to the identifier,
 * indexes and the audit record in one durable commit before the response; the importer owns it.
 * Key Wrap Type (required for a wrapped object): Not Wrapped unwraps it under a wrapping key this
 * server holds and the importer may use (key-wrapping.ts; the wrapping key's refusals keep their
 * reasons) and stores it plain; As Registered stores it as given (Get with Not Wrapped can unwrap
 * it later). Replace Existing true replaces an existing object with that identifier only when the
 * importer owns it (an HSM-resident key it held is destroyed once the batch stands, as Destroy does).
 * A metadata-only object (no Key Value) gets Key Value Present false, as Register gives it.
 * The identifier must be usable as a store key: 1-256 bytes of UTF-8, no control characters.
 * The Unique Identifier goes into the ID Placeholder.
 *
 * Result Reasons:
 * - Object Already Exists: an object with that identifier exists, the importer may see it (its
 *   owner, an administrator, a grant for Import), and Replace Existing is not true or the object
 *   is not the importer's own (another identity's object is never replaced).
 * - Object Not Found: the identifier belongs to an object the importer may not see; the answer
 *   (reason and message) is the one every operation gives for an object that does not exist.
 * - Invalid Field: a missing or second object, a bad identifier, a wrapped object without Key Wrap
 *   Type, an object that breaks its structure.
 * - Invalid Object Type: an Object Type this server does not store in this version.
 * - Invalid Attribute Value: Unique Identifier / Object Type attributes that differ from the
 *   request's, a State the content contradicts (Destroyed), attributes that contradict the content.
 * - Invalid Attribute (not an attribute of the version, or not of this Object Type), Attribute
 *   Single Valued, Unknown Tag, Non Unique Name Attribute.
 * - Missing Data: a key without Cryptographic Algorithm/Length anywhere (as Register).
 * - Wrapping Object Not Found: Not Wrapped and the wrapping key is not held here; the wrapping key's
 *   other reasons; Cryptographic Failure when the unwrap integrity check fails.
 */
import { KeyWrapType, Operation, ResultReason, State } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, readPayload, required } from '../../kmip/payload.js';
import { enumValueName } from '../../kmip/registry.js';
import { attributeRule, checkMultiple, readAttributes2x } from '../../objects/attributes.js';
import { asymmetricDerived } from '../../objects/key-formats.js';
import { applyEvent } from '../../objects/lifecycle.js';
import type { AttributeKey, ObjectRecord } from '../../objects/managed-object.js';
import { isMetadataOnly, isWrapped, KEY_VALUE_ABSENT, parseObject, takeObjects } from '../../objects/object-body.js';
import { stampStored } from '../../objects/server-set.js';
import { isValidUid } from '../../store/record-codec.js';
import { nodesEqual, type StructureNode, type TtlvNode } from '../../ttlv/node.js';
import type { OperationContext, OperationHandler } from '../context.js';
import { IMPORT_EXPORT_SINCE } from './export.js';
import { unwrapBody } from '../service/key-wrapping.js';
import { creationOrderEntry } from '../attributes/locate-order.js';
import { checkNewKey } from '../crypto/key-policy-check.js';
import { checkKeyIdentity, checkNamesUnique, uidPayload, withReplaced } from '../service/new-objects.js';
import { servesObjectType } from '../query-and-session/query.js';
import { saveRecords } from '../service/save.js';
import { notFound, objectGroups, objectKeys, sealBody } from '../service/object-service.js';

/** May the importer see (and so learn of) this existing object: its owner, an administrator, a grant for Import. */
const visible = (ctx: OperationContext, r: ObjectRecord): boolean => ctx.services.access.allows(ctx.principal, 'Import', r.owner, objectGroups(r.attributes));

const Request = {
  uid: required(Tag.UniqueIdentifier, 'TextString'),
  objectType: required(Tag.ObjectType, 'Enumeration'),
  replaceExisting: optional(Tag.ReplaceExisting, 'Boolean'),
  keyWrapType: optional(Tag.KeyWrapType, 'Enumeration'),
  attributes: required(Tag.Attributes, 'Structure'),
};

/** Longest imported identifier, in UTF-8 bytes (ours are 36-character UUIDs). */
export const MAX_IMPORTED_UID_BYTES = 256;
const CONTROL = /\p{Cc}/u;

/** States an object with content can be imported in (a destroyed object has no content to import). */
const IMPORTABLE_STATES: ReadonlySet<number> = new Set([State.PreActive, State.Active, State.Deactivated, State.Compromised]);
/** Always-valued attributes this server derives instead of storing (objects/server-set.ts). */
const SERVER_DERIVED: ReadonlySet<AttributeKey> = new Set(['ShortUniqueIdentifier', 'ProtectionStorageMask']);

export function isImportableUid(uid: string): boolean {
  return isValidUid(uid) && Buffer.byteLength(uid, 'utf8') <= MAX_IMPORTED_UID_BYTES && !CONTROL.test(uid);
}

const invalidValue = (message: string) => new KmipError(ResultReason.InvalidAttributeValue, message);

export const importObject: OperationHandler = {
  operation: Operation.Import,
  name: 'Import',
  since: IMPORT_EXPORT_SINCE,
  async handle(ctx, node) {
    const v = ctx.version;
    // The object is any one of the object structures; take it out before the schema check.
    const { objects, rest } = takeObjects(node);
    if (objects.length !== 1) throw new KmipError(ResultReason.InvalidField, `Import carries ${objects.length === 0 ? 'no' : 'more than one'} object`);
    const req = readPayload(rest, Request, { what: 'Import request payload' });
    const uid = req.uid.value;
    if (!isImportableUid(uid)) throw new KmipError(ResultReason.InvalidField, `the Unique Identifier must be 1-${MAX_IMPORTED_UID_BYTES} bytes of UTF-8 without control characters`);
    const objectType = req.objectType.value;
    if (!servesObjectType(objectType, v)) throw new KmipError(ResultReason.InvalidObjectType, `Object Type ${objectType} cannot be imported in KMIP ${v.major}.${v.minor}`);

    let parsed = parseObject(objectType, objects[0], v);
    const kwt = req.keyWrapType?.value;
    if (kwt !== undefined && kwt !== KeyWrapType.NotWrapped && kwt !== KeyWrapType.AsRegistered) throw new KmipError(ResultReason.InvalidField, `Key Wrap Type ${kwt} is not defined`);
    if (isWrapped(parsed.body)) {
      if (kwt === undefined) throw new KmipError(ResultReason.InvalidField, 'a wrapped object needs a Key Wrap Type (2.1 Table 238)');
      if (kwt === KeyWrapType.NotWrapped) {
        const plain = await unwrapBody(ctx, parsed.body, 'get', objectKeys);
        if (!plain) throw new KmipError(ResultReason.WrappingObjectNotFound, 'the wrapping key is not available on this server');
        parsed = parseObject(objectType, plain.body, v);
      }
    }

    const given = readGivenAttributes(ctx, uid, objectType, req.attributes);
    const attrs = given.attributes;
    // What the content states, where the client gave nothing; what it gave must agree (as Register).
    const derived = new Map<AttributeKey, TtlvNode[]>();
    for (const d of [...parsed.derived, ...asymmetricDerived(objectType, parsed.body)]) {
      if (!derived.has(d.key) || !derived.get(d.key)!.some((n) => nodesEqual(n, d.node))) derived.set(d.key, [...(derived.get(d.key) ?? []), d.node]);
    }
    for (const [key, nodes] of derived) {
      const list = attrs.get(key);
      if (!list || list.length === 0) attrs.set(key, nodes);
      else if (key === 'CryptographicAlgorithm' || key === 'CryptographicLength' || key === 'CertificateType') {
        if (!list.every((g) => nodes.some((d) => nodesEqual(g, d)))) throw invalidValue(`${key} does not match the object's content`);
      }
    }
    checkKeyIdentity(objectType, attrs, 'Import');
    checkNewKey(ctx, objectType, attrs, parsed.body, 'Import');
    if (parsed.digest && !attrs.has('Digest')) attrs.set('Digest', [parsed.digest]);
    // A metadata-only object (Key Block without Key Value) is so here too; Key Value Present must agree with the content.
    if (isMetadataOnly(attrs) !== (parsed.metadataOnly === true) && attrs.has('KeyValuePresent')) throw invalidValue("Key Value Present does not match the object's content");
    if (parsed.metadataOnly) attrs.set('KeyValuePresent', [KEY_VALUE_ABSENT]);

    const previous = await ctx.services.store.get(uid);
    if (previous) {
      // An object the importer may not see reads as not there, as in every operation (its
      // existence does not leak); it is never replaced.
      if (!visible(ctx, previous)) throw notFound(ctx, uid);
      if (previous.owner !== ctx.principal.id || req.replaceExisting?.value !== true)
        throw new KmipError(ResultReason.ObjectAlreadyExists, `an object with Unique Identifier ${uid} already exists`);
    }
    await checkNamesUnique(ctx, attrs, 'Import', uid);

    // Defaults for what the client left out: the lifecycle's Create (State, Initial / Last Change Date), then Register's stamps.
    const lc = applyEvent(null, { type: 'Create', attributes: attrs }, ctx.now, v);
    const attributes = new Map(withReplaced(new Map(), lc.setAttributes));
    for (const [k, list] of attrs) attributes.set(k, [...list]);
    const filled = attributes as Map<AttributeKey, TtlvNode[]>;
    stampStored(filled, parsed.body);
    const [orderKey, orderNodes] = creationOrderEntry(ctx);
    filled.set(orderKey, [...orderNodes]);

    const { sealedBody, kekId } = await sealBody(ctx, uid, parsed.body);
    const record: ObjectRecord = { v: 1, uid, objectType, owner: ctx.principal.id, state: given.state ?? lc.state, attributes: filled, sealedBody, kekId, revision: 0 };
    await saveRecords(ctx, [{ record, ...(previous && { previous }) }], [], {
      // Another request made (or changed) an object with this identifier meanwhile.
      onConflict: async (e) => {
        const now = await ctx.services.store.get(uid);
        if (now && !visible(ctx, now)) throw notFound(ctx, uid);
        throw new KmipError(ResultReason.ObjectAlreadyExists, `an object with Unique Identifier ${uid} already exists`, { cause: e });
      },
    });
    // A replaced HSM-resident key: its token object goes once the record no longer refers to it.
    if (previous?.hsmKey !== undefined) ctx.work.retireToken(uid, previous.hsmKey);
    if (ctx.services.log.isLevelEnabled('debug')) ctx.log.debug({ uid, objectType, replaced: previous !== undefined }, 'object imported');
    ctx.batch.idPlaceholder = uid;
    return uidPayload(uid);
  },
};

/**
 * The request's attributes, checked: each is an attribute of the version that applies to the
 * Object Type, single-valued ones once; Unique Identifier and Object Type agree with the request;
 * State (kept apart: it is the record's state) is one an object with content can be in; what the
 * server derives is dropped.
 */
function readGivenAttributes(ctx: OperationContext, uid: string, objectType: number, node: StructureNode): { attributes: Map<AttributeKey, TtlvNode[]>; state?: number } {
  const v = ctx.version;
  const out = new Map<AttributeKey, TtlvNode[]>();
  let state: number | undefined;
  for (const { key, node: n } of readAttributes2x(node, v)) {
    if (key === 'UniqueIdentifier') {
      if (n.type !== 'TextString' || n.value !== uid) throw invalidValue('the Unique Identifier attribute differs from the request');
      continue;
    }
    if (key === 'ObjectType') {
      if (n.type !== 'Enumeration' || n.value !== objectType) throw invalidValue('the Object Type attribute differs from the request');
      continue;
    }
    if (key === 'State') {
      if (n.type !== 'Enumeration' || !IMPORTABLE_STATES.has(n.value)) throw invalidValue('an imported object with content must be Pre-Active, Active, Deactivated or Compromised');
      if (state !== undefined) throw new KmipError(ResultReason.AttributeSingleValued, 'State is single-valued');
      state = n.value;
      continue;
    }
    if (SERVER_DERIVED.has(key)) continue;
    const rule = attributeRule(key, v);
    if (rule && rule.appliesTo !== 'all' && !rule.appliesTo.includes(enumValueName('ObjectType', objectType) ?? '')) {
      throw new KmipError(ResultReason.InvalidAttribute, `${key} does not apply to this Object Type`);
    }
    out.set(key, [...(out.get(key) ?? []), n]);
  }
  for (const [key, list] of out) checkMultiple(key, 0, list.length, v, 'create');
  return { attributes: out, ...(state !== undefined && { state }) };
}
