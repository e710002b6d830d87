/**
 * New objects, for the operations that make them (Create, Register, Create Key Pair, Re-key,
 * Derive Key, Certify, Join/Create Split Key, Import), on top of the object service
 * (object-service.ts) and saving (save.ts):
 *
 * - `newObjectAttributes`: the attributes of a new object from a 1.x Template-Attribute (with
 *   Template names, 1.4 §2.1.8, §2.2.6) or a 2.x Attributes structure, checked with the rules of
 *   objects/attributes.ts.
 * - `checkNamesUnique`: the Name uniqueness rule (1.4 §11.2/§11.4 Invalid Field; 2.1 Non Unique
 *   Name Attribute). Only objects the principal can see count (others' names would leak their
 *   existence), and destroyed objects do not.
 * - `commitNewObject`: lifecycle Create, Initial/Last Change Date, sealed body, one durable commit,
 *   the ID Placeholder.
 * - Small record helpers the handlers share: `uidPayload`, `withReplaced`, `updated`, `refuseTemplate`.
 */
import { ObjectType, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import type { KmipVersion } from '../../kmip/spec-types.js';
import type { StructureNode, TtlvNode } from '../../ttlv/node.js';
import { checkClientMayInitiallySet, checkMultiple, isMultiple, readAttribute1x, readAttributes2x, type AttributeInstance } from '../../objects/attributes.js';
import { applyEvent } from '../../objects/lifecycle.js';
import type { AttributeKey, AttributeMap, ObjectRecord } from '../../objects/managed-object.js';
import { newUid } from '../../objects/identifiers.js';
import { indexText } from '../../store/index-encoding.js';
import type { OperationContext } from '../context.js';
import { saveRecords } from './save.js';
import { creationOrderEntry } from '../attributes/locate-order.js';
import { serverDefaultsOf, stampStored } from '../../objects/server-set.js';
import { versionReason } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { instance, instances } from '../../objects/typed-attributes.js';
import { isArchived } from '../../objects/typed-attributes.js';
import { isDestroyed } from '../../objects/lifecycle.js';
import { objectGroups, openBody, sealBody } from './object-service.js';

/** A response payload holding just the Unique Identifier. */
export function uidPayload(uid: string, extra: readonly TtlvNode[] = []): StructureNode {
  return item('ResponsePayload', [item('UniqueIdentifier', uid), ...extra]);
}

/** `attrs` with each given attribute replacing that attribute's instances. */
export function withReplaced(attrs: AttributeMap, set: ReadonlyArray<{ readonly key: AttributeKey; readonly node: TtlvNode }>): Map<AttributeKey, readonly TtlvNode[]> {
  const m = new Map(attrs);
  for (const { key, node } of set) m.set(key, [node]);
  return m;
}

/** The record with new attributes/state, content unchanged. */
export function updated(record: ObjectRecord, changes: { attributes?: AttributeMap; state?: number }): ObjectRecord {
  return { ...record, ...(changes.attributes && { attributes: changes.attributes }), ...(changes.state !== undefined && { state: changes.state }) };
}

// ------------------------------------------------------------------------ new object attributes

/** Payload parts carrying a new object's attributes (exactly one applies per version). */
export interface AttributeSources {
  /** 1.x Template-Attribute. */
  readonly templateAttribute?: TtlvNode;
  /** 2.x Attributes. */
  readonly attributes?: TtlvNode;
}

/**
 * Read a new object's attributes: 1.x Template-Attribute (Name children name Templates whose
 * attributes come first; the request's own attributes override single-valued ones and add to
 * multi-valued ones) or 2.x Attributes. Each is checked: a client may set it initially, it
 * applies to `objectType`, a single-valued attribute has one instance.
 */
export async function newObjectAttributes(ctx: OperationContext, objectType: number, src: AttributeSources, operation: string): Promise<Map<AttributeKey, TtlvNode[]>> {
  const version = ctx.version;
  let fromTemplates: AttributeInstance[] = [];
  let own: AttributeInstance[] = [];
  if (src.templateAttribute !== undefined) {
    const ta = src.templateAttribute;
    if (ta.type !== 'Structure') throw new KmipError(ResultReason.InvalidField, 'Template-Attribute must be a structure');
    for (const c of ta.value) {
      if (c.tag === Tag.Name) fromTemplates = fromTemplates.concat(await templateAttributes(ctx, c, operation));
      else if (c.tag === Tag.Attribute) own.push(readAttribute1x(c, version));
      else throw new KmipError(ResultReason.InvalidField, 'unexpected item in Template-Attribute');
    }
  }
  if (src.attributes !== undefined) own = own.concat(readAttributes2x(src.attributes, version));

  const out = new Map<AttributeKey, TtlvNode[]>();
  const accept = (key: AttributeKey, node: TtlvNode): boolean => {
    // Some 2.x clients repeat the Object Type among the attributes; the same value is harmless.
    if (key === 'ObjectType' && node.type === 'Enumeration' && node.value === objectType) return false;
    checkClientMayInitiallySet(key, objectType, version, 'create');
    return true;
  };
  // Templates first, in order: a later template's single-valued attribute replaces an earlier one's.
  for (const { key, node } of fromTemplates) {
    if (!accept(key, node)) continue;
    if (isMultiple(key, version)) out.set(key, [...(out.get(key) ?? []), node]);
    else out.set(key, [node]);
  }
  // The request's own attributes replace a template's single-valued ones and add to multi-valued ones.
  const fromTemplate = new Set(out.keys());
  const overridden = new Set<AttributeKey>();
  for (const { key, node } of own) {
    if (!accept(key, node)) continue;
    if (fromTemplate.has(key) && !overridden.has(key) && !isMultiple(key, version)) {
      out.set(key, [node]);
      overridden.add(key);
    } else {
      out.set(key, [...(out.get(key) ?? []), node]);
    }
  }
  for (const [key, list] of out) checkMultiple(key, 0, list.length, version, 'create');
  // Locate answers newest first; Initial Date alone ties within a second.
  const [orderKey, orderNodes] = creationOrderEntry(ctx);
  out.set(orderKey, [...orderNodes]);
  return out;
}

/** The attributes of the Template a Template-Attribute names (1.x). */
async function templateAttributes(ctx: OperationContext, nameNode: TtlvNode, operation: string): Promise<AttributeInstance[]> {
  const value = nameNode.type === 'Structure' ? nameNode.value.find((c) => c.tag === Tag.NameValue) : undefined;
  if (value?.type !== 'TextString') throw new KmipError(ResultReason.InvalidField, 'Template Name must hold a Name Value');
  const uids = await ctx.services.store.find({ field: 'Name', equals: indexText(value.value) });
  for (const uid of uids) {
    const r = await ctx.services.store.get(uid);
    if (!r || r.objectType !== ObjectType.Template) continue;
    if (!ctx.services.access.allows(ctx.principal, operation, r.owner, objectGroups(r.attributes))) continue;
    if (isArchived(r.attributes)) throw new KmipError(ResultReason.ObjectArchived, `Template ${JSON.stringify(value.value)} is archived`);
    const body = await openBody(ctx, r);
    return body.value.filter((c) => c.tag === Tag.Attribute).map((a) => readAttribute1x(a, ctx.version));
  }
  throw new KmipError(ResultReason.ItemNotFound, `no Template named ${JSON.stringify(value.value.slice(0, 100))}`);
}

/** Name values in a new attribute map. */
function nameValues(attrs: AttributeMap): string[] {
  return instances(attrs, 'Name').flatMap((n) => {
    const v = n.type === 'Structure' ? n.value.find((c) => c.tag === Tag.NameValue) : undefined;
    return v?.type === 'TextString' ? [v.value] : [];
  });
}

/** Refuse a Name another object the principal can see already has (destroyed objects excepted). */
/**
 * A stored key must say what it is: Symmetric, Public and Private Keys need Cryptographic
 * Algorithm and Length (given, or read off the Key Block) — Missing Data otherwise. A Split Key
 * may state neither (a part of Secret Data has none; TC-SJ-3) but not only one of them.
 */
export function checkKeyIdentity(objectType: number, attrs: AttributeMap, operation: string): void {
  const alg = attrs.has('CryptographicAlgorithm');
  const len = attrs.has('CryptographicLength');
  if ((objectType === ObjectType.SymmetricKey || objectType === ObjectType.PublicKey || objectType === ObjectType.PrivateKey) && (!alg || !len)) {
    throw new KmipError(ResultReason.MissingData, `${operation} of a key needs its Cryptographic Algorithm and Cryptographic Length (in the attributes or the Key Block)`);
  }
  if (objectType === ObjectType.SplitKey && alg !== len) {
    throw new KmipError(ResultReason.MissingData, 'a Split Key that states its Cryptographic Algorithm must state its Cryptographic Length too, and the other way round');
  }
}

export async function checkNamesUnique(ctx: OperationContext, attrs: AttributeMap, operation: string, exceptUid?: string): Promise<void> {
  const names = nameValues(attrs);
  if (new Set(names).size !== names.length) throw new KmipError(versionReason(ctx.version, 'NonUniqueNameAttribute'), 'the same Name is given twice');
  for (const name of names) {
    for (const uid of await ctx.services.store.find({ field: 'Name', equals: indexText(name) })) {
      if (uid === exceptUid) continue;
      const r = await ctx.services.store.get(uid);
      if (!r || isDestroyed(r.state)) continue;
      if (!ctx.services.access.allows(ctx.principal, operation, r.owner, objectGroups(r.attributes))) continue;
      throw new KmipError(versionReason(ctx.version, 'NonUniqueNameAttribute'), `an object named ${JSON.stringify(name.slice(0, 100))} already exists`);
    }
  }
}

/** Usage Limits given at creation: the server sets the Count to the Total (1.4 §3.21, 2.1 §4.58). */
export function normalizeUsageLimits(attrs: Map<AttributeKey, TtlvNode[]>, version: KmipVersion): void {
  const ul = instance(attrs, 'UsageLimits');
  if (!ul) return;
  const reason = versionReason(version, 'InvalidAttributeValue');
  if (ul.type !== 'Structure') throw new KmipError(reason, 'Usage Limits must be a structure');
  const total = ul.value.find((c) => c.tag === Tag.UsageLimitsTotal);
  const unit = ul.value.find((c) => c.tag === Tag.UsageLimitsUnit);
  if (total?.type !== 'LongInteger' || total.value < 0n) throw new KmipError(reason, 'Usage Limits needs a non-negative Usage Limits Total (Long Integer)');
  if (unit?.type !== 'Enumeration') throw new KmipError(reason, 'Usage Limits needs a Usage Limits Unit');
  attrs.set('UsageLimits', [
    {
      tag: Tag.UsageLimits,
      type: 'Structure',
      value: [total, item('UsageLimitsCount', total.value), unit],
    },
  ]);
}

/**
 * Create the record of a new object: lifecycle Create (State, Initial Date, Last Change Date, and
 * Active at once when the Activation Date has passed), the body sealed under its uid, one durable
 * commit, then the ID Placeholder.
 */
export async function commitNewObject(
  ctx: OperationContext,
  objectType: number,
  attrs: Map<AttributeKey, TtlvNode[]>,
  body: StructureNode,
  opts: { uid?: string; hsmKey?: string } = {},
): Promise<string> {
  const uid = opts.uid ?? newUid();
  const lc = applyEvent(null, { type: 'Create', attributes: attrs }, ctx.now, ctx.version);
  stampStored(attrs, body);
  const attributes = withReplaced(attrs, lc.setAttributes);
  const { sealedBody, kekId } = await sealBody(ctx, uid, body);
  const record: ObjectRecord = {
    v: 1,
    uid,
    objectType,
    owner: ctx.principal.id,
    state: lc.state,
    attributes,
    sealedBody,
    kekId,
    ...(opts.hsmKey !== undefined && { hsmKey: opts.hsmKey }),
    ...(serverDefaultsOf(attrs).length > 0 && { serverDefaults: serverDefaultsOf(attrs) }),
    revision: 0,
  };
  await saveRecords(ctx, [{ record }]);
  if (ctx.services.log.isLevelEnabled('debug')) ctx.log.debug({ uid, objectType, state: lc.state }, 'object stored');
  ctx.batch.idPlaceholder = uid;
  return uid;
}

/** Templates exist only in KMIP 1.x; a 2.x request naming one gets Invalid Object Type. */
export function refuseTemplate(ctx: OperationContext, record: ObjectRecord, what: string): void {
  if (record.objectType === ObjectType.Template) {
    throw new KmipError(versionReason(ctx.version, 'ObjectTypeNotUsable'), `${what} does not apply to a Template`);
  }
}
