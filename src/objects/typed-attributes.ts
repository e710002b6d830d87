/**
 * Typed accessors and builders over an object's attribute map (objects/managed-object.ts), by
 * attribute name as the registry lists them (generated/item-types.gen.ts `AttributeName`): the
 * compiler knows that Cryptographic Algorithm is an Enumeration (a number), Activation Date a
 * Date-Time (a bigint), Name a structure, so handlers read `attribute(attrs, 'Sensitive')` and
 * write `withAttribute(attrs, 'LastChangeDate', now)` instead of fetching nodes by string and
 * checking their item type, or spelling out `{ tag, type, value }` literals. A misspelt name does
 * not compile. Custom (vendor) attributes keep their keys and are read through the map itself.
 */
import type { AttributeName } from '../kmip/generated/item-types.gen.js';
import { field, isItem, item, valueOf, type ItemOf, type ValueOf } from '../kmip/items.js';
import type { TtlvNode } from '../ttlv/node.js';
import type { AttributeKey, AttributeMap } from './managed-object.js';

export type { AttributeName } from '../kmip/generated/item-types.gen.js';

/** An instance of attribute `name` holding `value` (tagged and typed as the spec says). */
export function attributeNode<N extends AttributeName>(name: N, value: ValueOf<N>): ItemOf<N> {
  return item(name, value);
}

/** The first instance of attribute `name` as the typed node it is (undefined: absent, or stored with another item type). */
export function instance<N extends AttributeName>(attrs: AttributeMap | undefined, name: N): ItemOf<N> | undefined {
  const n = attrs?.get(name)?.[0];
  return isItem(n, name) ? n : undefined;
}

/** Every instance of attribute `name`, in instance order, as typed nodes. */
export function instances<N extends AttributeName>(attrs: AttributeMap | undefined, name: N): ItemOf<N>[] {
  return (attrs?.get(name) ?? []).filter((n): n is ItemOf<N> => isItem(n, name));
}

/** The first instance's value of attribute `name` (undefined: absent, or stored with another item type). */
export function attribute<N extends AttributeName>(attrs: AttributeMap, name: N): ValueOf<N> | undefined {
  return valueOf(attrs.get(name)?.[0], name);
}

/** The values of every instance of attribute `name`, in instance order (those of its item types). */
export function attributes<N extends AttributeName>(attrs: AttributeMap, name: N): ValueOf<N>[] {
  const out: ValueOf<N>[] = [];
  for (const n of attrs.get(name) ?? []) {
    const v = valueOf(n, name);
    if (v !== undefined) out.push(v);
  }
  return out;
}

/** Whether the object has at least one instance of attribute `name`. */
export function hasAttribute(attrs: AttributeMap, name: AttributeName): boolean {
  return (attrs.get(name)?.length ?? 0) > 0;
}

/** A Boolean attribute's value (Sensitive, Extractable, Fresh, Key Value Present, …). */
export function flag(attrs: AttributeMap, name: AttributeName & BooleanAttribute): boolean | undefined {
  return attribute(attrs, name) as boolean | undefined;
}

type BooleanAttribute = 'Sensitive' | 'AlwaysSensitive' | 'Extractable' | 'NeverExtractable' | 'Fresh' | 'KeyValuePresent' | 'QuantumSafe';

/**
 * A copy of `attrs` with attribute `name` set to `values` (one instance per value, replacing any
 * there were); no values removes it.
 */
export function withAttributeValues<N extends AttributeName>(attrs: AttributeMap, name: N, ...values: ValueOf<N>[]): Map<AttributeKey, readonly TtlvNode[]> {
  const m = new Map(attrs);
  if (values.length === 0) m.delete(name);
  else
    m.set(
      name,
      values.map((v) => item(name, v)),
    );
  return m;
}

/** Set attribute `name` to `values` in a map being built (a new object's attributes). */
export function setAttributeValues<N extends AttributeName>(attrs: Map<AttributeKey, TtlvNode[]>, name: N, ...values: ValueOf<N>[]): void {
  if (values.length === 0) attrs.delete(name);
  else
    attrs.set(
      name,
      values.map((v) => item(name, v)),
    );
}

/** The object's Links (2.1 §4.33, 1.4 §3.35) as Link Type and Linked Object Identifier. */
export function links(attrs: AttributeMap): { readonly linkType: number; readonly uid: string }[] {
  return instances(attrs, 'Link').flatMap((l) => {
    const linkType = field(l, 'LinkType');
    const uid = field(l, 'LinkedObjectIdentifier');
    return linkType !== undefined && typeof uid === 'string' ? [{ linkType, uid }] : [];
  });
}

/** The Linked Object Identifier of the first Link of `linkType`. */
export function linkedUid(attrs: AttributeMap, linkType: number): string | undefined {
  return links(attrs).find((l) => l.linkType === linkType)?.uid;
}

/** A Link attribute instance. */
export function linkNode(linkType: number, uid: string): ItemOf<'Link'> {
  return item('Link', [item('LinkType', linkType), item('LinkedObjectIdentifier', uid)]);
}

/** Archived: Archive sets the server-only Archive Date (1.4 §3.33, 2.1 §4.5); its presence is the marker, Recover removes it. */
export function isArchived(attrs: AttributeMap): boolean {
  return hasAttribute(attrs, 'ArchiveDate');
}
