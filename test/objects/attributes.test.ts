import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { ObjectType, ResultReason, State } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { KmipError } from '../../src/kmip/errors.js';
import { parseSpecVersion } from '../../src/kmip/registry.js';
import { parseKmipXml } from '../../src/kmip/xml.js';
import {
  checkClientMayDelete,
  checkClientMayInitiallySet,
  checkClientMayModify,
  checkInstanceLimit,
  checkMultiple,
  checkSettable,
  findInstance,
  readAttribute1x,
  readAttributeReference2x,
  readAttributes1x,
  readAttributes2x,
  readAttributeWrapper2x,
  visibleAttributes,
  writeAttribute1x,
  writeAttributes1x,
  writeAttributes2x,
} from '../../src/objects/attributes.js';
import { customKey, type AttributeMap } from '../../src/objects/managed-object.js';
import { newUid } from '../../src/objects/identifiers.js';
import { nodesEqual, t, type TtlvNode } from '../../src/ttlv/node.js';
import { TESTCASES } from '../support/paths.js';

const CORPUS = TESTCASES;
const V14 = parseSpecVersion('1.4');
const V21 = parseSpecVersion('2.1');

function load(rel: string): TtlvNode[] {
  return parseKmipXml(readFileSync(`${CORPUS}/${rel}`, 'utf8'), { placeholders: (_n, type) => (type === 'DateTime' ? 1_600_000_000n : undefined) });
}
function* walk(n: TtlvNode): Generator<TtlvNode> {
  yield n;
  if (n.type === 'Structure') for (const c of n.value) yield* walk(c);
}
function first(nodes: TtlvNode[], tag: number): TtlvNode {
  for (const m of nodes) for (const n of walk(m)) if (n.tag === tag) return n;
  throw new Error(`no ${tag.toString(16)}`);
}
function all(nodes: TtlvNode[], tag: number): TtlvNode[] {
  return nodes.flatMap((m) => [...walk(m)].filter((n) => n.tag === tag));
}
/** Replace every Text String equal to `from` by `to` (the 1.4 and 2.1 test cases differ only in their names). */
function renameText(n: TtlvNode, from: string, to: string): TtlvNode {
  if (n.type === 'Structure') return { ...n, value: n.value.map((c) => renameText(c, from, to)) };
  return n.type === 'TextString' && n.value === from ? { ...n, value: to } : n;
}
function reason(f: () => unknown): number | undefined {
  try {
    f();
  } catch (e) {
    if (e instanceof KmipError) return e.reason;
    throw e;
  }
  return undefined;
}

describe('1.x ↔ 2.x on the OASIS test cases', () => {
  const c14 = load('1.4/mandatory/SKLC-M-1-14.xml');
  const c21 = load('2.1/mandatory/SKLC-M-1-21.xml');

  it('SKLC-M-1-14 Template-Attribute reads as SKLC-M-1-21 Attributes, and back', () => {
    const ta = first(c14, Tag.TemplateAttribute);
    const list = readAttributes1x([ta], V14);
    expect(list.map((a) => a.key)).toEqual(['CryptographicAlgorithm', 'CryptographicLength', 'CryptographicUsageMask', 'Name']);
    // 1.x Attribute Value re-tagged: an Enumeration tagged Cryptographic Algorithm, a Name structure keeps its children.
    expect(list[0]?.node).toEqual(t.enum(Tag.CryptographicAlgorithm, 3));
    expect(list[3]?.node.tag).toBe(Tag.Name);
    const attrs21 = renameText(first(c21, Tag.Attributes), 'SKLC-M-1-21', 'SKLC-M-1-14');
    expect(nodesEqual(writeAttributes2x(list), attrs21)).toBe(true);
    // 2.x → 1.x gives back the Template-Attribute's Attribute structures.
    const back = readAttributes2x(attrs21, V21).map((a) => writeAttribute1x(a.key, a.node));
    expect(back.length).toBe(4);
    back.forEach((b, i) => expect(nodesEqual(b, (ta as { value: readonly TtlvNode[] }).value[i] as TtlvNode), `attribute ${i}`).toBe(true));
  });

  it('a 1.4 Get Attributes response round-trips through the record form (indexes kept)', () => {
    const responses = load('1.4/testcases/TC-REKEY-1-14.xml');
    const attrs = all(responses, Tag.Attribute).filter((a) => a.type === 'Structure' && a.value.some((c) => c.tag === Tag.AttributeValue));
    expect(attrs.length).toBeGreaterThan(10);
    for (const a of attrs) {
      const r = readAttribute1x(a, V14);
      expect(nodesEqual(writeAttribute1x(r.key, r.node, r.index), a)).toBe(true);
    }
    expect(attrs.some((a) => readAttribute1x(a, V14).index === 1)).toBe(true);
  });

  it('custom attributes: 1.x "x-ID" (TC-NP-2-14) and the 2.x vendor Attribute (TC-SJ-3-21) are the same key', () => {
    const xAttr = all(load('1.4/testcases/TC-NP-2-14.xml'), Tag.Attribute).find(
      (a) => a.type === 'Structure' && a.value.some((c) => c.type === 'TextString' && c.value === 'x-ID'),
    ) as TtlvNode;
    const x = readAttributes1x([xAttr], V14);
    expect(nodesEqual(writeAttribute1x(x[0]!.key, x[0]!.node), xAttr)).toBe(true);
    expect(x[0]?.key).toBe(customKey('x', 'ID'));
    expect(x[0]?.node).toEqual(t.text(Tag.AttributeValue, 'TC-NP-2-14'));
    const v = readAttributes2x(first(load('2.1/testcases/TC-SJ-3-21.xml'), Tag.Attributes), V21);
    expect(v[0]?.key).toBe(customKey('x', 'ID'));
    const w = writeAttributes2x(v);
    expect(nodesEqual(w, first(load('2.1/testcases/TC-SJ-3-21.xml'), Tag.Attributes))).toBe(true);
    expect(writeAttribute1x(v[0]!.key, v[0]!.node)).toEqual(t.struct(Tag.Attribute, [t.text(Tag.AttributeName, 'x-ID'), t.text(Tag.AttributeValue, 'TC-SJ-3-21-split1')]));
  });

  it('2.x Attribute Reference, New Attribute (SKLC-M-1-21, SKLC-M-3-21)', () => {
    expect(
      all(c21, Tag.AttributeReference)
        .map((r) => readAttributeReference2x(r, V21))
        .slice(0, 3),
    ).toEqual(['State', 'CryptographicUsageMask', 'UniqueIdentifier']);
    const na = first(load('2.1/mandatory/SKLC-M-3-21.xml'), Tag.NewAttribute);
    expect(readAttributeWrapper2x(na, V21)).toEqual({ key: 'ActivationDate', node: t.date(Tag.ActivationDate, 1_600_000_000n) });
    const vendorRef = t.struct(Tag.AttributeReference, [t.text(Tag.VendorIdentification, 'acme.1'), t.text(Tag.AttributeName, 'colour')]);
    expect(readAttributeReference2x(vendorRef, V21)).toBe(customKey('acme.1', 'colour'));
  });
});

describe('reading: errors', () => {
  const attr1 = (name: string, value: TtlvNode, index?: number) =>
    t.struct(Tag.Attribute, [t.text(Tag.AttributeName, name), ...(index === undefined ? [] : [t.int(Tag.AttributeIndex, index)]), { ...value, tag: Tag.AttributeValue } as TtlvNode]);

  it('unknown 1.x attribute name → Invalid Field (1.4 §11.2); 2.x-only name in 1.x → Invalid Field', () => {
    expect(reason(() => readAttribute1x(attr1('Colour', t.text(0, 'red')), V14))).toBe(ResultReason.InvalidField);
    expect(reason(() => readAttribute1x(attr1('Quantum Safe', t.bool(0, true)), V14))).toBe(ResultReason.InvalidField);
    expect(readAttribute1x(attr1('Quantum Safe', t.bool(0, true)), parseSpecVersion('2.0')).key).toBe('QuantumSafe');
  });
  it('wrong item type → Invalid Field (1.x) / Invalid Attribute Value (2.x)', () => {
    expect(reason(() => readAttribute1x(attr1('Cryptographic Length', t.text(0, '256')), V14))).toBe(ResultReason.InvalidField);
    expect(reason(() => readAttributes2x(t.struct(Tag.Attributes, [t.text(Tag.CryptographicLength, '256')]), V21))).toBe(ResultReason.InvalidAttributeValue);
  });
  it('2.x: a non-attribute tag → Invalid Attribute; a 1.x-only attribute → Invalid Attribute; unknown tag → Unknown Tag', () => {
    expect(reason(() => readAttributes2x(t.struct(Tag.Attributes, [t.int(Tag.BatchCount, 1)]), V21))).toBe(ResultReason.InvalidAttribute);
    expect(reason(() => readAttributes2x(t.struct(Tag.Attributes, [t.text(Tag.OperationPolicyName, 'p')]), V21))).toBe(ResultReason.InvalidAttribute);
    expect(reason(() => readAttributes2x(t.struct(Tag.Attributes, [t.text(0x540001, 'p')]), V21))).toBe(ResultReason.UnknownTag);
  });
  it('a Template-Attribute naming a Template → Item Not Found (1.4 §11.2 "Templates that do not exist")', () => {
    const ta = t.struct(Tag.TemplateAttribute, [t.struct(Tag.Name, [t.text(Tag.NameValue, 'tpl'), t.enum(Tag.NameType, 1)])]);
    expect(reason(() => readAttributes1x([ta], V14))).toBe(ResultReason.ItemNotFound);
  });
  it('negative Attribute Index, bad Vendor Identification → Invalid Field', () => {
    expect(reason(() => readAttribute1x(attr1('Name', t.struct(0, []), -1), V14))).toBe(ResultReason.InvalidField);
    const bad = t.struct(Tag.Attribute, [t.text(Tag.VendorIdentification, 'a b'), t.text(Tag.AttributeName, 'n'), t.int(Tag.AttributeValue, 1)]);
    expect(reason(() => readAttributes2x(t.struct(Tag.Attributes, [bad]), V21))).toBe(ResultReason.InvalidField);
  });
  it('custom attributes: any item type, 1,024+ character names and values, 64+ per object, stored verbatim', () => {
    const long = 'n'.repeat(4096);
    const items: TtlvNode[] = [];
    const values: TtlvNode[] = [
      t.text(0, 'v'.repeat(4096)),
      t.bytes(0, new Uint8Array(2048)),
      t.int(0, -5),
      t.long(0, 1n << 62n),
      t.bool(0, false),
      t.date(0, 5n),
      t.interval(0, 9),
      t.enum(0, 0x80000001),
      t.struct(0, [t.text(Tag.NameValue, 'inner')]),
    ];
    for (let i = 0; i < 100; i++) items.push(attr1(`x-${long}${i}`, values[i % values.length] as TtlvNode));
    const read = readAttributes1x(items, V14);
    expect(read.length).toBe(100);
    const map: AttributeMap = new Map(read.map((a) => [a.key, [a.node]]));
    const out = writeAttributes1x(map, V14);
    out.forEach((o, i) => expect(nodesEqual(o, items[i] as TtlvNode)).toBe(true));
    const as2 = writeAttributes2x(read);
    expect(readAttributes2x(as2, V21)).toEqual(read);
  });
});

describe('version gate', () => {
  it('a 1.x client never sees 2.x attributes or non-x/y vendor attributes; 2.x never sees 1.x-only ones', () => {
    const map: AttributeMap = new Map<string, TtlvNode[]>([
      ['CryptographicLength', [t.int(Tag.CryptographicLength, 128)]],
      ['QuantumSafe', [t.bool(Tag.QuantumSafe, true)]],
      ['OperationPolicyName', [t.text(Tag.OperationPolicyName, 'default')]],
      [customKey('x', 'a'), [t.int(Tag.AttributeValue, 1)]],
      [customKey('acme', 'b'), [t.int(Tag.AttributeValue, 2)]],
    ]);
    expect([...visibleAttributes(map, V14).keys()]).toEqual(['CryptographicLength', 'OperationPolicyName', customKey('x', 'a')]);
    expect([...visibleAttributes(map, V21).keys()]).toEqual(['CryptographicLength', 'QuantumSafe', customKey('x', 'a'), customKey('acme', 'b')]);
    expect([...visibleAttributes(map, parseSpecVersion('1.0')).keys()]).toEqual(['CryptographicLength', 'OperationPolicyName', customKey('x', 'a')]);
  });
});

describe('rule checks, with the spec reason for each version', () => {
  const SK = ObjectType.SymmetricKey;
  it('initial set: server-only attribute', () => {
    expect(reason(() => checkClientMayInitiallySet('UniqueIdentifier', SK, V14))).toBe(ResultReason.InvalidField); // 1.4 §11.2
    expect(reason(() => checkClientMayInitiallySet('UniqueIdentifier', SK, V14, 'add'))).toBe(ResultReason.PermissionDenied); // 1.4 §11.15
    expect(reason(() => checkClientMayInitiallySet('UniqueIdentifier', SK, V21))).toBe(ResultReason.AttributeReadOnly); // 2.1 §6.1.8.1
    expect(reason(() => checkClientMayInitiallySet('State', SK, V21, 'add'))).toBe(ResultReason.ReadOnlyAttribute); // 2.1 §6.1.2.1
    expect(reason(() => checkClientMayInitiallySet('Name', SK, V21))).toBeUndefined();
    // Cryptographic Algorithm is "Initially set by: Server" but comes from the Create request.
    expect(reason(() => checkClientMayInitiallySet('CryptographicAlgorithm', SK, V21))).toBeUndefined();
    expect(reason(() => checkClientMayInitiallySet('CryptographicAlgorithm', SK, V21, 'add'))).toBe(ResultReason.ReadOnlyAttribute);
  });
  it('initial set: attribute not for this object type', () => {
    // Cryptographic Domain Parameters: Public/Private Keys only.
    expect(reason(() => checkClientMayInitiallySet('CryptographicDomainParameters', SK, V21))).toBe(ResultReason.InvalidAttribute);
    expect(reason(() => checkClientMayInitiallySet('CryptographicDomainParameters', SK, V14))).toBe(ResultReason.InvalidField);
    expect(reason(() => checkClientMayInitiallySet('CryptographicDomainParameters', SK, V14, 'add'))).toBe(ResultReason.PermissionDenied);
    expect(reason(() => checkClientMayInitiallySet('CryptographicDomainParameters', ObjectType.PublicKey, V14))).toBeUndefined();
    expect(reason(() => checkClientMayInitiallySet('Colour', SK, V21))).toBe(ResultReason.InvalidAttribute);
  });
  it('vendor "y" attributes belong to the server (1.4 §3.39, 2.1 §4.60)', () => {
    expect(reason(() => checkClientMayInitiallySet(customKey('y', 'a'), SK, V14))).toBe(ResultReason.InvalidField);
    expect(reason(() => checkClientMayInitiallySet(customKey('y', 'a'), SK, V21, 'add'))).toBe(ResultReason.ReadOnlyAttribute);
    expect(reason(() => checkClientMayModify(customKey('y', 'a'), SK, State.Active, V21))).toBe(ResultReason.AttributeReadOnly);
    expect(reason(() => checkClientMayDelete(customKey('y', 'a'), V14))).toBe(ResultReason.PermissionDenied);
    expect(reason(() => checkClientMayDelete(customKey('x', 'a'), V14))).toBeUndefined();
  });
  it('single-valued attributes', () => {
    expect(reason(() => checkMultiple('CryptographicLength', 1, 1, V14))).toBe(ResultReason.IllegalOperation); // 1.4 §11.15
    expect(reason(() => checkMultiple('CryptographicLength', 0, 2, V14, 'create'))).toBe(ResultReason.InvalidField); // 1.4 §11.2
    expect(reason(() => checkMultiple('CryptographicLength', 1, 1, V21))).toBe(ResultReason.AttributeSingleValued); // 2.1 §6.1.2.1
    expect(reason(() => checkMultiple('Name', 5, 1, V21))).toBeUndefined();
    expect(reason(() => checkMultiple(customKey('x', 'a'), 5, 1, V14))).toBeUndefined();
    expect(reason(() => checkSettable('Name', V21))).toBe(ResultReason.MultiValuedAttribute); // 2.1 §6.1.51.1
    expect(reason(() => checkSettable('ContactInformation', V21))).toBeUndefined();
  });
  it('instance limit → Index Out of Bounds (1.x) / Server Limit Exceeded (2.x)', () => {
    expect(reason(() => checkInstanceLimit('Name', 11, 10, V14))).toBe(ResultReason.IndexOutOfBounds);
    expect(reason(() => checkInstanceLimit('Name', 11, 10, V21))).toBe(ResultReason.ServerLimitExceeded);
    expect(reason(() => checkInstanceLimit('Name', 10, 10, V21))).toBeUndefined();
  });
  it('modify', () => {
    expect(reason(() => checkClientMayModify('CryptographicLength', SK, State.PreActive, V14))).toBe(ResultReason.PermissionDenied); // 1.4 §11.16
    expect(reason(() => checkClientMayModify('CryptographicLength', SK, State.PreActive, V21))).toBe(ResultReason.AttributeReadOnly); // 2.1 §6.1.34.1
    expect(reason(() => checkClientMayModify('ActivationDate', SK, State.PreActive, V21))).toBeUndefined();
    expect(reason(() => checkClientMayModify('ActivationDate', SK, State.Active, V21))).toBe(ResultReason.WrongKeyLifecycleState); // SKLC-M-3-21
    expect(reason(() => checkClientMayModify('ActivationDate', SK, State.Active, V14))).toBe(ResultReason.PermissionDenied); // SKLC-M-3-14
    expect(reason(() => checkClientMayModify('DeactivationDate', SK, State.Active, V21))).toBeUndefined();
    expect(reason(() => checkClientMayModify('DeactivationDate', SK, State.Deactivated, V21))).toBe(ResultReason.WrongKeyLifecycleState);
  });
  it('delete', () => {
    expect(reason(() => checkClientMayDelete('ActivationDate', V14))).toBe(ResultReason.PermissionDenied); // 1.4 §11.17
    expect(reason(() => checkClientMayDelete('ActivationDate', V21))).toBe(ResultReason.AttributeReadOnly); // 2.1 §6.1.13.1
    expect(reason(() => checkClientMayDelete('Name', V21))).toBeUndefined();
  });
  it('finding the instance a request names', () => {
    const name = (s: string) => t.struct(Tag.Name, [t.text(Tag.NameValue, s), t.enum(Tag.NameType, 1)]);
    const map: AttributeMap = new Map([['Name', [name('a'), name('b')]]]);
    expect(findInstance(map, 'Name', V14, { index: 1, via: 'modify' })).toBe(1);
    expect(findInstance(map, 'Name', V21, { current: name('b'), via: 'delete' })).toBe(1);
    expect(reason(() => findInstance(map, 'Name', V14, { index: 2, via: 'modify' }))).toBe(ResultReason.ItemNotFound); // 1.4 §11.16
    expect(reason(() => findInstance(map, 'Name', V21, { index: 2, via: 'modify' }))).toBe(ResultReason.AttributeInstanceNotFound);
    expect(reason(() => findInstance(map, 'Name', V21, { current: name('c'), via: 'delete' }))).toBe(ResultReason.AttributeInstanceNotFound);
    expect(reason(() => findInstance(map, 'ObjectGroup', V14, { via: 'modify' }))).toBe(ResultReason.InvalidField); // 1.4 §11.16
    expect(reason(() => findInstance(map, 'ObjectGroup', V14, { via: 'delete' }))).toBe(ResultReason.ItemNotFound); // 1.4 §11.17
    expect(reason(() => findInstance(map, 'ObjectGroup', V21, { via: 'delete' }))).toBe(ResultReason.AttributeNotFound); // 2.1 §6.1.13.1
  });
});

describe('identifiers', () => {
  it('newUid is a random UUID v4', () => {
    const a = newUid();
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(new Set(Array.from({ length: 1000 }, newUid)).size).toBe(1000);
  });
});
