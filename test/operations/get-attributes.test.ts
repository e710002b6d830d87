/**
 * Get Attributes (1.4 §4.12, 2.1 §6.1.20) and Get Attribute List (1.4 §4.13, 2.1 §6.1.21) over a
 * real mTLS server with a LevelDB store. Objects are seeded straight into the store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KmipClient } from '../../src/client/index.js';
import { CryptographicAlgorithm, NameType, ObjectType, Operation, ResultReason, State } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { customKey } from '../../src/objects/managed-object.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/node.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attributes1x, attributes2x, batch, call, date, failed, ok, seed, tagRef, uidText, V12, V14, V20, V21, vendorRef } from './attribute-kit.js';

const NOW = 1_700_000_000;
const name = (v: string) => t.struct(Tag.Name, [t.text(Tag.NameValue, v), t.enum(Tag.NameType, NameType.UninterpretedTextString)]);

let srv: TestKms;
let owner: KmipClient;
let alice: KmipClient;
let bob: KmipClient;
let admin: KmipClient;
let uid: string;

beforeAll(async () => {
  srv = await startTestKms(
    { access: { administrators: ['admin'], grants: [{ identity: 'bob', objectGroup: 'shared', operations: ['GetAttributes', 'GetAttributeList'] }] } },
    { clock: () => NOW * 1000 },
  );
  [owner, alice, bob, admin] = await Promise.all([srv.client(), srv.client('alice'), srv.client('bob'), srv.client('admin')]);
  uid = await seed(srv, {
    attributes: [
      ['CryptographicAlgorithm', [t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES)]],
      ['CryptographicLength', [t.int(Tag.CryptographicLength, 256)]],
      ['Name', [name('first'), name('second')]],
      ['InitialDate', [date(Tag.InitialDate, NOW - 100)]],
      ['ActivationDate', [date(Tag.ActivationDate, NOW - 10)]], // reached: reads as Active
      ['OperationPolicyName', [t.text(Tag.OperationPolicyName, 'default')]], // 1.x only
      [customKey('x', 'ID'), [t.text(Tag.AttributeValue, 'id-1')]],
      [customKey('acme', 'Color'), [t.text(Tag.AttributeValue, 'blue')]], // 2.x vendor: no 1.x name
      ['Digest', [t.struct(Tag.Digest, [t.enum(Tag.HashingAlgorithm, 6), t.bytes(Tag.DigestValue, new Uint8Array(32).fill(7)), t.enum(Tag.KeyFormatType, 1)])]],
      ['$creationOrder', [t.long(0x54ff80, 1n)]], // server-internal: never shown
    ],
  });
});
afterAll(async () => srv?.dispose());

describe('Get Attributes, KMIP 1.x', () => {
  it('no names: every attribute the version defines, derived ones included, instances with their index', async () => {
    const p = ok(await call(owner, V14, Operation.GetAttributes, [uidText(uid)]));
    expect(p.value[0]).toEqual(uidText(uid));
    const got = attributes1x(p);
    const names = got.map((a) => `${a.name}#${a.index}`);
    expect(names).toEqual(expect.arrayContaining(['Unique Identifier#0', 'Object Type#0', 'State#0', 'Cryptographic Algorithm#0', 'Name#0', 'Name#1', 'Operation Policy Name#0', 'x-ID#0']));
    expect(names.some((n) => n.includes('Color') || n.includes('creation'))).toBe(false);
    // Effective state: Pre-Active stored, Activation Date passed.
    expect(got.find((a) => a.name === 'State')?.value).toMatchObject({ type: 'Enumeration', value: State.Active });
    // Index written only when > 0.
    const second = (p.value.filter((c) => c.tag === Tag.Attribute) as StructureNode[]).find((a) => a.value.some((c) => c.type === 'Structure' && JSON.stringify(c).includes('second')));
    expect(second?.value.map((c) => c.tag)).toEqual([Tag.AttributeName, Tag.AttributeIndex, Tag.AttributeValue]);
  });

  it('named attributes, in request order, all instances; an absent one is left out', async () => {
    const p = ok(
      await call(owner, V14, Operation.GetAttributes, [uidText(uid), t.text(Tag.AttributeName, 'x-ID'), t.text(Tag.AttributeName, 'Object Group'), t.text(Tag.AttributeName, 'Name')]),
    );
    expect(attributes1x(p).map((a) => [a.name, a.index])).toEqual([
      ['x-ID', 0],
      ['Name', 0],
      ['Name', 1],
    ]);
    expect(attributes1x(p)[0]?.value).toEqual(t.text(Tag.AttributeValue, 'id-1'));
  });

  it('Digest as each version defines it: no Key Format Type in 1.0 (1.0 Table 58), with it from 1.1 (1.1 Table 70)', async () => {
    const digest = async (v: { major: number; minor: number }) => {
      const p = ok(await call(owner, v, Operation.GetAttributes, [uidText(uid), t.text(Tag.AttributeName, 'Digest')]));
      const value = attributes1x(p)[0]?.value;
      return value?.type === 'Structure' ? value.value.map((c) => c.tag) : [];
    };
    expect(await digest({ major: 1, minor: 0 })).toEqual([Tag.HashingAlgorithm, Tag.DigestValue]);
    expect(await digest({ major: 1, minor: 1 })).toEqual([Tag.HashingAlgorithm, Tag.DigestValue, Tag.KeyFormatType]);
    expect(await digest(V14)).toEqual([Tag.HashingAlgorithm, Tag.DigestValue, Tag.KeyFormatType]);
  });

  it('no requested attribute exists: only the Unique Identifier', async () => {
    const p = ok(await call(owner, V12, Operation.GetAttributes, [uidText(uid), t.text(Tag.AttributeName, 'Object Group')]));
    expect(p.value).toEqual([uidText(uid)]);
  });

  it('the same name twice: Invalid Message (1.4 §11.13)', async () => {
    failed(await call(owner, V14, Operation.GetAttributes, [uidText(uid), t.text(Tag.AttributeName, 'Name'), t.text(Tag.AttributeName, 'Name')]), ResultReason.InvalidMessage);
  });

  it('a name that is no attribute: Invalid Field', async () => {
    failed(await call(owner, V14, Operation.GetAttributes, [uidText(uid), t.text(Tag.AttributeName, 'Favourite Colour')]), ResultReason.InvalidField);
  });

  it('unknown object, and another identity’s object: Item Not Found', async () => {
    failed(await call(owner, V14, Operation.GetAttributes, [uidText('no-such-object')]), ResultReason.ItemNotFound);
    failed(await call(alice, V14, Operation.GetAttributes, [uidText(uid)]), ResultReason.ItemNotFound);
  });

  it('administrators and grants by Object Group reach others’ objects; a grant for another group does not', async () => {
    ok(await call(admin, V14, Operation.GetAttributes, [uidText(uid)]));
    failed(await call(bob, V14, Operation.GetAttributes, [uidText(uid)]), ResultReason.ItemNotFound);
    const shared = await seed(srv, { owner: 'alice', attributes: [['ObjectGroup', [t.text(Tag.ObjectGroup, 'shared')]]] });
    const p = ok(await call(bob, V14, Operation.GetAttributes, [uidText(shared), t.text(Tag.AttributeName, 'Object Group')]));
    expect(attributes1x(p).map((a) => a.value)).toEqual([t.text(Tag.AttributeValue, 'shared')]);
  });

  it('without a Unique Identifier the ID Placeholder is used (after a Locate that found one object)', async () => {
    const u = await seed(srv, { attributes: [[customKey('x', 'ID'), [t.text(Tag.AttributeValue, 'placeholder-case')]]] });
    const items = await batch(owner, V14, [
      [Operation.Locate, [t.struct(Tag.Attribute, [t.text(Tag.AttributeName, 'x-ID'), t.text(Tag.AttributeValue, 'placeholder-case')])]],
      [Operation.GetAttributes, [t.text(Tag.AttributeName, 'x-ID')]],
    ]);
    expect(ok(items[1]!).value[0]).toEqual(uidText(u));
    // No placeholder at all: Invalid Field.
    failed(await call(owner, V14, Operation.GetAttributes, []), ResultReason.InvalidField);
  });
});

describe('Get Attributes, KMIP 2.x', () => {
  it('no references: one Attributes structure with every 2.x attribute (vendor attributes as Attribute structures)', async () => {
    const p = ok(await call(owner, V21, Operation.GetAttributes, [uidText(uid)]));
    expect(p.value.map((c) => c.tag)).toEqual([Tag.UniqueIdentifier, Tag.Attributes]);
    const attrs = attributes2x(p);
    const tags = attrs.map((a) => a.tag);
    expect(tags).toEqual(expect.arrayContaining([Tag.UniqueIdentifier, Tag.ObjectType, Tag.State, Tag.CryptographicAlgorithm, Tag.Name, Tag.Attribute]));
    expect(tags).not.toContain(Tag.OperationPolicyName); // removed in 2.0
    expect(tags).not.toContain(0x54ff80);
    expect(attrs.filter((a) => a.tag === Tag.Name)).toHaveLength(2);
    expect(attrs.find((a) => a.tag === Tag.State)).toEqual(t.enum(Tag.State, State.Active));
    const vendors = attrs.filter((a) => a.tag === Tag.Attribute) as StructureNode[];
    expect(vendors.map((v) => v.value.map((c) => (c.type === 'TextString' ? c.value : '')))).toEqual(
      expect.arrayContaining([
        ['x', 'ID', 'id-1'],
        ['acme', 'Color', 'blue'],
      ]),
    );
  });

  it('references by tag and by vendor name, in request order', async () => {
    const p = ok(await call(owner, V20, Operation.GetAttributes, [uidText(uid), vendorRef('acme', 'Color'), tagRef(Tag.CryptographicLength), tagRef(Tag.ObjectGroup)]));
    expect(attributes2x(p)).toEqual([
      t.struct(Tag.Attribute, [t.text(Tag.VendorIdentification, 'acme'), t.text(Tag.AttributeName, 'Color'), t.text(Tag.AttributeValue, 'blue')]),
      t.int(Tag.CryptographicLength, 256),
    ]);
  });

  it('nothing requested exists: an empty Attributes structure', async () => {
    const p = ok(await call(owner, V21, Operation.GetAttributes, [uidText(uid), vendorRef('x', 'nope')]));
    expect(attributes2x(p)).toEqual([]);
  });

  it('a reference to a tag that is no attribute: Invalid Attribute; the same reference twice: Invalid Message', async () => {
    failed(await call(owner, V21, Operation.GetAttributes, [uidText(uid), tagRef(Tag.KeyBlock)]), ResultReason.InvalidAttribute);
    failed(await call(owner, V21, Operation.GetAttributes, [uidText(uid), tagRef(Tag.Name), tagRef(Tag.Name)]), ResultReason.InvalidMessage);
  });

  it('unknown object, another identity’s object: Item Not Found', async () => {
    failed(await call(owner, V21, Operation.GetAttributes, [uidText('nope')]), ResultReason.ObjectNotFound);
    failed(await call(alice, V21, Operation.GetAttributes, [uidText(uid)]), ResultReason.ObjectNotFound);
  });
});

describe('Get Attribute List', () => {
  it('1.x: Attribute Names of the attributes present (x-… custom, no 2.x-only vendors)', async () => {
    const p = ok(await call(owner, V14, Operation.GetAttributeList, [uidText(uid)]));
    const names = p.value.filter((c) => c.tag === Tag.AttributeName).map((c) => (c as { value: string }).value);
    expect(names).toEqual(expect.arrayContaining(['Unique Identifier', 'Object Type', 'State', 'Cryptographic Algorithm', 'Name', 'Activation Date', 'x-ID', 'Operation Policy Name']));
    expect(new Set(names).size).toBe(names.length); // one name per attribute, not per instance
    expect(names.some((n) => n.includes('Color'))).toBe(false);
  });

  it('2.x: Attribute References (tags as Enumerations, vendor attributes as structures)', async () => {
    const p = ok(await call(owner, V21, Operation.GetAttributeList, [uidText(uid)]));
    const refs: TtlvNode[] = p.value.filter((c) => c.tag === Tag.AttributeReference);
    expect(refs).toEqual(expect.arrayContaining([tagRef(Tag.UniqueIdentifier), tagRef(Tag.State), tagRef(Tag.Name), vendorRef('x', 'ID'), vendorRef('acme', 'Color')]));
    expect(refs).not.toContainEqual(tagRef(Tag.OperationPolicyName));
    expect(refs.filter((r) => r.type === 'Enumeration' && r.value === Tag.Name)).toHaveLength(1);
  });

  it('unknown object and another identity’s object: Item Not Found', async () => {
    failed(await call(alice, V21, Operation.GetAttributeList, [uidText(uid)]), ResultReason.ObjectNotFound);
    failed(await call(alice, V14, Operation.GetAttributeList, [uidText(uid)]), ResultReason.ItemNotFound);
    failed(await call(owner, V14, Operation.GetAttributeList, [uidText('nope')]), ResultReason.ItemNotFound);
  });

  it('a bad payload: Invalid Field', async () => {
    failed(await call(owner, V21, Operation.GetAttributeList, [uidText(uid), t.int(Tag.CryptographicLength, 1)]), ResultReason.InvalidField);
  });

  it('objects of other types answer too (a Secret Data with no crypto attributes, stored without the derived attributes)', async () => {
    const u = await seed(srv, { objectType: ObjectType.SecretData });
    const p = ok(await call(owner, V21, Operation.GetAttributeList, [uidText(u)]));
    // The record holds none of them: the always-valued ones are derived on read (objects/server-set.ts).
    expect(p.value.filter((c) => c.tag === Tag.AttributeReference)).toEqual(
      [
        Tag.UniqueIdentifier,
        Tag.ShortUniqueIdentifier,
        Tag.ObjectType,
        Tag.AlwaysSensitive,
        Tag.Extractable,
        Tag.LeaseTime,
        Tag.NeverExtractable,
        Tag.ProtectionStorageMask,
        Tag.Sensitive,
        Tag.State,
      ].map(tagRef),
    );
  });
});

describe('through Create', () => {
  it('a key made by Create answers Get Attributes in both versions with the attributes Create set', async () => {
    const { createSymmetricKeyPayload, uniqueIdentifierOf } = await import('../../src/client/requests.js');
    const p = createSymmetricKeyPayload(V14, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: 12, name: 'ga-created' });
    const created = uniqueIdentifierOf(ok(await call(owner, V14, Operation.Create, p.value)));
    const one = attributes1x(
      ok(
        await call(owner, V14, Operation.GetAttributes, [
          uidText(created),
          t.text(Tag.AttributeName, 'Cryptographic Length'),
          t.text(Tag.AttributeName, 'Name'),
          t.text(Tag.AttributeName, 'State'),
        ]),
      ),
    );
    expect(one.map((a) => a.name)).toEqual(['Cryptographic Length', 'Name', 'State']);
    expect(one[0]?.value).toEqual(t.int(Tag.AttributeValue, 128));
    const two = attributes2x(ok(await call(owner, V21, Operation.GetAttributes, [uidText(created), tagRef(Tag.InitialDate), tagRef(Tag.CryptographicAlgorithm)])));
    expect(two).toEqual([t.date(Tag.InitialDate, BigInt(NOW)), t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES)]);
    failed(await call(alice, V21, Operation.GetAttributes, [uidText(created)]), ResultReason.ObjectNotFound);
  });
});
