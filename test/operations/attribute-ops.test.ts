/**
 * Add Attribute (1.4 §4.14, 2.1 §6.1.2), Set Attribute (2.1 §6.1.51), Modify Attribute (1.4 §4.15,
 * 2.1 §6.1.34), Delete Attribute (1.4 §4.16, 2.1 §6.1.13), Adjust Attribute (2.1 §6.1.3) over a
 * real mTLS server with a LevelDB store: every Result Reason the operation files list, in both
 * versions, lifecycle dates through the life cycle, Last Change Date, custom attributes at size.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KmipClient } from '../../src/client/index.js';
import { AdjustmentType, NameType, ObjectType, Operation, ResultReason, State } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { customKey } from '../../src/objects/managed-object.js';
import { bigIntFromBytes, bigIntToBytes, t, type TtlvNode } from '../../src/ttlv/node.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attr1, attributes1x, attributes2x, call, date, failed, ok, seed, stored, tagRef, uidText, V14, V20, V21, vendorAttr, vendorRef, wrap } from './attribute-kit.js';

const NOW = 1_700_000_000;
let clockMs = NOW * 1000;
const name = (v: string) => t.struct(Tag.Name, [t.text(Tag.NameValue, v), t.enum(Tag.NameType, NameType.UninterpretedTextString)]);
const newAttr = (n: TtlvNode) => wrap(Tag.NewAttribute, n);
const curAttr = (n: TtlvNode) => wrap(Tag.CurrentAttribute, n);

let srv: TestKms;
let c: KmipClient;
let alice: KmipClient;

beforeAll(async () => {
  srv = await startTestKms({}, { clock: () => clockMs });
  [c, alice] = await Promise.all([srv.client(), srv.client('alice')]);
});
afterAll(async () => srv?.dispose());

async function instances(uid: string, key: string): Promise<readonly TtlvNode[]> {
  return (await stored(srv, uid)).attributes.get(key) ?? [];
}

describe('Add Attribute', () => {
  it('1.x: adds instances, answers each with its new Attribute Index, stamps Last Change Date', async () => {
    const uid = await seed(srv);
    clockMs = (NOW + 5) * 1000;
    const first = ok(await call(c, V14, Operation.AddAttribute, [uidText(uid), attr1('x-tag', t.text(0, 'a'))]));
    expect(first.value[0]).toEqual(uidText(uid));
    expect(attributes1x(first)).toEqual([{ name: 'x-tag', index: 0, value: t.text(Tag.AttributeValue, 'a') }]);
    const second = ok(await call(c, V14, Operation.AddAttribute, [uidText(uid), attr1('x-tag', t.text(0, 'b'))]));
    expect(attributes1x(second)).toEqual([{ name: 'x-tag', index: 1, value: t.text(Tag.AttributeValue, 'b') }]);
    expect(await instances(uid, customKey('x', 'tag'))).toEqual([t.text(Tag.AttributeValue, 'a'), t.text(Tag.AttributeValue, 'b')]);
    expect(await instances(uid, 'LastChangeDate')).toEqual([date(Tag.LastChangeDate, NOW + 5)]);
    clockMs = NOW * 1000;
  });

  it('1.x reasons: Attribute Index given → Invalid Field; read-only → Permission Denied; wrong object type → Permission Denied', async () => {
    const uid = await seed(srv);
    failed(await call(c, V14, Operation.AddAttribute, [uidText(uid), attr1('Contact Information', t.text(0, 'x'), 0)]), ResultReason.InvalidField);
    failed(await call(c, V14, Operation.AddAttribute, [uidText(uid), attr1('Initial Date', t.date(0, 5n))]), ResultReason.PermissionDenied);
    const secret = await seed(srv, { objectType: ObjectType.SecretData });
    failed(await call(c, V14, Operation.AddAttribute, [uidText(secret), attr1('Process Start Date', t.date(0, 5n))]), ResultReason.PermissionDenied);
    failed(await call(c, V14, Operation.AddAttribute, [uidText(uid), attr1('No Such Attribute', t.text(0, 'x'))]), ResultReason.InvalidField);
    failed(await call(c, V14, Operation.AddAttribute, [uidText(uid), attr1('Contact Information', t.int(0, 5))]), ResultReason.InvalidField);
  });

  it('1.x reasons: single-valued attribute already present → Illegal Operation; a Name another object has → Illegal Operation', async () => {
    const uid = await seed(srv, { attributes: [['ContactInformation', [t.text(Tag.ContactInformation, 'ops')]]] });
    failed(await call(c, V14, Operation.AddAttribute, [uidText(uid), attr1('Contact Information', t.text(0, 'again'))]), ResultReason.IllegalOperation);
    await seed(srv, { attributes: [['Name', [name('taken-14')]]] });
    failed(await call(c, V14, Operation.AddAttribute, [uidText(uid), attr1('Name', name('taken-14'))]), ResultReason.IllegalOperation);
    // A name only another identity uses does not count (no existence oracle).
    await seed(srv, { owner: 'alice', attributes: [['Name', [name('alices-name')]]] });
    ok(await call(c, V14, Operation.AddAttribute, [uidText(uid), attr1('Name', name('alices-name'))]));
  });

  it('1.x: over the server’s instance limit → Index Out of Bounds; 2.x → Server Limit Exceeded', async () => {
    const many = Array.from({ length: 1024 }, (_, i) => t.text(Tag.AttributeValue, `v${i}`));
    const uid = await seed(srv, { attributes: [[customKey('x', 'many'), many]] });
    failed(await call(c, V14, Operation.AddAttribute, [uidText(uid), attr1('x-many', t.text(0, 'one more'))]), ResultReason.IndexOutOfBounds);
    failed(await call(c, V21, Operation.AddAttribute, [uidText(uid), newAttr(vendorAttr('x', 'many', t.text(0, 'one more')))]), ResultReason.ServerLimitExceeded);
    expect(await instances(uid, customKey('x', 'many'))).toHaveLength(1024);
  });

  it('Application Specific Information without Application Data → Application Namespace Not Supported', async () => {
    const uid = await seed(srv);
    const asi = t.struct(Tag.ApplicationSpecificInformation, [t.text(Tag.ApplicationNamespace, 'ssl')]);
    failed(await call(c, V14, Operation.AddAttribute, [uidText(uid), attr1('Application Specific Information', asi)]), ResultReason.ApplicationNamespaceNotSupported);
  });

  it('unknown object and another identity’s object → Item Not Found (both versions)', async () => {
    const uid = await seed(srv);
    failed(await call(alice, V14, Operation.AddAttribute, [uidText(uid), attr1('x-a', t.text(0, 'a'))]), ResultReason.ItemNotFound);
    failed(await call(alice, V21, Operation.AddAttribute, [uidText(uid), newAttr(vendorAttr('x', 'a', t.text(0, 'a')))]), ResultReason.ObjectNotFound);
    failed(await call(c, V21, Operation.AddAttribute, [uidText('nope'), newAttr(vendorAttr('x', 'a', t.text(0, 'a')))]), ResultReason.ObjectNotFound);
    expect((await stored(srv, uid)).attributes.size).toBe(0);
  });

  it('2.x: response is the Unique Identifier only; reasons Read Only Attribute, Attribute Single Valued, Invalid Attribute, Non Unique Name Attribute', async () => {
    const uid = await seed(srv, { attributes: [['Description', [t.text(Tag.Description, 'd')]]] });
    const p = ok(await call(c, V21, Operation.AddAttribute, [uidText(uid), newAttr(t.text(Tag.ObjectGroup, 'g1'))]));
    expect(p.value).toEqual([uidText(uid)]);
    failed(await call(c, V21, Operation.AddAttribute, [uidText(uid), newAttr(date(Tag.InitialDate, 1))]), ResultReason.ReadOnlyAttribute);
    failed(await call(c, V21, Operation.AddAttribute, [uidText(uid), newAttr(t.text(Tag.Description, 'again'))]), ResultReason.AttributeSingleValued);
    failed(await call(c, V21, Operation.AddAttribute, [uidText(uid), newAttr(t.struct(Tag.CryptographicDomainParameters, [t.int(Tag.Qlength, 256)]))]), ResultReason.InvalidAttribute);
    failed(await call(c, V21, Operation.AddAttribute, [uidText(uid), newAttr(t.int(Tag.Description, 1))]), ResultReason.InvalidAttributeValue);
    await seed(srv, { attributes: [['Name', [name('taken-21')]]] });
    failed(await call(c, V21, Operation.AddAttribute, [uidText(uid), newAttr(name('taken-21'))]), ResultReason.NonUniqueNameAttribute);
    // A destroyed object's name is free again.
    await seed(srv, { state: State.Destroyed, attributes: [['Name', [name('freed')]]] });
    ok(await call(c, V21, Operation.AddAttribute, [uidText(uid), newAttr(name('freed'))]));
    // A Name the object itself already has (BL-M-8-21): refused too (1.x: Illegal Operation), another one is fine.
    failed(await call(c, V21, Operation.AddAttribute, [uidText(uid), newAttr(name('freed'))]), ResultReason.NonUniqueNameAttribute);
    failed(await call(c, V14, Operation.AddAttribute, [uidText(uid), attr1('Name', name('freed'))]), ResultReason.IllegalOperation);
    ok(await call(c, V21, Operation.AddAttribute, [uidText(uid), newAttr(name('freed-2'))]));
  });

  it('Activation Date through the life cycle: a past date activates a Pre-Active object; an Active one refuses', async () => {
    const pre = await seed(srv);
    ok(await call(c, V21, Operation.AddAttribute, [uidText(pre), newAttr(date(Tag.ActivationDate, NOW - 1))]));
    const r = await stored(srv, pre);
    expect(r.state).toBe(State.Active);
    expect(r.attributes.get('ActivationDate')).toEqual([date(Tag.ActivationDate, NOW - 1)]);
    const active = await seed(srv, { state: State.Active });
    failed(await call(c, V21, Operation.AddAttribute, [uidText(active), newAttr(date(Tag.ActivationDate, NOW + 100))]), ResultReason.WrongKeyLifecycleState);
    failed(await call(c, V14, Operation.AddAttribute, [uidText(active), attr1('Activation Date', t.date(0, BigInt(NOW + 100)))]), ResultReason.PermissionDenied);
  });
});

describe('Modify Attribute', () => {
  it('1.x: modifies the instance at the Attribute Index and returns it with its index', async () => {
    const uid = await seed(srv, { attributes: [[customKey('x', 'm'), [t.text(Tag.AttributeValue, 'a'), t.text(Tag.AttributeValue, 'b')]]] });
    const p = ok(await call(c, V14, Operation.ModifyAttribute, [uidText(uid), attr1('x-m', t.text(0, 'B'), 1)]));
    expect(attributes1x(p)).toEqual([{ name: 'x-m', index: 1, value: t.text(Tag.AttributeValue, 'B') }]);
    const p0 = ok(await call(c, V14, Operation.ModifyAttribute, [uidText(uid), attr1('x-m', t.text(0, 'A'))]));
    expect(attributes1x(p0)[0]?.index).toBe(0);
    expect(await instances(uid, customKey('x', 'm'))).toEqual([t.text(Tag.AttributeValue, 'A'), t.text(Tag.AttributeValue, 'B')]);
    expect(await instances(uid, 'LastChangeDate')).toEqual([date(Tag.LastChangeDate, NOW)]);
  });

  it('1.x reasons: absent attribute → Invalid Field; no such index → Item Not Found; read-only → Permission Denied; Activation Date when Active → Permission Denied (SKLC-M-3-14)', async () => {
    const uid = await seed(srv, {
      state: State.Active,
      attributes: [
        [customKey('x', 'm'), [t.text(Tag.AttributeValue, 'a')]],
        ['ActivationDate', [date(Tag.ActivationDate, NOW - 50)]],
        ['CryptographicLength', [t.int(Tag.CryptographicLength, 128)]],
      ],
    });
    failed(await call(c, V14, Operation.ModifyAttribute, [uidText(uid), attr1('x-absent', t.text(0, 'z'))]), ResultReason.InvalidField);
    failed(await call(c, V14, Operation.ModifyAttribute, [uidText(uid), attr1('x-m', t.text(0, 'z'), 3)]), ResultReason.ItemNotFound);
    failed(await call(c, V14, Operation.ModifyAttribute, [uidText(uid), attr1('Cryptographic Length', t.int(0, 256))]), ResultReason.PermissionDenied);
    failed(await call(c, V14, Operation.ModifyAttribute, [uidText(uid), attr1('Activation Date', t.date(0, BigInt(NOW)))]), ResultReason.PermissionDenied);
    failed(await call(alice, V14, Operation.ModifyAttribute, [uidText(uid), attr1('x-m', t.text(0, 'z'))]), ResultReason.ItemNotFound);
    expect(await instances(uid, 'ActivationDate')).toEqual([date(Tag.ActivationDate, NOW - 50)]);
  });

  it('2.x: Current Attribute picks the instance; the response is the Unique Identifier only', async () => {
    const uid = await seed(srv, { attributes: [['ObjectGroup', [t.text(Tag.ObjectGroup, 'g1'), t.text(Tag.ObjectGroup, 'g2')]]] });
    const p = ok(await call(c, V21, Operation.ModifyAttribute, [uidText(uid), curAttr(t.text(Tag.ObjectGroup, 'g2')), newAttr(t.text(Tag.ObjectGroup, 'g3'))]));
    expect(p.value).toEqual([uidText(uid)]);
    expect(await instances(uid, 'ObjectGroup')).toEqual([t.text(Tag.ObjectGroup, 'g1'), t.text(Tag.ObjectGroup, 'g3')]);
  });

  it('2.x reasons: several instances and no Current Attribute → Invalid Field; Attribute Not Found; Attribute Instance Not Found; Attribute Read Only; Wrong Key Lifecycle State (SKLC-M-3-21); Non Unique Name Attribute', async () => {
    const uid = await seed(srv, {
      state: State.Active,
      attributes: [
        ['ObjectGroup', [t.text(Tag.ObjectGroup, 'g1'), t.text(Tag.ObjectGroup, 'g2')]],
        ['ActivationDate', [date(Tag.ActivationDate, NOW - 50)]],
        ['CryptographicLength', [t.int(Tag.CryptographicLength, 128)]],
        ['Name', [name('mine')]],
      ],
    });
    failed(await call(c, V21, Operation.ModifyAttribute, [uidText(uid), newAttr(t.text(Tag.ObjectGroup, 'g3'))]), ResultReason.InvalidField);
    failed(await call(c, V21, Operation.ModifyAttribute, [uidText(uid), newAttr(t.text(Tag.Description, 'x'))]), ResultReason.AttributeNotFound);
    failed(
      await call(c, V21, Operation.ModifyAttribute, [uidText(uid), curAttr(t.text(Tag.ObjectGroup, 'zz')), newAttr(t.text(Tag.ObjectGroup, 'g3'))]),
      ResultReason.AttributeInstanceNotFound,
    );
    failed(await call(c, V21, Operation.ModifyAttribute, [uidText(uid), newAttr(t.int(Tag.CryptographicLength, 256))]), ResultReason.AttributeReadOnly);
    failed(await call(c, V21, Operation.ModifyAttribute, [uidText(uid), newAttr(date(Tag.ActivationDate, NOW))]), ResultReason.WrongKeyLifecycleState);
    failed(await call(c, V21, Operation.ModifyAttribute, [uidText(uid), curAttr(t.text(Tag.ObjectGroup, 'g1')), newAttr(t.text(Tag.Description, 'x'))]), ResultReason.InvalidField);
    await seed(srv, { attributes: [['Name', [name('theirs')]]] });
    failed(await call(c, V21, Operation.ModifyAttribute, [uidText(uid), newAttr(name('theirs'))]), ResultReason.NonUniqueNameAttribute);
    ok(await call(c, V21, Operation.ModifyAttribute, [uidText(uid), newAttr(name('mine, renamed'))]));
  });

  it('Deactivation Date in the past on an Active object deactivates it; Activation Date on a Pre-Active one moves it', async () => {
    const active = await seed(srv, { state: State.Active, attributes: [['DeactivationDate', [date(Tag.DeactivationDate, NOW + 1000)]]] });
    ok(await call(c, V21, Operation.ModifyAttribute, [uidText(active), newAttr(date(Tag.DeactivationDate, NOW - 1))]));
    expect((await stored(srv, active)).state).toBe(State.Deactivated);
    const pre = await seed(srv, { attributes: [['ActivationDate', [date(Tag.ActivationDate, NOW + 1000)]]] });
    ok(await call(c, V14, Operation.ModifyAttribute, [uidText(pre), attr1('Activation Date', t.date(0, BigInt(NOW + 500)))]));
    const r = await stored(srv, pre);
    expect(r.state).toBe(State.PreActive);
    expect(r.attributes.get('ActivationDate')).toEqual([date(Tag.ActivationDate, NOW + 500)]);
  });
});

describe('Set Attribute (2.x)', () => {
  it('creates when absent, replaces the one instance, refuses several (Multi Valued Attribute)', async () => {
    const uid = await seed(srv, { attributes: [['ObjectGroup', [t.text(Tag.ObjectGroup, 'a'), t.text(Tag.ObjectGroup, 'b')]]] });
    expect(ok(await call(c, V21, Operation.SetAttribute, [uidText(uid), newAttr(t.text(Tag.Description, 'one'))])).value).toEqual([uidText(uid)]);
    ok(await call(c, V21, Operation.SetAttribute, [uidText(uid), newAttr(t.text(Tag.Description, 'two'))]));
    expect(await instances(uid, 'Description')).toEqual([t.text(Tag.Description, 'two')]);
    ok(await call(c, V21, Operation.SetAttribute, [uidText(uid), newAttr(vendorAttr('acme', 'k', t.int(0, 7)))]));
    ok(await call(c, V21, Operation.SetAttribute, [uidText(uid), newAttr(vendorAttr('acme', 'k', t.int(0, 8)))]));
    expect(await instances(uid, customKey('acme', 'k'))).toEqual([t.int(Tag.AttributeValue, 8)]);
    failed(await call(c, V21, Operation.SetAttribute, [uidText(uid), newAttr(t.text(Tag.ObjectGroup, 'c'))]), ResultReason.MultiValuedAttribute);
  });

  it('reasons: Read Only Attribute (absent or present), Wrong Key Lifecycle State, Item Not Found; not a 1.x operation', async () => {
    const uid = await seed(srv, {
      state: State.Active,
      attributes: [
        ['CryptographicLength', [t.int(Tag.CryptographicLength, 128)]],
        ['ActivationDate', [date(Tag.ActivationDate, NOW - 5)]],
      ],
    });
    failed(await call(c, V21, Operation.SetAttribute, [uidText(uid), newAttr(t.int(Tag.CryptographicLength, 256))]), ResultReason.ReadOnlyAttribute);
    failed(await call(c, V21, Operation.SetAttribute, [uidText(uid), newAttr(date(Tag.InitialDate, 5))]), ResultReason.ReadOnlyAttribute);
    failed(await call(c, V21, Operation.SetAttribute, [uidText(uid), newAttr(date(Tag.ActivationDate, NOW))]), ResultReason.WrongKeyLifecycleState);
    failed(await call(alice, V21, Operation.SetAttribute, [uidText(uid), newAttr(t.text(Tag.Description, 'x'))]), ResultReason.ObjectNotFound);
    failed(await call(c, V14, Operation.SetAttribute, [uidText(uid), newAttr(t.text(Tag.Description, 'x'))]), ResultReason.OperationNotSupported);
  });
});

describe('Delete Attribute', () => {
  it('1.x: deletes the instance at the index and returns it', async () => {
    const uid = await seed(srv, { attributes: [[customKey('x', 'd'), [t.text(Tag.AttributeValue, 'a'), t.text(Tag.AttributeValue, 'b')]]] });
    const p = ok(await call(c, V14, Operation.DeleteAttribute, [uidText(uid), t.text(Tag.AttributeName, 'x-d'), t.int(Tag.AttributeIndex, 1)]));
    expect(attributes1x(p)).toEqual([{ name: 'x-d', index: 1, value: t.text(Tag.AttributeValue, 'b') }]);
    const p0 = ok(await call(c, V14, Operation.DeleteAttribute, [uidText(uid), t.text(Tag.AttributeName, 'x-d')]));
    expect(attributes1x(p0)).toEqual([{ name: 'x-d', index: 0, value: t.text(Tag.AttributeValue, 'a') }]);
    const r = await stored(srv, uid);
    expect(r.attributes.has(customKey('x', 'd'))).toBe(false);
    expect(r.attributes.get('LastChangeDate')).toEqual([date(Tag.LastChangeDate, NOW)]);
  });

  it('1.x reasons: absent attribute → Item Not Found; no such index → Item Not Found; not deletable → Permission Denied', async () => {
    const uid = await seed(srv, {
      attributes: [
        [customKey('x', 'd'), [t.text(Tag.AttributeValue, 'a')]],
        ['CryptographicLength', [t.int(Tag.CryptographicLength, 128)]],
      ],
    });
    failed(await call(c, V14, Operation.DeleteAttribute, [uidText(uid), t.text(Tag.AttributeName, 'x-none')]), ResultReason.ItemNotFound);
    failed(await call(c, V14, Operation.DeleteAttribute, [uidText(uid), t.text(Tag.AttributeName, 'x-d'), t.int(Tag.AttributeIndex, 1)]), ResultReason.ItemNotFound);
    failed(await call(c, V14, Operation.DeleteAttribute, [uidText(uid), t.text(Tag.AttributeName, 'Cryptographic Length')]), ResultReason.PermissionDenied);
    failed(await call(alice, V14, Operation.DeleteAttribute, [uidText(uid), t.text(Tag.AttributeName, 'x-d')]), ResultReason.ItemNotFound);
    expect(await instances(uid, customKey('x', 'd'))).toHaveLength(1);
  });

  it('2.x: Current Attribute deletes one instance, Attribute Reference all of them', async () => {
    const uid = await seed(srv, {
      attributes: [
        ['ObjectGroup', [t.text(Tag.ObjectGroup, 'a'), t.text(Tag.ObjectGroup, 'b'), t.text(Tag.ObjectGroup, 'c')]],
        [customKey('x', 'v'), [t.int(Tag.AttributeValue, 1), t.int(Tag.AttributeValue, 2)]],
      ],
    });
    expect(ok(await call(c, V21, Operation.DeleteAttribute, [uidText(uid), curAttr(t.text(Tag.ObjectGroup, 'b'))])).value).toEqual([uidText(uid)]);
    expect(await instances(uid, 'ObjectGroup')).toEqual([t.text(Tag.ObjectGroup, 'a'), t.text(Tag.ObjectGroup, 'c')]);
    ok(await call(c, V21, Operation.DeleteAttribute, [uidText(uid), tagRef(Tag.ObjectGroup)]));
    ok(await call(c, V21, Operation.DeleteAttribute, [uidText(uid), vendorRef('x', 'v')]));
    const r = await stored(srv, uid);
    expect(r.attributes.has('ObjectGroup')).toBe(false);
    expect(r.attributes.has(customKey('x', 'v'))).toBe(false);
  });

  it('2.x: a standard attribute named by its spec name with an empty Vendor Identification (PyKMIP 0.10) is that attribute', async () => {
    const uid = await seed(srv, { attributes: [['ContactInformation', [t.text(Tag.ContactInformation, 'ops')]]] });
    ok(await call(c, V20, Operation.DeleteAttribute, [uidText(uid), vendorRef('', 'Contact Information')]));
    expect((await stored(srv, uid)).attributes.has('ContactInformation')).toBe(false);
    failed(await call(c, V20, Operation.DeleteAttribute, [uidText(uid), vendorRef('', 'Favourite Colour')]), ResultReason.InvalidAttribute);
  });

  it('2.x reasons: Attribute Not Found, Attribute Instance Not Found, Attribute Read Only, Invalid Field, Item Not Found', async () => {
    const uid = await seed(srv, {
      attributes: [
        ['ObjectGroup', [t.text(Tag.ObjectGroup, 'a')]],
        ['CryptographicLength', [t.int(Tag.CryptographicLength, 128)]],
      ],
    });
    failed(await call(c, V21, Operation.DeleteAttribute, [uidText(uid), tagRef(Tag.Description)]), ResultReason.AttributeNotFound);
    failed(await call(c, V21, Operation.DeleteAttribute, [uidText(uid), curAttr(t.text(Tag.ObjectGroup, 'zz'))]), ResultReason.AttributeInstanceNotFound);
    failed(await call(c, V21, Operation.DeleteAttribute, [uidText(uid), tagRef(Tag.CryptographicLength)]), ResultReason.AttributeReadOnly);
    failed(await call(c, V21, Operation.DeleteAttribute, [uidText(uid)]), ResultReason.InvalidField);
    failed(await call(c, V21, Operation.DeleteAttribute, [uidText(uid), curAttr(t.text(Tag.ObjectGroup, 'a')), tagRef(Tag.Name)]), ResultReason.InvalidField);
    failed(await call(alice, V21, Operation.DeleteAttribute, [uidText(uid), tagRef(Tag.ObjectGroup)]), ResultReason.ObjectNotFound);
    expect(await instances(uid, 'ObjectGroup')).toHaveLength(1);
  });
});

describe('Adjust Attribute (2.x)', () => {
  const adjust = (uid: string, ref: TtlvNode, how: number, value?: TtlvNode) =>
    call(c, V21, Operation.AdjustAttribute, [uidText(uid), ref, t.enum(Tag.AdjustmentType, how), ...(value ? [{ ...value, tag: Tag.AdjustmentValue } as TtlvNode] : [])]);

  it('Increment / Decrement / Negate on Integer, Long Integer, Big Integer, Date-Time, Interval values', async () => {
    const uid = await seed(srv, {
      attributes: [
        [customKey('x', 'int'), [t.int(Tag.AttributeValue, 10)]],
        [customKey('x', 'long'), [t.long(Tag.AttributeValue, 2n ** 40n)]],
        [customKey('x', 'big'), [t.bigint(Tag.AttributeValue, bigIntToBytes(2n ** 70n))]],
        [customKey('x', 'when'), [t.date(Tag.AttributeValue, BigInt(NOW))]],
        [customKey('x', 'span'), [t.interval(Tag.AttributeValue, 60)]],
      ],
    });
    expect(ok(await adjust(uid, vendorRef('x', 'int'), AdjustmentType.Increment, t.int(0, 5))).value).toEqual([uidText(uid)]);
    ok(await adjust(uid, vendorRef('x', 'long'), AdjustmentType.Decrement));
    ok(await adjust(uid, vendorRef('x', 'big'), AdjustmentType.Negate));
    ok(await adjust(uid, vendorRef('x', 'when'), AdjustmentType.Increment, t.interval(0, 3600)));
    ok(await adjust(uid, vendorRef('x', 'span'), AdjustmentType.Decrement, t.int(0, 50)));
    expect(await instances(uid, customKey('x', 'int'))).toEqual([t.int(Tag.AttributeValue, 15)]);
    expect(await instances(uid, customKey('x', 'long'))).toEqual([t.long(Tag.AttributeValue, 2n ** 40n - 1n)]);
    const big = (await instances(uid, customKey('x', 'big')))[0];
    expect(big?.type === 'BigInteger' && bigIntFromBytes(big.value)).toBe(-(2n ** 70n));
    expect(await instances(uid, customKey('x', 'when'))).toEqual([t.date(Tag.AttributeValue, BigInt(NOW + 3600))]);
    expect(await instances(uid, customKey('x', 'span'))).toEqual([t.interval(Tag.AttributeValue, 10)]);
  });

  it('an absent numeric attribute starts from 0; a Deactivation Date adjusted into the past deactivates', async () => {
    const uid = await seed(srv, { state: State.Active, attributes: [['DeactivationDate', [date(Tag.DeactivationDate, NOW + 100)]]] });
    ok(await adjust(uid, vendorRef('x', 'counter'), AdjustmentType.Increment, t.long(0, 3n)));
    expect(await instances(uid, customKey('x', 'counter'))).toEqual([t.long(Tag.AttributeValue, 3n)]);
    ok(await adjust(uid, tagRef(Tag.DeactivationDate), AdjustmentType.Decrement, t.interval(0, 200)));
    const r = await stored(srv, uid);
    expect(r.attributes.get('DeactivationDate')).toEqual([date(Tag.DeactivationDate, NOW - 100)]);
    expect(r.state).toBe(State.Deactivated);
  });

  it('reasons: Numeric Range, Multi Valued Attribute, Read Only Attribute, Invalid Data Type, Item Not Found, Wrong Key Lifecycle State; not a 1.x operation', async () => {
    const uid = await seed(srv, {
      state: State.Active,
      attributes: [
        [customKey('x', 'int'), [t.int(Tag.AttributeValue, 2 ** 31 - 1)]],
        [customKey('x', 'two'), [t.int(Tag.AttributeValue, 1), t.int(Tag.AttributeValue, 2)]],
        [customKey('x', 'text'), [t.text(Tag.AttributeValue, 'abc')]],
        [customKey('x', 'span'), [t.interval(Tag.AttributeValue, 1)]],
        ['CryptographicLength', [t.int(Tag.CryptographicLength, 128)]],
        ['ActivationDate', [date(Tag.ActivationDate, NOW - 10)]],
      ],
    });
    failed(await adjust(uid, vendorRef('x', 'int'), AdjustmentType.Increment), ResultReason.NumericRange);
    failed(await adjust(uid, vendorRef('x', 'span'), AdjustmentType.Decrement, t.int(0, 2)), ResultReason.NumericRange);
    failed(await adjust(uid, vendorRef('x', 'two'), AdjustmentType.Increment), ResultReason.MultiValuedAttribute);
    failed(await adjust(uid, tagRef(Tag.CryptographicLength), AdjustmentType.Increment), ResultReason.ReadOnlyAttribute);
    failed(await adjust(uid, vendorRef('x', 'text'), AdjustmentType.Increment), ResultReason.InvalidDataType);
    failed(await adjust(uid, tagRef(Tag.Description), AdjustmentType.Increment), ResultReason.InvalidDataType);
    failed(await adjust(uid, vendorRef('x', 'span'), AdjustmentType.Negate), ResultReason.InvalidDataType);
    failed(await adjust(uid, vendorRef('x', 'unknown'), AdjustmentType.Negate), ResultReason.ItemNotFound);
    failed(await adjust(uid, tagRef(Tag.ActivationDate), AdjustmentType.Increment, t.interval(0, 5)), ResultReason.WrongKeyLifecycleState);
    failed(await adjust('nope', vendorRef('x', 'int'), AdjustmentType.Decrement), ResultReason.ObjectNotFound);
    expect(await instances(uid, customKey('x', 'int'))).toEqual([t.int(Tag.AttributeValue, 2 ** 31 - 1)]);
    failed(await call(c, V14, Operation.AdjustAttribute, [uidText(uid), tagRef(Tag.Description), t.enum(Tag.AdjustmentType, 1)]), ResultReason.OperationNotSupported);
  });
});

describe('archived objects (Archive Date set)', () => {
  it('every attribute operation answers Object Archived, in both versions', async () => {
    const uid = await seed(srv, {
      attributes: [
        ['ArchiveDate', [date(Tag.ArchiveDate, NOW - 1)]],
        [customKey('x', 'a'), [t.int(Tag.AttributeValue, 1)]],
      ],
    });
    failed(await call(c, V14, Operation.GetAttributes, [uidText(uid)]), ResultReason.ObjectArchived);
    failed(await call(c, V14, Operation.GetAttributeList, [uidText(uid)]), ResultReason.ObjectArchived);
    failed(await call(c, V14, Operation.AddAttribute, [uidText(uid), attr1('x-b', t.int(0, 1))]), ResultReason.ObjectArchived);
    failed(await call(c, V14, Operation.ModifyAttribute, [uidText(uid), attr1('x-a', t.int(0, 2))]), ResultReason.ObjectArchived);
    failed(await call(c, V14, Operation.DeleteAttribute, [uidText(uid), t.text(Tag.AttributeName, 'x-a')]), ResultReason.ObjectArchived);
    failed(await call(c, V21, Operation.SetAttribute, [uidText(uid), newAttr(vendorAttr('x', 'a', t.int(0, 2)))]), ResultReason.ObjectArchived);
    failed(await call(c, V21, Operation.AdjustAttribute, [uidText(uid), vendorRef('x', 'a'), t.enum(Tag.AdjustmentType, AdjustmentType.Increment)]), ResultReason.ObjectArchived);
    expect(await instances(uid, customKey('x', 'a'))).toEqual([t.int(Tag.AttributeValue, 1)]);
  });
});

describe('custom attributes at size', () => {
  const big = (prefix: string, i: number) => `${prefix}${i}-`.padEnd(1024, String.fromCharCode(0x61 + (i % 26)));
  const valueOf = (i: number): TtlvNode => {
    switch (i % 6) {
      case 0:
        return t.text(Tag.AttributeValue, big('value', i));
      case 1:
        return t.bytes(Tag.AttributeValue, Buffer.alloc(1024, i));
      case 2:
        return t.int(Tag.AttributeValue, -i * 1000);
      case 3:
        return t.long(Tag.AttributeValue, BigInt(i) * 2n ** 50n);
      case 4:
        return t.date(Tag.AttributeValue, BigInt(NOW + i));
      default:
        return t.struct(Tag.AttributeValue, [t.text(Tag.NameValue, big('inner', i)), t.bool(Tag.Sensitive, i % 2 === 0)]);
    }
  };

  it('1.x: 64 x-… attributes with 1,024-character names and values of six item types: added, stored verbatim, returned, modified', async () => {
    const uid = await seed(srv);
    for (let i = 0; i < 64; i++) ok(await call(c, V14, Operation.AddAttribute, [uidText(uid), attr1(`x-${big('name', i)}`, valueOf(i))]));
    const r = await stored(srv, uid);
    for (let i = 0; i < 64; i++) expect(r.attributes.get(customKey('x', big('name', i))), `attribute ${i}`).toEqual([valueOf(i)]);
    const p = ok(await call(c, V14, Operation.GetAttributes, [uidText(uid)]));
    const got = attributes1x(p).filter((a) => a.name.startsWith('x-'));
    expect(got).toHaveLength(64);
    for (let i = 0; i < 64; i++) expect(got.find((a) => a.name === `x-${big('name', i)}`)?.value, `attribute ${i}`).toEqual(valueOf(i));
    ok(await call(c, V14, Operation.ModifyAttribute, [uidText(uid), attr1(`x-${big('name', 7)}`, t.text(0, big('changed', 7)))]));
    expect(await instances(uid, customKey('x', big('name', 7)))).toEqual([t.text(Tag.AttributeValue, big('changed', 7))]);
  });

  it('2.x: 64 vendor attributes with 1,024-character names and values, returned by Get Attributes and by reference', async () => {
    const uid = await seed(srv);
    for (let i = 0; i < 64; i++) ok(await call(c, V21, Operation.AddAttribute, [uidText(uid), newAttr(vendorAttr('acme', big('name', i), valueOf(i)))]));
    const all = attributes2x(ok(await call(c, V21, Operation.GetAttributes, [uidText(uid)]))).filter((a) => a.tag === Tag.Attribute);
    expect(all).toHaveLength(64);
    for (let i = 0; i < 64; i++) expect(all[i]).toEqual(vendorAttr('acme', big('name', i), valueOf(i)));
    const one = attributes2x(ok(await call(c, V21, Operation.GetAttributes, [uidText(uid), vendorRef('acme', big('name', 63))])));
    expect(one).toEqual([vendorAttr('acme', big('name', 63), valueOf(63))]);
    ok(await call(c, V21, Operation.SetAttribute, [uidText(uid), newAttr(vendorAttr('acme', big('name', 2), t.int(0, 99)))]));
    expect(await instances(uid, customKey('acme', big('name', 2)))).toEqual([t.int(Tag.AttributeValue, 99)]);
  });

  it('“y-” custom attributes are the server’s: a client may not add them (1.x Permission Denied, 2.x Read Only Attribute)', async () => {
    const uid = await seed(srv);
    failed(await call(c, V14, Operation.AddAttribute, [uidText(uid), attr1('y-server', t.text(0, 'x'))]), ResultReason.PermissionDenied);
    failed(await call(c, V21, Operation.AddAttribute, [uidText(uid), newAttr(vendorAttr('y', 'server', t.text(0, 'x')))]), ResultReason.ReadOnlyAttribute);
  });
});
