/**
 * Locate. KMIP 1.4 §4.9 (Tables 190-191), KMIP 2.1 §6.1.28 (Tables 247-248).
 *
 * Request: 1.x Attribute structures (also accepted inside a Template-Attribute, as some 1.x
 * clients send them; Attribute Index values are ignored, §4.9), 2.x one Attributes structure
 * (may be empty, or absent: any object matches). Maximum Items, Offset Items (1.3+), Storage
 * Status Mask, Object Group Member. The matching rules are in locate-filters.ts.
 *
 * How it answers, without reading every record:
 * 1. candidates from the store's indexes: one bounded probe per requested attribute (State
 *    through `storedStatesThatCanBe`, since the effective state can be ahead of the stored one)
 *    and one of the requester's reach (`narrowReach`: its own objects by the `$owner` index and
 *    its granted Object Groups, so an identity that can see few objects costs few reads however
 *    large the store); when some are narrow (≤ NARROW_ENOUGH objects), their intersection; otherwise the full sets
 *    with the storage status (the stored state: destroyed states are final, so exact) and the
 *    requester's reach (own objects via `$owner`, granted Object Groups; administrators and "*"
 *    grants unrestricted), intersected smallest first;
 * 2. each candidate loaded and verified exactly: access (`allows`, operation "Locate"), storage
 *    status, every filter against the attributes as the client would read them now.
 * With Maximum Items and no narrowing attribute, the creation-order index is walked newest first
 * instead, stopping at Maximum Items (`newestFirst`).
 *
 * Semantics chosen:
 * - Storage Status Mask (omitted or 0 = on-line only): destroyed objects (State Destroyed or
 *   Destroyed Compromised) are in destroyed storage, archived ones (Archive Date set by Archive,
 *   see service/new-objects.ts) in archival storage, every other object on line. "The server SHALL NOT
 *   return unique identifiers for objects that are destroyed unless the Storage Status Mask field
 *   includes the Destroyed Storage indicator … archived unless … Archived Storage" (2.1 §6.1.28).
 *   KMIP 1.x has no Destroyed Storage bit: a 1.x request whose State filter names Destroyed or
 *   Destroyed Compromised searches destroyed objects (else they could never be found).
 * - Order: most recently created first (2.1 §6.1.28; 1.4 test cases TC-OFFSET-1/2-14), see
 *   locate-order.ts.
 * - Offset Items skips, then Maximum Items caps. Located Items (the count of all matches, before
 *   Offset/Maximum) is returned when Offset Items is given, as TC-OFFSET-2-14 shows (and
 *   TC-OFFSET-1-14, with Maximum Items only, shows it absent).
 * - Object Group Member: Group Member Fresh keeps objects whose Fresh attribute is not false
 *   (1.4 §3.34, 2.1 §4.24); no object is generated on the fly. Group Member Default: this
 *   server's policy names the most recently created match the group's default.
 * - ID Placeholder: set to the uid when exactly one is returned, emptied otherwise (§4.9, §6.1.28:
 *   "If a single Unique Identifier is returned … SHALL copy"; more than one → "SHALL empty").
 *
 * Result Reasons: Invalid Field (1.x: unknown attribute names, templates that do not exist,
 * §11.10; malformed payload; negative Maximum/Offset Items; more than two instances of a date),
 * Invalid Attribute (2.x: not an attribute, §6.1.28.1), Invalid Attribute Value, Unknown Tag.
 * Objects the requester may not Locate are never returned and never counted.
 */
import { KmipError } from '../../kmip/errors.js';
import { ObjectGroupMember, Operation, ResultReason, State } from '../../kmip/generated/enums.gen.js';
import { StorageStatusMask } from '../../kmip/generated/masks.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { optional, payload, readPayload, repeated } from '../../kmip/payload.js';
import { readAttributes1x, readAttributes2x, type AttributeInstance } from '../../objects/attributes.js';
import { effectiveState } from '../../objects/lifecycle.js';
import { DERIVED_KEYS } from '../../objects/server-set.js';
import type { AttributeKey, ObjectRecord } from '../../objects/managed-object.js';
import { indexEnum, indexText, RecordField } from '../../store/index-encoding.js';
import type { IndexQuery } from '../../store/object-store.js';
import type { TtlvNode } from '../../ttlv/node.js';
import { remapReason, uidNode } from './attribute-change.js';
import type { OperationContext, OperationHandler } from '../context.js';
import { indexQueries, matches, type LocateFilter } from './locate-filters.js';
import { compareByCreationDesc, CREATION_ORDER_KEY } from './locate-order.js';
import { is2x } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { instance, isArchived } from '../../objects/typed-attributes.js';
import { allAttributes } from '../../objects/served-attributes.js';
import { objectGroups } from '../service/object-service.js';

const COMMON = {
  maximumItems: optional(Tag.MaximumItems, 'Integer'),
  offsetItems: optional(Tag.OffsetItems, 'Integer'),
  storageStatusMask: optional(Tag.StorageStatusMask, 'Integer'),
  objectGroupMember: optional(Tag.ObjectGroupMember, 'Enumeration'),
};
const Request1x = { ...COMMON, attributes: repeated(Tag.Attribute, 'Structure'), templates: repeated(Tag.TemplateAttribute, 'Structure') };
const Request2x = { ...COMMON, attributes: optional(Tag.Attributes, 'Structure') };

const DESTROYED_STATES: readonly number[] = [State.Destroyed, State.DestroyedCompromised];
const ONLINE_STATES: readonly number[] = [State.PreActive, State.Active, State.Deactivated, State.Compromised];

export interface LocateRequest {
  readonly filters: readonly LocateFilter[];
  readonly maximumItems?: number;
  readonly offsetItems?: number;
  /** Storage searched (from the Storage Status Mask). */
  readonly storage: { readonly online: boolean; readonly archived: boolean; readonly destroyed: boolean };
  /** Stored states that storage can hold. */
  readonly storedStates: readonly number[];
  readonly objectGroupMember?: number;
}

function group(instances: readonly AttributeInstance[]): LocateFilter[] {
  const m = new Map<AttributeKey, TtlvNode[]>();
  for (const { key, node } of instances) {
    const list = m.get(key) ?? [];
    list.push(node);
    m.set(key, list);
  }
  return [...m].map(([key, nodes]) => ({ key, nodes }));
}

function nonNegative(n: { value: number } | undefined, what: string): number | undefined {
  if (n === undefined) return undefined;
  if (n.value < 0) throw new KmipError(ResultReason.InvalidField, `${what} must not be negative`);
  return n.value;
}

export function readLocateRequest(ctx: OperationContext, node: TtlvNode | undefined): LocateRequest {
  const v2 = is2x(ctx.version);
  let common: { maximumItems?: { value: number }; offsetItems?: { value: number }; storageStatusMask?: { value: number }; objectGroupMember?: { value: number } };
  let instances: AttributeInstance[];
  if (v2) {
    const req = readPayload(node, Request2x, { what: 'Locate request payload' });
    common = req;
    instances = req.attributes ? readAttributes2x(req.attributes, ctx.version) : [];
  } else {
    const req = readPayload(node, Request1x, { what: 'Locate request payload' });
    common = req;
    // "templates that do not exist are given in the request" → Invalid Field (1.4 §11.10).
    instances = remapReason(() => readAttributes1x([...req.attributes, ...req.templates], ctx.version), ResultReason.ItemNotFound, ResultReason.InvalidField);
  }
  const filters = group(instances);
  const mask = common.storageStatusMask?.value || StorageStatusMask.OnLineStorage;
  const stateFilter = filters.find((f) => f.key === 'State');
  const storage = {
    online: (mask & StorageStatusMask.OnLineStorage) !== 0,
    archived: (mask & StorageStatusMask.ArchivalStorage) !== 0,
    destroyed: (mask & StorageStatusMask.DestroyedStorage) !== 0 || (!v2 && stateFilter?.nodes.some((n) => n.type === 'Enumeration' && DESTROYED_STATES.includes(n.value)) === true),
  };
  const states = new Set<number>();
  if (storage.online || storage.archived) ONLINE_STATES.forEach((s) => states.add(s));
  if (storage.destroyed) DESTROYED_STATES.forEach((s) => states.add(s));
  return {
    filters,
    maximumItems: nonNegative(common.maximumItems, 'Maximum Items'),
    offsetItems: nonNegative(common.offsetItems, 'Offset Items'),
    storage,
    storedStates: [...states],
    objectGroupMember: common.objectGroupMember?.value,
  };
}

async function union(ctx: OperationContext, queries: readonly IndexQuery[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const q of queries) for (const uid of await ctx.services.store.find(q)) out.add(uid);
  return out;
}

/**
 * The requested attributes' index sets that are narrow (at most `bound` uids: NARROW_ENOUGH, or
 * the size of a narrow reach), each read with a bounded probe so a wide one costs `bound`
 * entries, not the whole field. `null`: nothing can match.
 */
async function narrowSets(ctx: OperationContext, req: LocateRequest, bound = NARROW_ENOUGH): Promise<Set<string>[] | null> {
  const sets: Set<string>[] = [];
  for (const f of req.filters) {
    if (f.key === 'UniqueIdentifier') {
      // Every instance must match the one uid an object has: one distinct value, or nothing.
      const ids = new Set(f.nodes.map((n) => (n.type === 'TextString' ? n.value : '')));
      if (ids.size !== 1 || ids.has('')) return null;
      sets.push(ids);
      continue;
    }
    const plan = indexQueries(f);
    if (plan === null) return null;
    for (const any of plan) {
      const set = new Set<string>();
      for (const q of any) {
        for (const uid of await ctx.services.store.find(q, bound + 1)) set.add(uid);
        if (set.size > bound) break;
      }
      if (set.size <= bound) sets.push(set); // every entry was read: the exact set
    }
  }
  return sets;
}

/**
 * The uids the indexes allow when no requested attribute is narrow: every requested attribute's
 * set, the searched storage and the requester's reach, intersected (a superset of the answer).
 */
async function wideCandidates(ctx: OperationContext, req: LocateRequest): Promise<Set<string>> {
  const sets: Set<string>[] = [];
  for (const f of req.filters) for (const any of indexQueries(f) ?? []) sets.push(await union(ctx, any));
  sets.push(
    await union(
      ctx,
      req.storedStates.map((s) => ({ field: RecordField.State, equals: indexEnum(s) })),
    ),
  );
  if (req.storage.archived && !req.storage.online && !req.storage.destroyed) sets.push(await union(ctx, [{ field: 'ArchiveDate', exists: true }]));
  return intersect(sets);
}

/** Candidates few enough to load and verify one by one without the wide index sets. */
const NARROW_ENOUGH = 1024;

function intersect(sets: Set<string>[]): Set<string> {
  sets.sort((a, b) => a.size - b.size);
  const [first, ...rest] = sets;
  const out = new Set<string>();
  for (const uid of first ?? []) if (rest.every((s) => s.has(uid))) out.add(uid);
  return out;
}

/** Destroyed objects are in destroyed storage, archived ones (Archive Date set) in archival, the rest on line. */
function inStorage(req: LocateRequest, record: ObjectRecord): boolean {
  if (DESTROYED_STATES.includes(record.state)) return req.storage.destroyed;
  return isArchived(record.attributes) ? req.storage.archived : req.storage.online;
}

/** Whether `record` answers the request: access, storage, every filter, Group Member Fresh. */
function answers(ctx: OperationContext, req: LocateRequest, record: ObjectRecord): boolean {
  if (!ctx.services.access.allows(ctx.principal, 'Locate', record.owner, objectGroups(record.attributes))) return false;
  if (!inStorage(req, record)) return false;
  const derived = req.filters.some((f) => DERIVED_KEYS.has(f.key)); // only then: a SHA-256 per candidate saved
  const attrs = allAttributes(record, effectiveState(record.state, record.attributes, ctx.now), { derived });
  if (!req.filters.every((f) => matches(f, attrs.get(f.key) ?? []))) return false;
  if (req.objectGroupMember === ObjectGroupMember.GroupMemberFresh) {
    const fresh = instance(attrs, 'Fresh');
    if (fresh?.type === 'Boolean' && !fresh.value) return false;
  }
  return true;
}

/**
 * The requester's reach (the objects it owns and those of its granted Object Groups, from the
 * `$owner` and ObjectGroup indexes) when it is narrow: at most NARROW_ENOUGH uids, each index
 * read with a bounded probe. Undefined when the reach is wide or unrestricted (administrators,
 * "*" grants). A narrow reach bounds the search by what the caller may see, whatever the
 * store's size.
 */
async function narrowReach(ctx: OperationContext): Promise<Set<string> | undefined> {
  const groups = ctx.services.access.grantedGroups(ctx.principal, 'Locate');
  if (groups === '*') return undefined;
  const reach = new Set<string>();
  const queries: IndexQuery[] = [{ field: RecordField.Owner, equals: indexText(ctx.principal.id) }, ...groups.map((g): IndexQuery => ({ field: 'ObjectGroup', equals: indexText(g) }))];
  for (const q of queries) {
    for (const uid of await ctx.services.store.find(q, NARROW_ENOUGH + 1)) reach.add(uid);
    if (reach.size > NARROW_ENOUGH) return undefined;
  }
  return reach;
}

/**
 * The whole reach of a restricted requester (own objects and granted Object Groups), read when
 * `narrowReach` found it wide; undefined for an unrestricted one (administrators, "*" grants),
 * whose reach is the store.
 */
async function wideReach(ctx: OperationContext): Promise<Set<string> | undefined> {
  const groups = ctx.services.access.grantedGroups(ctx.principal, 'Locate');
  if (groups === '*') return undefined;
  return union(ctx, [{ field: RecordField.Owner, equals: indexText(ctx.principal.id) }, ...groups.map((g): IndexQuery => ({ field: 'ObjectGroup', equals: indexText(g) }))]);
}

/** Load and verify each candidate exactly; the matches, most recently created first. */
export async function locateRecords(ctx: OperationContext, req: LocateRequest): Promise<ObjectRecord[]> {
  // A narrow reach comes first: an attribute's set larger than it narrows nothing further, so
  // no probe reads more entries than the requester can see.
  const reach = await narrowReach(ctx);
  const narrow = await narrowSets(ctx, req, reach?.size ?? NARROW_ENOUGH);
  if (narrow === null) return [];
  if (reach) narrow.push(reach);
  let candidates: Set<string>;
  if (narrow.length > 0) {
    // A requested attribute already narrows the search to a few objects: the other sets (every
    // object in the searched storage, every object the requester can reach: the whole store,
    // typically) are not read, since each candidate is verified exactly below.
    candidates = intersect(narrow);
  } else {
    // A restricted requester whose reach is wide: its reach is read whole and drives the
    // search, so the cost stays bounded by what it may see (not by the store's size).
    const wide = await wideReach(ctx);
    const walked = await newestFirst(ctx, req, wide?.size);
    if (walked) return walked;
    candidates = wide ? intersect([wide, ...((await narrowSets(ctx, req, wide.size)) ?? [])]) : await wideCandidates(ctx, req);
  }
  const found: ObjectRecord[] = [];
  for (const uid of candidates) {
    const record = await ctx.services.store.get(uid);
    if (record && answers(ctx, req, record)) found.push(record);
  }
  found.sort(compareByCreationDesc);
  return req.objectGroupMember === ObjectGroupMember.GroupMemberDefault ? found.slice(0, 1) : found;
}

/** Objects read per page of the newest-first walk. */
const WALK_PAGE = 256;

/**
 * Locate with Maximum Items (and no Offset Items, which needs the count of every match) when
 * no requested attribute narrows the search to a few objects (the caller checked: a Locate by
 * State, by Object Type, or with no attributes): walk the creation-order index newest first, verifying each object,
 * and stop at Maximum Items. Cost: the objects visited, not the store's size; memory: one page.
 * Undefined when the request does not qualify, or when the walk did not see every object (a
 * record without a creation stamp, from before stamps existed): then the index path answers.
 */
async function newestFirst(ctx: OperationContext, req: LocateRequest, maxVisits = Infinity): Promise<ObjectRecord[] | undefined> {
  const max = req.maximumItems;
  if (max === undefined || req.offsetItems !== undefined || req.objectGroupMember !== undefined) return undefined;
  const store = ctx.services.store;
  const found: ObjectRecord[] = [];
  let visited = 0;
  let cursor: Uint8Array | undefined;
  for (;;) {
    const page = await store.scan(CREATION_ORDER_KEY, { reverse: true, limit: WALK_PAGE, ...(cursor && { cursor }) });
    for (const uid of page.uids) {
      // A restricted requester's walk stops after as many objects as it may see; its reach answers then.
      if (visited >= maxVisits) return undefined;
      visited++;
      const record = await store.get(uid);
      if (!record || !answers(ctx, req, record)) continue;
      found.push(record);
      if (found.length >= max) return found;
    }
    if (!page.cursor) break;
    cursor = page.cursor;
  }
  return visited >= (await store.count()) ? found : undefined;
}

export const locate: OperationHandler = {
  operation: Operation.Locate,
  name: 'Locate',
  async handle(ctx, node) {
    const req = readLocateRequest(ctx, node);
    const found = await locateRecords(ctx, req);
    const offset = req.offsetItems ?? 0;
    const page = found.slice(offset, req.maximumItems === undefined ? undefined : offset + req.maximumItems);
    ctx.batch.idPlaceholder = page.length === 1 ? page[0]?.uid : undefined;
    const located: TtlvNode | undefined = req.offsetItems !== undefined ? item('LocatedItems', found.length) : undefined;
    return payload(Tag.ResponsePayload, [located, ...page.map((r) => uidNode(r.uid))]);
  },
};
