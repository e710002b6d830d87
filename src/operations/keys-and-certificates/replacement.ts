/**
 * What Re-key and Re-key Key Pair share (KMIP 1.4 §4.4-4.5 Tables 172-173, 176-177; 2.1
 * §6.1.46-47 Tables 303-304, 308-309): the attributes a replacement copies from the existing
 * object, the dates computed from an Offset, and the Replacement / Replaced Object links.
 *
 * Copied: every attribute except those the tables handle specially — Unique Identifier, State,
 * Initial Date, Destroy Date, Compromise (Occurrence) Date, Revocation Reason, Link, Last Change
 * Date, Digest, Archive Date, Random Number Generator (new), the dates below, and Name (moved: the
 * replacement takes the existing object's names, which the existing object loses; names the
 * request gives are added to them).
 * Dates: without an Offset the Activation, Deactivation (and for Re-key Process Start / Protect
 * Stop) Dates are copied; with an Offset the replacement's Activation Date is now + Offset and each
 * other date is the old one shifted by (AT2 - AT1) when the old object had an Activation Date.
 */
import { LinkType } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { nodesEqual, type TtlvNode } from '../../ttlv/node.js';
import { dateAttribute } from '../../objects/lifecycle.js';
import type { AttributeKey, AttributeMap, ObjectRecord } from '../../objects/managed-object.js';
import { CREATION_ORDER_KEY } from '../attributes/locate-order.js';
import { REGISTERED_WRAPPING_KEY } from '../service/key-wrapping.js';
import { dateNode, touched } from '../service/save.js';
import { instances, linkNode } from '../../objects/typed-attributes.js';

const NOT_COPIED: ReadonlySet<AttributeKey> = new Set([
  'UniqueIdentifier',
  'ObjectType',
  'State',
  'InitialDate',
  'DestroyDate',
  'CompromiseOccurrenceDate',
  'CompromiseDate',
  'RevocationReason',
  'Link',
  'LastChangeDate',
  'Digest',
  'ArchiveDate',
  'RandomNumberGenerator',
  'Fresh',
  'ActivationDate',
  'DeactivationDate',
  'ProcessStartDate',
  'ProtectStopDate',
  CREATION_ORDER_KEY,
  REGISTERED_WRAPPING_KEY,
]);

const DATE_TAGS: Readonly<Record<string, number>> = {
  ActivationDate: Tag.ActivationDate,
  DeactivationDate: Tag.DeactivationDate,
  ProcessStartDate: Tag.ProcessStartDate,
  ProtectStopDate: Tag.ProtectStopDate,
};

/**
 * The replacement's attributes: copied from `old`, then the dates, then what the request gave
 * (`requested`, already checked, holding the fresh creation stamp) replacing whole attributes.
 */
export function replacementAttributes(
  old: AttributeMap,
  requested: ReadonlyMap<AttributeKey, readonly TtlvNode[]>,
  opts: { now: bigint; offset?: number; dates: readonly string[] },
): Map<AttributeKey, TtlvNode[]> {
  const out = new Map<AttributeKey, TtlvNode[]>();
  for (const [k, v] of old) if (!NOT_COPIED.has(k)) out.set(k, [...v]);
  const at1 = dateAttribute(old, 'ActivationDate');
  if (opts.offset === undefined) {
    for (const k of opts.dates) {
      const d = dateAttribute(old, k);
      if (d !== undefined) out.set(k, [dateNode(DATE_TAGS[k]!, d)]);
    }
  } else {
    const at2 = opts.now + BigInt(opts.offset);
    out.set('ActivationDate', [dateNode(Tag.ActivationDate, at2)]);
    if (at1 !== undefined) {
      for (const k of opts.dates) {
        if (k === 'ActivationDate') continue;
        const d = dateAttribute(old, k);
        if (d !== undefined) out.set(k, [dateNode(DATE_TAGS[k]!, d + (at2 - at1))]);
      }
    }
  }
  for (const [k, v] of requested) {
    if (k === 'Name') {
      // Names are added to the ones moved over, as the Test Cases show (TC-REKEY-1: after two
      // Re-keys naming "first" and "second", the key holds "original", "first", "second").
      const moved = instances(out, 'Name');
      out.set('Name', [...moved, ...v.filter((n) => !moved.some((m) => nodesEqual(m, n)))]);
      continue;
    }
    out.set(k, [...v]);
  }
  return out;
}

/** The existing object after the replacement: its Names gone, a Replacement Object link added. */
export function replacedRecord(old: ObjectRecord, replacementUid: string, now: bigint): ObjectRecord {
  const attrs = new Map(old.attributes);
  attrs.delete('Name');
  attrs.set('Link', [...instances(attrs, 'Link'), linkNode(LinkType.ReplacementObjectLink, replacementUid)]);
  return { ...old, attributes: touched(attrs, now) };
}

/** The Offset of a request (Interval, seconds). */
export function offsetOf(n: TtlvNode | undefined): number | undefined {
  return n?.type === 'Interval' ? n.value : undefined;
}
