/**
 * What the attribute operations (Add, Set, Modify, Delete, Adjust Attribute) share: reading the
 * object a request names, writing one attribute's new instance list back, and the checks that
 * need the store (Name uniqueness).
 *
 * - Activation Date and Deactivation Date go through the life cycle (objects/lifecycle.ts
 *   `applyEvent` SetActivationDate / SetDeactivationDate): the refusal reasons are the life
 *   cycle's (1.x Permission Denied, 2.x Wrong Key Lifecycle State) and a date at or before now
 *   moves the state at once (transitions 4 and 6).
 * - Every change stamps Last Change Date (1.4 §3.38, 2.1 §4.29) and stores the state as it reads
 *   now (effective state), in one durable write with a revision check.
 * - Name uniqueness: "Trying to add a Name attribute with the same value that another object
 *   already has" → Illegal Operation (1.4 §11.15, §11.16); 2.x Non Unique Name Attribute
 *   (2.1 §6.1.2.1, §6.1.34.1, §6.1.51.1). Only objects the requester may Locate count: checking
 *   against every object would let a client probe for other owners' names (an existence oracle).
 *   Destroyed objects do not hold a name any more.
 */
import { KmipError } from '../../kmip/errors.js';
import { ResultReason, State } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { applyEvent, effectiveState } from '../../objects/lifecycle.js';
import { followChange } from '../../objects/server-set.js';
import type { AttributeKey } from '../../objects/managed-object.js';
import { indexValue } from '../../store/index-encoding.js';
import type { TtlvNode } from '../../ttlv/node.js';
import type { OperationContext } from '../context.js';
import { saveRecords, touched, withAttribute } from '../service/save.js';
import { is2x } from '../../kmip/version-rules.js';
import { item } from '../../kmip/items.js';
import { type LoadedObject, loadManaged, objectGroups, resolveUid } from '../service/object-service.js';

/** The Unique Identifier node of a response. */
export function uidNode(uid: string): TtlvNode {
  return item('UniqueIdentifier', uid);
}

/**
 * Resolve the request's Unique Identifier (or the ID Placeholder) and load the object for
 * `operation` through service/object-service.ts `loadManaged`, shared with the object operations: no such
 * object, or one the requester may not touch, is Item Not Found at 1.x and Object Not Found at 2.x
 * (object-service.ts `loadObject`, one rule for every operation); an archived object is Object
 * Archived (1.4 §11.13-§11.17).
 */
export async function loadFor(ctx: OperationContext, uid: TtlvNode | undefined, operation: string): Promise<LoadedObject> {
  return loadManaged(ctx, resolveUid(ctx, uid), operation);
}

const LIFECYCLE_DATES: Readonly<Record<string, 'SetActivationDate' | 'SetDeactivationDate'>> = {
  ActivationDate: 'SetActivationDate',
  DeactivationDate: 'SetDeactivationDate',
};

/**
 * Replace the instances of `key` by `nodes` (empty: remove the attribute) and save the object.
 * Activation/Deactivation Date values go through the life cycle. A value the server had set by
 * default becomes the client's (off ObjectRecord.serverDefaults).
 */
export async function commitAttribute(ctx: OperationContext, loaded: LoadedObject, key: AttributeKey, nodes: readonly TtlvNode[]): Promise<void> {
  const { record } = loaded;
  if (record.hsmKey !== undefined && key === 'Extractable' && !(nodes.length === 1 && nodes[0]?.type === 'Boolean' && nodes[0].value === false)) {
    // The value lives in the HSM as a non-extractable token key: no request can make it leave.
    throw new KmipError(ResultReason.PermissionDenied, 'the key is HSM-resident and can never be extractable');
  }
  const event = LIFECYCLE_DATES[key];
  let attrs = followChange(withAttribute(record.attributes, key, nodes), key);
  let state: number;
  const only = nodes[0];
  if (event !== undefined && nodes.length === 1 && only?.type === 'DateTime') {
    const res = applyEvent({ state: record.state, attributes: record.attributes }, { type: event, date: only.value }, ctx.now, ctx.version);
    for (const s of res.setAttributes) attrs = withAttribute(attrs, s.key, [s.node]);
    state = res.state;
  } else {
    state = effectiveState(record.state, attrs, ctx.now);
  }
  attrs = touched(attrs, ctx.now);
  const { serverDefaults, ...rest } = record;
  const stillDefaults = (serverDefaults ?? []).filter((k) => k !== key);
  await saveRecords(ctx, [{ record: { ...rest, attributes: attrs, state, ...(stillDefaults.length > 0 && { serverDefaults: stillDefaults }) }, previous: record }]);
}

const DESTROYED: ReadonlySet<number> = new Set([State.Destroyed, State.DestroyedCompromised]);

/** Refuse a Name value another object (that the requester can see, not destroyed) already has. */
export async function checkNameUnique(ctx: OperationContext, uid: string, key: AttributeKey, node: TtlvNode): Promise<void> {
  if (key !== 'Name' || node.type !== 'Structure') return;
  const value = node.value.find((c) => c.tag === Tag.NameValue);
  if (value === undefined) return;
  const others = (await ctx.services.store.find({ field: 'Name', equals: indexValue(value) })).filter((u) => u !== uid);
  for (const other of others) {
    const rec = await ctx.services.store.get(other);
    if (!rec || DESTROYED.has(rec.state)) continue;
    if (!ctx.services.access.allows(ctx.principal, 'Locate', rec.owner, objectGroups(rec.attributes))) continue;
    throw new KmipError(is2x(ctx.version) ? ResultReason.NonUniqueNameAttribute : ResultReason.IllegalOperation, 'another object already has this Name');
  }
}

/**
 * Refuse adding a Name whose Name Value the object itself already holds: a second instance with
 * the same value breaks the uniqueness of Name as much as another object's would (test case
 * BL-M-8-21: Add Attribute of the object's own Name → Non Unique Name Attribute).
 */
export function checkNameNotHeld(ctx: OperationContext, existing: readonly TtlvNode[], key: AttributeKey, node: TtlvNode): void {
  if (key !== 'Name' || node.type !== 'Structure') return;
  const value = node.value.find((c) => c.tag === Tag.NameValue)?.value;
  if (typeof value !== 'string') return;
  const held = existing.some((n) => n.type === 'Structure' && n.value.some((c) => c.tag === Tag.NameValue && c.value === value));
  if (held) throw new KmipError(is2x(ctx.version) ? ResultReason.NonUniqueNameAttribute : ResultReason.IllegalOperation, 'the object already has this Name');
}

/**
 * Application Specific Information without Application Data asks the server to generate it
 * (1.4 §3.36, 2.1 §4.7); this server generates it for no namespace (1.4 §11.15, §11.16:
 * Application Namespace Not Supported).
 */
export function checkApplicationData(key: AttributeKey, node: TtlvNode): void {
  if (key !== 'ApplicationSpecificInformation' || node.type !== 'Structure') return;
  if (!node.value.some((c) => c.tag === Tag.ApplicationData)) {
    throw new KmipError(ResultReason.ApplicationNamespaceNotSupported, 'Application Data is required: the server generates it for no Application Namespace');
  }
}

/** Run `f`, turning reason `from` into `to` (the same refusal is named differently by some 2.x operations). */
export function remapReason<T>(f: () => T, from: number, to: (typeof ResultReason)[keyof typeof ResultReason]): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof KmipError && e.reason === from) throw new KmipError(to, e.message, { cause: e });
    throw e;
  }
}

/** The most instances of one attribute an object may hold (Index Out of Bounds / Server Limit Exceeded beyond). */
export const MAX_ATTRIBUTE_INSTANCES = 1024;
