/**
 * Index values and index terms.
 *
 * `indexValue(node)` turns one TTLV value into bytes whose unsigned lexicographic order is
 * the value order *within one item type*. The first byte is the node's TTLV item type code
 * (ItemType), so values of different types never compare equal and each type occupies its
 * own contiguous key range (an Integer 5 is not an Enumeration 5, and a text "\x00\x00\x00\x05"
 * is neither). After that byte:
 *
 * | type                                        | bytes                                          | order      |
 * | ------------------------------------------- | ---------------------------------------------- | ---------- |
 * | Integer                                     | 4, big-endian, sign bit flipped                | numeric    |
 * | LongInteger, DateTime, DateTimeExtended     | 8, big-endian, sign bit flipped                | numeric    |
 * | Enumeration, Interval                       | 4, big-endian, unsigned                        | numeric    |
 * | Boolean                                     | 1: 0x00 false, 0x01 true                       | false<true |
 * | TextString, Identifier, Reference, NameRef. | UTF-8                                          | code point |
 * | ByteString                                  | the raw bytes                                  | bytewise   |
 * | BigInteger                                  | the raw two's-complement bytes as stored       | equality only |
 * | Structure                                   | its binary TTLV encoding (src/ttlv/encode.ts)  | equality only |
 *
 * Build query bounds with the same function: `{ field: 'ActivationDate', from:
 * indexValue(t.date(Tag.ActivationDate, lo)), to: indexValue(t.date(Tag.ActivationDate, hi)) }`.
 * The tag of the node does not take part (only its type and value), except inside a
 * Structure's encoding.
 *
 * `indexTerms(record)` lists the index entries of one record; see its comment for the rules.
 */
import { encode } from '../ttlv/encode.js';
import { ItemType } from '../ttlv/item-type.js';
import type { TtlvNode, StructureNode } from '../ttlv/node.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { parseCustomKey, type ObjectRecord } from '../objects/managed-object.js';

export interface IndexTerm {
  readonly field: string;
  readonly value: Uint8Array;
}

/** Record-level pseudo fields (not attributes). */
export const RecordField = {
  ObjectType: '$objectType',
  State: '$state',
  Owner: '$owner',
} as const;

const SIGN64 = 1n << 63n;

/** The order-preserving index encoding of one TTLV value (see the table above). */
export function indexValue(node: TtlvNode): Buffer {
  const code = ItemType[node.type];
  switch (node.type) {
    case 'Integer': {
      const b = Buffer.allocUnsafe(5);
      b[0] = code;
      b.writeUInt32BE((node.value ^ 0x80000000) >>> 0, 1);
      return b;
    }
    case 'Enumeration':
    case 'Interval': {
      const b = Buffer.allocUnsafe(5);
      b[0] = code;
      b.writeUInt32BE(node.value >>> 0, 1);
      return b;
    }
    case 'LongInteger':
    case 'DateTime':
    case 'DateTimeExtended': {
      const b = Buffer.allocUnsafe(9);
      b[0] = code;
      b.writeBigUInt64BE(BigInt.asUintN(64, node.value) ^ SIGN64, 1);
      return b;
    }
    case 'Boolean':
      return Buffer.from([code, node.value ? 1 : 0]);
    case 'TextString':
    case 'Identifier':
    case 'Reference':
    case 'NameReference': {
      const n = Buffer.byteLength(node.value, 'utf8');
      const b = Buffer.allocUnsafe(1 + n);
      b[0] = code;
      b.write(node.value, 1, 'utf8');
      return b;
    }
    case 'ByteString':
    case 'BigInteger':
      return prefixed(code, node.value);
    case 'Structure':
      return prefixed(code, encode(node));
  }
}

/** Shorthand for the index value of a Text String (names, owners, identifiers). */
export function indexText(text: string): Buffer {
  return indexValue({ tag: 0, type: 'TextString', value: text });
}

/** Shorthand for the index value of an Enumeration (object type, state, link type …). */
export function indexEnum(value: number): Buffer {
  return indexValue({ tag: 0, type: 'Enumeration', value });
}

function prefixed(code: number, bytes: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(1 + bytes.length);
  b[0] = code;
  b.set(bytes, 1);
  return b;
}

/** The field under which a Link of the given Link Type is indexed: `Link:<LinkType number>`. */
export function linkField(linkType: number): string {
  return `Link:${linkType}`;
}

/** The field under which Application Specific Information of a namespace is indexed. */
export function applicationField(namespace: string): string {
  return `ApplicationSpecificInformation:${namespace}`;
}

function child(s: StructureNode, tag: number): TtlvNode | undefined {
  for (const c of s.value) if (c.tag === tag) return c;
  return undefined;
}

/**
 * The index entries of a record. Entries are unique per record (duplicates dropped).
 *
 * Record fields:
 * - `$objectType`: the Object Type as an Enumeration; `$state`: the State as an Enumeration;
 *   `$owner`: the owner as a Text String.
 *
 * Attributes: one entry for every attribute key and every instance, under the key's own
 * name, whose value is `indexValue(instance)` — a Structure instance is thus indexed by its
 * TTLV encoding (equality only). KMIP-aware refinements, chosen so that Locate can ask
 * for what clients actually search by:
 * - Name (a Name structure): field `Name`, value = its Name Value (a Text String), so a
 *   Name is found by its text whatever its Name Type.
 * - Alternative Name (a structure): field `AlternativeName`, value = its Alternative Name Value.
 * - Object Group (a Text String): field `ObjectGroup`, value = its text (the general rule).
 * - Link (a structure): field `Link:<LinkType number>` (see `linkField`), value = its Linked
 *   Object Identifier (usually a Text String). *In addition* the general entry under
 *   `Link` (the structure's encoding) is kept, so `{ field: 'Link', exists: true }` finds
 *   every linked object.
 * - Application Specific Information (a structure): field
 *   `ApplicationSpecificInformation:<namespace>` (see `applicationField`), value = its
 *   Application Data (a Text String; an empty text when absent). Here too the general
 *   entry under `ApplicationSpecificInformation` is kept for `exists`.
 * - Custom attributes (`custom:<vendor>:<name>`): the general rule applied to their
 *   value node (the Attribute Value), whatever its item type.
 * A refined structure that lacks the child the rule reads (malformed) falls back to the
 * general rule under the key's own name.
 */
export function indexTerms(record: ObjectRecord): IndexTerm[] {
  const out: IndexTerm[] = [];
  const seen = new Set<string>();
  const add = (field: string, value: Buffer): void => {
    const k = `${field}\u0000${value.toString('latin1')}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push({ field, value });
  };
  add(RecordField.ObjectType, indexEnum(record.objectType));
  add(RecordField.State, indexEnum(record.state));
  add(RecordField.Owner, indexText(record.owner));

  for (const [key, instances] of record.attributes) {
    const custom = parseCustomKey(key) !== undefined;
    for (const inst of instances) {
      if (!custom && inst.type === 'Structure') {
        if (key === 'Name') {
          const v = child(inst, Tag.NameValue);
          if (v) {
            add('Name', indexValue(v));
            continue;
          }
        } else if (key === 'AlternativeName') {
          const v = child(inst, Tag.AlternativeNameValue);
          if (v) {
            add('AlternativeName', indexValue(v));
            continue;
          }
        } else if (key === 'Link') {
          const lt = child(inst, Tag.LinkType);
          const id = child(inst, Tag.LinkedObjectIdentifier);
          if (lt && lt.type === 'Enumeration' && id) add(linkField(lt.value), indexValue(id));
        } else if (key === 'ApplicationSpecificInformation') {
          const ns = child(inst, Tag.ApplicationNamespace);
          if (ns && ns.type === 'TextString') {
            const data = child(inst, Tag.ApplicationData);
            add(applicationField(ns.value), data ? indexValue(data) : indexText(''));
          }
        }
      }
      add(key, indexValue(inst));
    }
  }
  return out;
}
