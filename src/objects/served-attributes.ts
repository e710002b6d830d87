/**
 * The attributes of an object as a client sees them, assembled in one place for Get Attributes,
 * Get Attribute List, Export, Locate and key wrapping (Attribute Names wrapped with a key): what
 * the record stores, the attributes the server derives from the record (Unique Identifier, Object
 * Type, the State effective now; with `derived`, objects/server-set.ts `derivedAttributes`), those
 * the client's protocol version has (objects/attributes.ts `visibleAttributes`), in the listing
 * order of the OASIS test cases.
 */
import type { KmipVersion } from '../kmip/spec-types.js';
import type { TtlvNode } from '../ttlv/node.js';
import { item } from '../kmip/items.js';
import { visibleAttributes, writeAttributes2x } from './attributes.js';
import { parseCustomKey, type AttributeKey, type AttributeMap, type ObjectRecord } from './managed-object.js';
import { withDerived } from './server-set.js';

/**
 * The attributes as a client sees them: what is stored, plus those the server derives from
 * the record (Unique Identifier, Object Type, State — effective now), and with `derived` the
 * always-valued attributes the record does not store (objects/server-set.ts `derivedAttributes`:
 * Short Unique Identifier, Protection Storage Mask, the Sensitive/Extractable defaults, …).
 */
export function allAttributes(record: ObjectRecord, state: number, opts: { readonly derived?: boolean } = {}): Map<AttributeKey, readonly TtlvNode[]> {
  const out = new Map<AttributeKey, readonly TtlvNode[]>();
  out.set('UniqueIdentifier', [item('UniqueIdentifier', record.uid)]);
  out.set('ObjectType', [item('ObjectType', record.objectType)]);
  out.set('State', [item('State', state)]);
  for (const [k, v] of record.attributes) if (!out.has(k)) out.set(k, v);
  return opts.derived ? withDerived(record, out) : out;
}

/** Every attribute a client of `version` sees on the object, derived ones included (Get Attributes, Export, Get Attribute List). */
export function servedAttributes(record: ObjectRecord, state: number, version: KmipVersion): AttributeMap {
  return visibleAttributes(allAttributes(record, state, { derived: true }), version);
}

/** Listed first, in this order; the rest follow by name (the order of the OASIS test cases, e.g. SKFF-M-10-14). */
const FIRST: readonly AttributeKey[] = ['UniqueIdentifier', 'ShortUniqueIdentifier', 'ObjectType', 'CryptographicAlgorithm', 'CryptographicLength'];

/** Sorting name: Key Format Type (2.x) right after Digest, whose 1.x structure held it (SKFF-M-9-21, TC-ECC-3-20). */
const sortName = (k: AttributeKey): string => (k === 'KeyFormatType' ? 'Digest\u0001' : k);

/** The list order: FIRST, then standard attributes by name, then custom/vendor ones as stored. */
export function listOrder(keys: readonly AttributeKey[]): AttributeKey[] {
  const rank = (k: AttributeKey) => (FIRST.includes(k) ? FIRST.indexOf(k) : parseCustomKey(k) ? FIRST.length + 1 : FIRST.length);
  const byName = (a: AttributeKey, b: AttributeKey) => (sortName(a) < sortName(b) ? -1 : sortName(a) > sortName(b) ? 1 : 0);
  return keys
    .map((k, i) => ({ k, i }))
    .sort((a, b) => rank(a.k) - rank(b.k) || (rank(a.k) === FIRST.length ? byName(a.k, b.k) : a.i - b.i))
    .map((x) => x.k);
}

/** All the attributes of `record` a client of `version` sees, as one 2.x Attributes structure. */
export function exportedAttributes(record: ObjectRecord, state: number, version: KmipVersion): TtlvNode {
  const visible = servedAttributes(record, state, version);
  return writeAttributes2x(listOrder([...visible.keys()]).flatMap((key) => (visible.get(key) ?? []).map((node) => ({ key, node }))));
}
