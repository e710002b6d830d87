/**
 * Typed TTLV items by tag name, over the registry (generated/item-types.gen.ts): `item(name, value)`
 * builds an item with the tag's own tag value and item type, and `field(node, name)` reads a
 * child of a structure as the value its item type carries. The compiler checks the value against
 * the item types the spec gives the tag (a Cryptographic Length is a number, a Unique Identifier a
 * string, a Key Block a list of items), so handlers name fields as the spec does and never spell
 * out `{ tag, type, value }` or compare tag numbers.
 */
import { TAG_ITEM_TYPES } from './generated/item-types.gen.js';
import { Tag, type TagName } from './generated/tags.gen.js';
import type { ItemTypeName } from '../ttlv/item-type.js';
import type { NodeOf, StructureNode, TtlvNode } from '../ttlv/node.js';

/** The value each item type carries (src/ttlv/node.ts). */
export interface ItemValues {
  Structure: readonly TtlvNode[];
  Integer: number;
  LongInteger: bigint;
  BigInteger: Uint8Array;
  Enumeration: number;
  Boolean: boolean;
  TextString: string;
  ByteString: Uint8Array;
  DateTime: bigint;
  Interval: number;
  DateTimeExtended: bigint;
  Identifier: string;
  Reference: string;
  NameReference: string;
}

/** The item types the spec gives tag `N`. */
export type ItemTypesOf<N extends TagName> = (typeof TAG_ITEM_TYPES)[N][number];
/** The value an item of tag `N` carries. */
export type ValueOf<N extends TagName> = ItemValues[ItemTypesOf<N> & keyof ItemValues];
/** The node an item of tag `N` is. */
export type ItemOf<N extends TagName> = NodeOf<ItemTypesOf<N> & TtlvNode['type']>;

const KIND: Readonly<Record<string, readonly ItemTypeName[]>> = {
  number: ['Integer', 'Enumeration', 'Interval'],
  bigint: ['LongInteger', 'DateTime', 'DateTimeExtended'],
  string: ['TextString', 'Identifier', 'Reference', 'NameReference'],
  boolean: ['Boolean'],
  bytes: ['ByteString', 'BigInteger'],
  list: ['Structure'],
};

function kindOf(value: unknown): string {
  if (Array.isArray(value)) return 'list';
  if (value instanceof Uint8Array) return 'bytes';
  return typeof value;
}

/**
 * The item type `item(name, value)` gives a value of this kind: the first of the tag's types
 * that carries such values (a Unique Identifier string is a Text String, a Name list a Structure).
 */
export function itemTypeFor(name: TagName, value: unknown): ItemTypeName {
  const kinds = KIND[kindOf(value)] ?? [];
  const type = (TAG_ITEM_TYPES[name] as readonly ItemTypeName[]).find((t) => kinds.includes(t));
  if (type === undefined) throw new TypeError(`${name} carries no ${kindOf(value)} value (its item types: ${TAG_ITEM_TYPES[name].join(', ') || 'none'})`);
  return type;
}

/** An item of tag `name` holding `value`. */
export function item<N extends TagName>(name: N, value: ValueOf<N>): ItemOf<N> {
  return { tag: Tag[name], type: itemTypeFor(name, value), value } as ItemOf<N>;
}

/** A Structure of tag `name` from its children, leaving out the undefined ones (optional fields). */
export function struct(name: TagName, children: readonly (TtlvNode | undefined | false)[]): StructureNode {
  return { tag: Tag[name], type: 'Structure', value: children.filter((c): c is TtlvNode => c !== undefined && c !== false) };
}

/** Whether `node` is an item of tag `name` with one of the item types the spec gives it. */
export function isItem<N extends TagName>(node: TtlvNode | undefined, name: N): node is ItemOf<N> {
  return node !== undefined && node.tag === Tag[name] && (TAG_ITEM_TYPES[name] as readonly string[]).includes(node.type);
}

/** The value of an item of tag `name` (undefined: not such an item, or of another item type). */
export function valueOf<N extends TagName>(node: TtlvNode | undefined, name: N): ValueOf<N> | undefined {
  return isItem(node, name) ? (node.value as ValueOf<N>) : undefined;
}

/** The first child of `node` (a Structure) with tag `name`, as a typed item. */
export function child<N extends TagName>(node: TtlvNode | undefined, name: N): ItemOf<N> | undefined {
  if (node?.type !== 'Structure') return undefined;
  const tag = Tag[name];
  const c = node.value.find((x) => x.tag === tag);
  return isItem(c, name) ? c : undefined;
}

/** The value of the first child of `node` with tag `name` (undefined: absent or of another type). */
export function field<N extends TagName>(node: TtlvNode | undefined, name: N): ValueOf<N> | undefined {
  return child(node, name)?.value as ValueOf<N> | undefined;
}

/** The values of every child of `node` with tag `name` and one of its item types. */
export function fields<N extends TagName>(node: TtlvNode | undefined, name: N): ValueOf<N>[] {
  if (node?.type !== 'Structure') return [];
  return node.value.filter((c) => isItem(c, name)).map((c) => c.value as ValueOf<N>);
}
