/**
 * The order Locate answers in: "descending order of object creation (most recently created
 * object first)" (KMIP 2.1 §6.1.28; the 1.4 test cases TC-OFFSET-1-14 and TC-OFFSET-2-14 expect
 * the same order for five keys created in one batch, i.e. within one second).
 *
 * Initial Date has one-second resolution, so objects made in one batch tie. An operation that
 * creates objects (Create, Register, Create Key Pair, …) should therefore add
 * `creationOrderEntry(ctx)` to the new record's attributes: a server-internal key
 * (`CREATION_ORDER_KEY`, no KMIP tag, so `visibleAttributes` never shows it to a client) holding
 * a Long Integer that grows strictly within this process: microseconds since the epoch, bumped by
 * one when two objects are created in the same microsecond. The store indexes it like any key.
 * Records without it sort by Initial Date (× 10⁶); remaining ties go by uid, ascending.
 */
import type { AttributeMap, ObjectRecord } from '../../objects/managed-object.js';
import type { TtlvNode } from '../../ttlv/node.js';
import type { OperationContext } from '../context.js';
import { instance } from '../../objects/typed-attributes.js';

/** Server-internal attribute key; "$" keeps it apart from every attribute name and custom key. */
export const CREATION_ORDER_KEY = '$creationOrder';
/** A private tag (TTLV extension range) for its node: never a KMIP attribute. */
export const CREATION_ORDER_TAG = 0x54ff80;

let last = 0n;

/** The next creation stamp: microseconds since the epoch, strictly increasing in this process. */
export function nextCreationStamp(clockMs: number): bigint {
  const now = BigInt(Math.floor(clockMs)) * 1000n;
  last = now > last ? now : last + 1n;
  return last;
}

/** The attribute entry a creating operation adds to a new record. */
export function creationOrderEntry(ctx: OperationContext): [string, readonly TtlvNode[]] {
  return [CREATION_ORDER_KEY, [{ tag: CREATION_ORDER_TAG, type: 'LongInteger', value: nextCreationStamp(ctx.services.clock()) }]];
}

/** The creation key of a record: its stamp, else its Initial Date in microseconds, else 0. */
export function creationKey(attrs: AttributeMap): bigint {
  const stamp = attrs.get(CREATION_ORDER_KEY)?.[0];
  if (stamp?.type === 'LongInteger') return stamp.value;
  const initial = instance(attrs, 'InitialDate');
  if (initial?.type === 'DateTime') return initial.value * 1_000_000n;
  return 0n;
}

/** Most recently created first; ties by uid ascending. */
export function compareByCreationDesc(a: ObjectRecord, b: ObjectRecord): number {
  const ka = creationKey(a.attributes);
  const kb = creationKey(b.attributes);
  if (ka !== kb) return ka > kb ? -1 : 1;
  return a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0;
}
