import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { generateItemTypeSources, ITEM_TYPES_FILE } from '../../scripts/gen-registry.js';
import { CryptographicAlgorithm, LinkType } from '../../src/kmip/generated/enums.gen.js';
import { ATTRIBUTE_NAMES, TAG_ITEM_TYPES } from '../../src/kmip/generated/item-types.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { field, fields, isItem, item, itemTypeFor, struct, valueOf } from '../../src/kmip/items.js';
import { tagDefByName } from '../../src/kmip/registry.js';
import { ATTRIBUTE_RULES } from '../../src/kmip/generated/attributes.gen.js';
import {
  attribute,
  attributeNode,
  attributes,
  flag,
  hasAttribute,
  instance,
  instances,
  linkedUid,
  linkNode,
  links,
  setAttributeValues,
  withAttributeValues,
} from '../../src/objects/typed-attributes.js';
import type { TtlvNode } from '../../src/ttlv/node.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');

describe('generated item types', () => {
  it('regenerating changes nothing', () => {
    const gen = generateItemTypeSources();
    expect(Object.keys(gen)).toEqual([ITEM_TYPES_FILE]);
    expect(readFileSync(join(ROOT, ITEM_TYPES_FILE), 'utf8') === gen[ITEM_TYPES_FILE], `${ITEM_TYPES_FILE} is stale: run npm run gen:registry`).toBe(true);
  });

  it('agree with the registry: every tag with its types, every attribute once', () => {
    for (const [name, types] of Object.entries(TAG_ITEM_TYPES)) expect([...types], name).toEqual([...(tagDefByName(name)?.types ?? ['missing'])]);
    expect(new Set(ATTRIBUTE_NAMES)).toEqual(new Set(ATTRIBUTE_RULES.map((r) => r.name)));
    expect(ATTRIBUTE_NAMES).toContain('CryptographicAlgorithm');
    expect(TAG_ITEM_TYPES.CryptographicLength).toEqual(['Integer']);
  });
});

describe('items by tag name', () => {
  it('build with the tag and item type the spec gives', () => {
    expect(item('CryptographicAlgorithm', CryptographicAlgorithm.AES)).toEqual({ tag: 0x420028, type: 'Enumeration', value: 3 });
    expect(item('CryptographicLength', 256)).toEqual({ tag: 0x42002a, type: 'Integer', value: 256 });
    expect(item('ActivationDate', 5n)).toEqual({ tag: 0x420001, type: 'DateTime', value: 5n });
    expect(item('UsageLimitsTotal', 5n)).toEqual({ tag: Tag.UsageLimitsTotal, type: 'LongInteger', value: 5n });
    expect(item('LeaseTime', 60)).toEqual({ tag: Tag.LeaseTime, type: 'Interval', value: 60 });
    expect(item('Sensitive', true)).toEqual({ tag: Tag.Sensitive, type: 'Boolean', value: true });
  });

  it('pick the type from the value where a tag has several', () => {
    // Unique Identifier: Integer | Enumeration | Text String | Identifier → a string is a Text String
    expect(itemTypeFor('UniqueIdentifier', 'x')).toBe('TextString');
    // Name: Text String (1.0 draft) | Structure → a list is a Structure
    expect(item('Name', [item('NameValue', 'k')]).type).toBe('Structure');
    expect(item('KeyMaterial', new Uint8Array(16)).type).toBe('ByteString');
    expect(item('KeyMaterial', []).type).toBe('Structure');
  });

  it('refuse a value no item type of the tag carries', () => {
    expect(() => item('CryptographicLength', 'long' as never)).toThrow(/CryptographicLength carries no string/);
    expect(() => item('ActivationDate', 5 as never)).toThrow(TypeError);
  });

  it('read fields of a structure by name, typed, ignoring other item types', () => {
    const s = struct('CryptographicParameters', [item('BlockCipherMode', 1), undefined, false, item('TagLength', 16), item('TagLength', 12)]);
    expect(s.value).toHaveLength(3);
    expect(field(s, 'BlockCipherMode')).toBe(1);
    expect(field(s, 'PaddingMethod')).toBeUndefined();
    expect(fields(s, 'TagLength')).toEqual([16, 12]);
    // a child with the right tag and a wrong item type is not a value of that field
    const bad: TtlvNode = { tag: Tag.CryptographicParameters, type: 'Structure', value: [{ tag: Tag.BlockCipherMode, type: 'TextString', value: 'CBC' }] };
    expect(field(bad, 'BlockCipherMode')).toBeUndefined();
    expect(isItem({ tag: Tag.BlockCipherMode, type: 'Enumeration', value: 1 }, 'BlockCipherMode')).toBe(true);
    expect(isItem({ tag: Tag.PaddingMethod, type: 'Enumeration', value: 1 }, 'BlockCipherMode')).toBe(false);
    expect(valueOf(item('CryptographicLength', 128), 'CryptographicLength')).toBe(128);
  });
});

describe('typed attributes over the attribute map', () => {
  const base = new Map<string, readonly TtlvNode[]>([
    ['CryptographicAlgorithm', [attributeNode('CryptographicAlgorithm', CryptographicAlgorithm.AES)]],
    ['CryptographicLength', [{ tag: Tag.CryptographicLength, type: 'TextString', value: '256' }]], // corrupt type: not served as a length
    ['ObjectGroup', [item('ObjectGroup', 'a'), item('ObjectGroup', 'b')]],
    ['Sensitive', [item('Sensitive', false)]],
    ['Link', [linkNode(LinkType.PublicKeyLink, 'pub-1'), linkNode(LinkType.ParentLink, 'p-1'), linkNode(LinkType.PublicKeyLink, 'pub-2')]],
  ]);

  it('read the first value, every value, presence and flags', () => {
    expect(attribute(base, 'CryptographicAlgorithm')).toBe(CryptographicAlgorithm.AES);
    expect(attribute(base, 'CryptographicLength')).toBeUndefined();
    expect(instance(base, 'CryptographicLength')).toBeUndefined();
    expect(attributes(base, 'ObjectGroup')).toEqual(['a', 'b']);
    expect(instances(base, 'ObjectGroup').map((n) => n.value)).toEqual(['a', 'b']);
    expect(hasAttribute(base, 'ObjectGroup')).toBe(true);
    expect(hasAttribute(base, 'Name')).toBe(false);
    expect(flag(base, 'Sensitive')).toBe(false);
    expect(flag(base, 'Extractable')).toBeUndefined();
    expect(instance(undefined, 'Name')).toBeUndefined();
  });

  it('read Links by type', () => {
    expect(links(base)).toEqual([
      { linkType: LinkType.PublicKeyLink, uid: 'pub-1' },
      { linkType: LinkType.ParentLink, uid: 'p-1' },
      { linkType: LinkType.PublicKeyLink, uid: 'pub-2' },
    ]);
    expect(linkedUid(base, LinkType.PublicKeyLink)).toBe('pub-1');
    expect(linkedUid(base, LinkType.ChildLink)).toBeUndefined();
  });

  it('write values as instances, without touching the original', () => {
    const next = withAttributeValues(base, 'ObjectGroup', 'c');
    expect(attributes(next, 'ObjectGroup')).toEqual(['c']);
    expect(attributes(base, 'ObjectGroup')).toEqual(['a', 'b']);
    expect(withAttributeValues(base, 'ObjectGroup').has('ObjectGroup')).toBe(false);
    const m = new Map<string, TtlvNode[]>();
    setAttributeValues(m, 'LastChangeDate', 7n);
    expect(m.get('LastChangeDate')).toEqual([{ tag: Tag.LastChangeDate, type: 'DateTime', value: 7n }]);
  });
});
