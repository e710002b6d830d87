/**
 * Locate (1.4 §4.9, 2.1 §6.1.28) over a real mTLS server with a LevelDB store. Objects are seeded
 * straight into the store, so each test controls owners, states, dates and creation order.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { KmipClient } from '../../src/client/index.js';
import { uniqueIdentifiersOf } from '../../src/client/requests.js';
import { CryptographicAlgorithm, LinkType, NameType, ObjectGroupMember, ObjectType, Operation, ResultReason, State } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask, StorageStatusMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { customKey } from '../../src/objects/managed-object.js';
import { CREATION_ORDER_KEY, CREATION_ORDER_TAG } from '../../src/operations/attributes/locate-order.js';
import { t, type TtlvNode } from '../../src/ttlv/node.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attr1, batch, call, date, failed, ok, seed, uidText, V12, V14, V20, V21, vendorAttr, type Seed } from './attribute-kit.js';

const NOW = 1_700_000_000;
let clockMs = NOW * 1000;
const name = (v: string, type: number = NameType.UninterpretedTextString) => t.struct(Tag.Name, [t.text(Tag.NameValue, v), t.enum(Tag.NameType, type)]);
const stamp = (n: number): [string, TtlvNode[]] => [CREATION_ORDER_KEY, [t.long(CREATION_ORDER_TAG, BigInt(n))]];
const xcase = (v: string): [string, TtlvNode[]] => [customKey('x', 'case'), [t.text(Tag.AttributeValue, v)]];

/** Locate in 1.x form: attributes given as 2.x-shaped nodes (or custom x-… pairs), rendered as Attribute structures. */
function locate1(attrs: ReadonlyArray<TtlvNode | readonly [string, TtlvNode]>, extra: readonly TtlvNode[] = []): TtlvNode[] {
  return [...extra, ...attrs.map((a) => (Array.isArray(a) ? attr1(a[0] as string, a[1] as TtlvNode) : attr1(specName((a as TtlvNode).tag), a as TtlvNode)))];
}
const SPEC_NAMES: Record<number, string> = {
  [Tag.ObjectType]: 'Object Type',
  [Tag.Name]: 'Name',
  [Tag.State]: 'State',
  [Tag.CryptographicAlgorithm]: 'Cryptographic Algorithm',
  [Tag.CryptographicLength]: 'Cryptographic Length',
  [Tag.CryptographicUsageMask]: 'Cryptographic Usage Mask',
  [Tag.ObjectGroup]: 'Object Group',
  [Tag.OriginalCreationDate]: 'Original Creation Date',
  [Tag.ActivationDate]: 'Activation Date',
  [Tag.Link]: 'Link',
  [Tag.UniqueIdentifier]: 'Unique Identifier',
};
function specName(tag: number): string {
  const n = SPEC_NAMES[tag];
  if (!n) throw new Error(`add ${tag.toString(16)} to SPEC_NAMES`);
  return n;
}
const locate2 = (attrs: readonly TtlvNode[], extra: readonly TtlvNode[] = []): TtlvNode[] => [...extra, t.struct(Tag.Attributes, [...attrs])];

async function found(client: KmipClient, version: typeof V14, payload: readonly TtlvNode[]): Promise<string[]> {
  return uniqueIdentifiersOf(ok(await call(client, version, Operation.Locate, payload)));
}

let srv: TestKms;
let c: KmipClient;
let alice: KmipClient;
let bob: KmipClient;
let admin: KmipClient;

beforeAll(async () => {
  srv = await startTestKms({ access: { administrators: ['admin'], grants: [{ identity: 'bob', objectGroup: 'team', operations: ['Locate'] }] } }, { clock: () => clockMs });
  [c, alice, bob, admin] = await Promise.all([srv.client(), srv.client('alice'), srv.client('bob'), srv.client('admin')]);
});
afterAll(async () => srv?.dispose());
afterEach(() => {
  clockMs = NOW * 1000;
});

describe('order, Maximum Items, Offset Items, Located Items (TC-OFFSET-1/2-14 shapes)', () => {
  let uids: string[];
  beforeAll(async () => {
    uids = [];
    for (let i = 0; i < 5; i++) {
      uids.push(
        await seed(srv, {
          attributes: [xcase('offset'), ['OriginalCreationDate', [date(Tag.OriginalCreationDate, NOW)]], ['InitialDate', [date(Tag.InitialDate, NOW)]], stamp(NOW * 1e6 + i)],
        }),
      );
    }
  });
  const filter1 = () =>
    locate1([t.enum(Tag.ObjectType, ObjectType.SymmetricKey), ['x-case', t.text(0, 'offset')], date(Tag.OriginalCreationDate, NOW - 20), date(Tag.OriginalCreationDate, NOW + 20)]);

  it('most recently created first, even within one second', async () => {
    const p = ok(await call(c, V14, Operation.Locate, filter1()));
    expect(uniqueIdentifiersOf(p)).toEqual([...uids].reverse());
    expect(p.value.some((n) => n.tag === Tag.LocatedItems)).toBe(false);
  });

  it('Maximum Items alone caps, without Located Items', async () => {
    const p = ok(await call(c, V14, Operation.Locate, [t.int(Tag.MaximumItems, 1), ...filter1()]));
    expect(p.value).toEqual([uidText(uids[4]!)]);
  });

  it('Offset Items skips, then Maximum Items caps; Located Items counts every match', async () => {
    const p = ok(await call(c, V14, Operation.Locate, [t.int(Tag.MaximumItems, 1), t.int(Tag.OffsetItems, 1), ...filter1()]));
    expect(p.value).toEqual([t.int(Tag.LocatedItems, 5), uidText(uids[3]!)]);
    const q = ok(await call(c, V21, Operation.Locate, [t.int(Tag.MaximumItems, 2), t.int(Tag.OffsetItems, 3), t.struct(Tag.Attributes, [vendorAttr('x', 'case', t.text(0, 'offset'))])]));
    expect(q.value).toEqual([t.int(Tag.LocatedItems, 5), uidText(uids[1]!), uidText(uids[0]!)]);
    const r = ok(await call(c, V21, Operation.Locate, [t.int(Tag.OffsetItems, 7), t.struct(Tag.Attributes, [vendorAttr('x', 'case', t.text(0, 'offset'))])]));
    expect(r.value).toEqual([t.int(Tag.LocatedItems, 5)]);
  });

  it('without creation stamps: Initial Date decides, ties by uid', async () => {
    const a = await seed(srv, { uid: 'order-b', attributes: [xcase('nostamp'), ['InitialDate', [date(Tag.InitialDate, NOW - 5)]]] });
    const b = await seed(srv, { uid: 'order-c', attributes: [xcase('nostamp'), ['InitialDate', [date(Tag.InitialDate, NOW)]]] });
    const d = await seed(srv, { uid: 'order-a', attributes: [xcase('nostamp'), ['InitialDate', [date(Tag.InitialDate, NOW)]]] });
    expect(await found(c, V21, locate2([vendorAttr('x', 'case', t.text(0, 'nostamp'))]))).toEqual([d, b, a]);
  });

  it('negative Maximum Items or Offset Items: Invalid Field', async () => {
    failed(await call(c, V14, Operation.Locate, [t.int(Tag.MaximumItems, -1)]), ResultReason.InvalidField);
    failed(await call(c, V21, Operation.Locate, [t.int(Tag.OffsetItems, -1), t.struct(Tag.Attributes, [])]), ResultReason.InvalidField);
  });
});

describe('ID Placeholder', () => {
  it('one object returned: later items without a Unique Identifier use it; several: it is emptied', async () => {
    const one = await seed(srv, { attributes: [xcase('ph-one')] });
    await seed(srv, { attributes: [xcase('ph-many')] });
    await seed(srv, { attributes: [xcase('ph-many')] });
    const items = await batch(c, V21, [
      [Operation.Locate, locate2([vendorAttr('x', 'case', t.text(0, 'ph-one'))])],
      [Operation.GetAttributeList, []],
    ]);
    expect(ok(items[1]!).value[0]).toEqual(uidText(one));
    const many = await batch(c, V21, [
      [Operation.Locate, locate2([vendorAttr('x', 'case', t.text(0, 'ph-one'))])],
      [Operation.Locate, locate2([vendorAttr('x', 'case', t.text(0, 'ph-many'))])],
      [Operation.GetAttributeList, []],
    ]);
    expect(uniqueIdentifiersOf(ok(many[1]!))).toHaveLength(2);
    failed(many[2]!, ResultReason.InvalidField);
    const capped = await batch(c, V14, [
      [Operation.Locate, [t.int(Tag.MaximumItems, 1), ...locate1([['x-case', t.text(0, 'ph-many')]])]],
      [Operation.GetAttributes, [t.text(Tag.AttributeName, 'x-case')]],
    ]);
    expect(ok(capped[1]!).value[0]).toEqual(uidText(uniqueIdentifiersOf(ok(capped[0]!))[0]!));
  });
});

describe('filters', () => {
  let key: string;
  let other: string;
  beforeAll(async () => {
    other = await seed(srv, {
      objectType: ObjectType.SecretData,
      attributes: [xcase('filters'), ['Name', [name('other-secret')]], ['ObjectGroup', [t.text(Tag.ObjectGroup, 'g1')]]],
    });
    key = await seed(srv, {
      attributes: [
        xcase('filters'),
        ['CryptographicAlgorithm', [t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES)]],
        ['CryptographicLength', [t.int(Tag.CryptographicLength, 256)]],
        ['CryptographicUsageMask', [t.int(Tag.CryptographicUsageMask, CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt | CryptographicUsageMask.WrapKey)]],
        ['Name', [name('main-key'), name('alias', NameType.URI)]],
        ['ObjectGroup', [t.text(Tag.ObjectGroup, 'g1'), t.text(Tag.ObjectGroup, 'g2')]],
        ['Link', [t.struct(Tag.Link, [t.enum(Tag.LinkType, LinkType.ParentLink), t.text(Tag.LinkedObjectIdentifier, 'parent-uid')])]],
        ['ApplicationSpecificInformation', [t.struct(Tag.ApplicationSpecificInformation, [t.text(Tag.ApplicationNamespace, 'ssl'), t.text(Tag.ApplicationData, 'www.example.com')])]],
        ['AlternativeName', [t.struct(Tag.AlternativeName, [t.text(Tag.AlternativeNameValue, 'alt-1'), t.enum(Tag.AlternativeNameType, 1)])]],
        ['UsageLimits', [t.struct(Tag.UsageLimits, [t.long(Tag.UsageLimitsTotal, 100n), t.long(Tag.UsageLimitsCount, 40n), t.enum(Tag.UsageLimitsUnit, 1)])]],
        ['ActivationDate', [date(Tag.ActivationDate, NOW + 1000)]],
        [customKey('x', 'big'.padEnd(1024, 'n')), [t.text(Tag.AttributeValue, 'v'.padEnd(1024, 'w'))]],
        [customKey('acme', 'serial'), [t.long(Tag.AttributeValue, 42n)]],
      ],
    });
  });
  const scope1 = ['x-case', t.text(0, 'filters')] as const;
  const scope2 = vendorAttr('x', 'case', t.text(0, 'filters'));

  it('Name (by value, with or without Name Type), both versions', async () => {
    expect(await found(c, V14, locate1([name('main-key')]))).toEqual([key]);
    expect(await found(c, V21, locate2([t.struct(Tag.Name, [t.text(Tag.NameValue, 'alias')])]))).toEqual([key]);
    expect(await found(c, V21, locate2([name('alias', NameType.UninterpretedTextString)]))).toEqual([]);
  });

  it('Object Type, Cryptographic Algorithm, Cryptographic Length', async () => {
    expect(await found(c, V14, locate1([scope1, t.enum(Tag.ObjectType, ObjectType.SecretData)]))).toEqual([other]);
    expect(await found(c, V21, locate2([scope2, t.enum(Tag.CryptographicAlgorithm, CryptographicAlgorithm.AES), t.int(Tag.CryptographicLength, 256)]))).toEqual([key]);
    expect(await found(c, V21, locate2([scope2, t.int(Tag.CryptographicLength, 128)]))).toEqual([]);
  });

  it('Object Group: one group, and two groups meaning both', async () => {
    expect((await found(c, V21, locate2([scope2, t.text(Tag.ObjectGroup, 'g1')]))).sort()).toEqual([key, other].sort());
    expect(await found(c, V14, locate1([scope1, t.text(Tag.ObjectGroup, 'g1'), t.text(Tag.ObjectGroup, 'g2')]))).toEqual([key]);
  });

  it('Link: type and identifier, identifier alone (any type), type alone', async () => {
    const link = (...kids: TtlvNode[]) => t.struct(Tag.Link, kids);
    expect(await found(c, V21, locate2([link(t.enum(Tag.LinkType, LinkType.ParentLink), t.text(Tag.LinkedObjectIdentifier, 'parent-uid'))]))).toEqual([key]);
    expect(await found(c, V21, locate2([link(t.text(Tag.LinkedObjectIdentifier, 'parent-uid'))]))).toEqual([key]);
    expect(await found(c, V14, locate1([scope1, link(t.enum(Tag.LinkType, LinkType.ParentLink))]))).toEqual([key]);
    expect(await found(c, V21, locate2([link(t.enum(Tag.LinkType, LinkType.ChildLink), t.text(Tag.LinkedObjectIdentifier, 'parent-uid'))]))).toEqual([]);
  });

  it('Application Specific Information, Alternative Name, Usage Limits', async () => {
    const asi = (...kids: TtlvNode[]) => t.struct(Tag.ApplicationSpecificInformation, kids);
    expect(await found(c, V21, locate2([asi(t.text(Tag.ApplicationNamespace, 'ssl'), t.text(Tag.ApplicationData, 'www.example.com'))]))).toEqual([key]);
    expect(await found(c, V21, locate2([asi(t.text(Tag.ApplicationNamespace, 'ssl'))]))).toEqual([key]);
    expect(await found(c, V21, locate2([asi(t.text(Tag.ApplicationNamespace, 'ssl'), t.text(Tag.ApplicationData, 'other'))]))).toEqual([]);
    expect(await found(c, V21, locate2([t.struct(Tag.AlternativeName, [t.text(Tag.AlternativeNameValue, 'alt-1')])]))).toEqual([key]);
    const limits = (count: bigint) => t.struct(Tag.UsageLimits, [t.long(Tag.UsageLimitsCount, count)]);
    expect(await found(c, V21, locate2([scope2, limits(40n)]))).toEqual([key]);
    expect(await found(c, V21, locate2([scope2, limits(41n)]))).toEqual([]);
  });

  it('custom attributes: 1.x x-… with 1,024-character name and value, 2.x vendor of another item type', async () => {
    expect(await found(c, V14, locate1([[`x-${'big'.padEnd(1024, 'n')}`, t.text(0, 'v'.padEnd(1024, 'w'))]]))).toEqual([key]);
    expect(await found(c, V21, locate2([vendorAttr('acme', 'serial', t.long(0, 42n))]))).toEqual([key]);
    expect(await found(c, V21, locate2([vendorAttr('acme', 'serial', t.int(0, 42))]))).toEqual([]); // item type matters
  });

  it('Cryptographic Usage Mask: objects whose mask holds every requested bit', async () => {
    const mask = (m: number) => t.int(Tag.CryptographicUsageMask, m);
    expect(await found(c, V14, locate1([scope1, mask(CryptographicUsageMask.Encrypt)]))).toEqual([key]);
    expect(await found(c, V21, locate2([scope2, mask(CryptographicUsageMask.Encrypt | CryptographicUsageMask.WrapKey)]))).toEqual([key]);
    expect(await found(c, V21, locate2([scope2, mask(CryptographicUsageMask.Encrypt | CryptographicUsageMask.Sign)]))).toEqual([]);
  });

  it('dates: one instance is exact, two are an inclusive range, the largest value places no condition, three are Invalid Field', async () => {
    const ad = (s: number | bigint) => date(Tag.ActivationDate, s);
    expect(await found(c, V21, locate2([ad(NOW + 1000)]))).toEqual([key]);
    expect(await found(c, V21, locate2([ad(NOW + 999)]))).toEqual([]);
    expect(await found(c, V14, locate1([ad(NOW + 1000), ad(NOW + 2000)]))).toEqual([key]);
    expect(await found(c, V21, locate2([ad(NOW + 2000), ad(NOW + 1000)]))).toEqual([key]);
    expect(await found(c, V21, locate2([ad(NOW), ad(NOW + 999)]))).toEqual([]);
    expect(await found(c, V21, locate2([ad(NOW), ad(2n ** 63n - 1n)]))).toEqual([key]);
    expect((await found(c, V21, locate2([scope2, ad(2n ** 63n - 1n)]))).sort()).toEqual([key, other].sort());
    failed(await call(c, V21, Operation.Locate, locate2([ad(1), ad(2), ad(3)])), ResultReason.InvalidField);
  });

  it('State is the effective state: Pre-Active with an Activation Date now past is found as Active', async () => {
    expect(await found(c, V21, locate2([scope2, t.enum(Tag.State, State.PreActive), t.enum(Tag.ObjectType, ObjectType.SymmetricKey)]))).toEqual([key]);
    expect(await found(c, V21, locate2([scope2, t.enum(Tag.State, State.Active)]))).toEqual([]);
    clockMs = (NOW + 1001) * 1000;
    expect(await found(c, V14, locate1([scope1, t.enum(Tag.State, State.Active)]))).toEqual([key]);
    expect(await found(c, V21, locate2([scope2, t.enum(Tag.State, State.PreActive)]))).toEqual([other]);
  });

  it('Unique Identifier, and no attributes at all (every reachable object)', async () => {
    expect(await found(c, V21, locate2([t.text(Tag.UniqueIdentifier, key)]))).toEqual([key]);
    expect(await found(c, V14, locate1([t.text(Tag.UniqueIdentifier, key), scope1]))).toEqual([key]);
    const all = await found(c, V21, locate2([]));
    expect(all).toEqual(expect.arrayContaining([key, other]));
    expect(await found(c, V14, [])).toEqual(all);
  });

  it('1.x attributes inside a Template-Attribute are accepted; a Template by name is Invalid Field', async () => {
    const ta = t.struct(Tag.TemplateAttribute, [attr1('Name', name('main-key'))]);
    expect(await found(c, V12, [ta])).toEqual([key]);
    failed(await call(c, V14, Operation.Locate, [t.struct(Tag.TemplateAttribute, [name('some-template')])]), ResultReason.InvalidField);
  });

  it('unknown attributes: 1.x Invalid Field, 2.x Invalid Attribute', async () => {
    failed(await call(c, V14, Operation.Locate, [attr1('Favourite Colour', t.text(0, 'red'))]), ResultReason.InvalidField);
    failed(await call(c, V21, Operation.Locate, locate2([t.struct(Tag.KeyBlock, [])])), ResultReason.InvalidAttribute);
    failed(await call(c, V20, Operation.Locate, locate2([t.text(Tag.OperationPolicyName, 'x')])), ResultReason.InvalidAttribute);
  });
});

describe('Storage Status Mask and Object Group Member', () => {
  let live: string;
  let gone: string;
  beforeAll(async () => {
    live = await seed(srv, { state: State.Active, attributes: [xcase('storage'), stamp(1)] });
    gone = await seed(srv, { state: State.Destroyed, attributes: [xcase('storage'), stamp(2)] });
  });
  const scope = vendorAttr('x', 'case', t.text(0, 'storage'));

  it('destroyed objects are left out unless Destroyed Storage is asked for (2.x)', async () => {
    expect(await found(c, V21, locate2([scope]))).toEqual([live]);
    expect(await found(c, V21, locate2([scope], [t.int(Tag.StorageStatusMask, StorageStatusMask.DestroyedStorage)]))).toEqual([gone]);
    expect(await found(c, V21, locate2([scope], [t.int(Tag.StorageStatusMask, StorageStatusMask.DestroyedStorage | StorageStatusMask.OnLineStorage)]))).toEqual([gone, live]);
  });

  it('archived objects (Archive Date set) only with Archival Storage', async () => {
    const archived = await seed(srv, { state: State.Active, attributes: [xcase('storage'), stamp(3), ['ArchiveDate', [date(Tag.ArchiveDate, NOW)]]] });
    try {
      expect(await found(c, V21, locate2([scope]))).toEqual([live]);
      expect(await found(c, V14, locate1([['x-case', t.text(0, 'storage')]], [t.int(Tag.StorageStatusMask, StorageStatusMask.ArchivalStorage)]))).toEqual([archived]);
      expect(await found(c, V21, locate2([scope], [t.int(Tag.StorageStatusMask, 7)]))).toEqual([archived, gone, live]);
    } finally {
      await srv.kms.services.store.commit([{ type: 'delete', uid: archived, expectedRevision: 1 }]);
    }
  });

  it('1.x (no Destroyed Storage bit): a State filter naming Destroyed finds destroyed objects', async () => {
    expect(await found(c, V14, locate1([['x-case', t.text(0, 'storage')]]))).toEqual([live]);
    expect(await found(c, V14, locate1([['x-case', t.text(0, 'storage')], t.enum(Tag.State, State.Destroyed)]))).toEqual([gone]);
  });

  it('Group Member Default: the most recently created member; Group Member Fresh: members not marked used', async () => {
    const g = (v: string): [string, TtlvNode[]] => ['ObjectGroup', [t.text(Tag.ObjectGroup, v)]];
    const old = await seed(srv, { attributes: [g('pool'), stamp(10), ['Fresh', [t.bool(Tag.Fresh, true)]]] });
    const used = await seed(srv, { attributes: [g('pool'), stamp(20), ['Fresh', [t.bool(Tag.Fresh, false)]]] });
    const pool = t.text(Tag.ObjectGroup, 'pool');
    expect(await found(c, V21, locate2([pool], [t.enum(Tag.ObjectGroupMember, ObjectGroupMember.GroupMemberDefault)]))).toEqual([used]);
    expect(await found(c, V14, locate1([pool], [t.enum(Tag.ObjectGroupMember, ObjectGroupMember.GroupMemberFresh)]))).toEqual([old]);
  });
});

describe('access', () => {
  let alices: string;
  let bobs: string;
  let teams: string;
  beforeAll(async () => {
    alices = await seed(srv, { owner: 'alice', attributes: [xcase('access'), ['Name', [name('shared-name')]]] });
    bobs = await seed(srv, { owner: 'bob', attributes: [xcase('access'), ['Name', [name('shared-name')]]] });
    teams = await seed(srv, { owner: 'alice', attributes: [xcase('access'), ['ObjectGroup', [t.text(Tag.ObjectGroup, 'team')]]] });
  });
  const scope = vendorAttr('x', 'case', t.text(0, 'access'));

  it('an identity finds only what it may Locate: its own, its grants’ groups; administrators everything', async () => {
    expect((await found(alice, V21, locate2([scope]))).sort()).toEqual([alices, teams].sort());
    expect((await found(bob, V21, locate2([scope]))).sort()).toEqual([bobs, teams].sort());
    expect((await found(admin, V21, locate2([scope]))).sort()).toEqual([alices, bobs, teams].sort());
    expect(await found(c, V21, locate2([scope]))).toEqual([]);
  });

  it('never leaks: same Name, unfiltered Locate, Located Items, and a guessed Unique Identifier', async () => {
    expect(await found(alice, V14, locate1([name('shared-name')]))).toEqual([alices]);
    const everything = await found(alice, V21, locate2([]));
    expect(everything).not.toContain(bobs);
    const p = ok(await call(alice, V21, Operation.Locate, locate2([scope], [t.int(Tag.OffsetItems, 0)])));
    expect(p.value[0]).toEqual(t.int(Tag.LocatedItems, 2));
    expect(await found(alice, V21, locate2([t.text(Tag.UniqueIdentifier, bobs)]))).toEqual([]);
  });
});

describe('answered from the indexes', () => {
  it('loads only the candidates the indexes give, not every record', async () => {
    const seeds: Seed[] = Array.from({ length: 150 }, (_, i) => ({ attributes: [xcase(`noise-${i % 3}`)] }));
    for (const s of seeds) await seed(srv, s);
    const wanted = [await seed(srv, { attributes: [xcase('needle'), stamp(1)] }), await seed(srv, { attributes: [xcase('needle'), stamp(2)] })];
    const store = srv.kms.services.store;
    const original = store.get.bind(store);
    let loads = 0;
    (store as { get: typeof store.get }).get = async (uid: string) => {
      loads++;
      return original(uid);
    };
    try {
      expect(await found(c, V21, locate2([vendorAttr('x', 'case', t.text(0, 'needle'))]))).toEqual([...wanted].reverse());
      expect(loads).toBe(2);
      loads = 0;
      expect(await found(alice, V21, locate2([]))).not.toHaveLength(0);
      expect(loads).toBeLessThan(10); // alice's few objects, not the 150 others
    } finally {
      (store as { get: typeof store.get }).get = original;
    }
  });
});

describe('Locate after attribute changes', () => {
  it('an added custom attribute and a modified Name are found at once; a deleted one no longer', async () => {
    const uid = await seed(srv, { attributes: [['Name', [name('before-rename')]]] });
    ok(await call(c, V21, Operation.AddAttribute, [uidText(uid), t.struct(Tag.NewAttribute, [vendorAttr('x', 'later', t.text(0, 'yes'))])]));
    expect(await found(c, V21, locate2([vendorAttr('x', 'later', t.text(0, 'yes'))]))).toEqual([uid]);
    ok(await call(c, V14, Operation.ModifyAttribute, [uidText(uid), attr1('Name', name('after-rename'))]));
    expect(await found(c, V14, locate1([name('after-rename')]))).toEqual([uid]);
    expect(await found(c, V14, locate1([name('before-rename')]))).toEqual([]);
    ok(await call(c, V14, Operation.DeleteAttribute, [uidText(uid), t.text(Tag.AttributeName, 'x-later')]));
    expect(await found(c, V21, locate2([vendorAttr('x', 'later', t.text(0, 'yes'))]))).toEqual([]);
  });
});

describe('through Create', () => {
  it('keys made by Create (1.4 and 2.1) are found by Name, Object Group and a custom attribute added later, newest first', async () => {
    const { createSymmetricKeyPayload, uniqueIdentifierOf } = await import('../../src/client/requests.js');
    const mk = async (version: typeof V14, n: string) =>
      uniqueIdentifierOf(
        ok(
          await call(
            c,
            version,
            Operation.Create,
            createSymmetricKeyPayload(version, {
              algorithm: CryptographicAlgorithm.AES,
              length: 256,
              usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt,
              name: n,
              attributes: [t.text(Tag.ObjectGroup, 'created-via-create')],
            }).value,
          ),
        ),
      );
    clockMs = (NOW + 10) * 1000;
    const k14 = await mk(V14, 'created-1.4');
    clockMs = (NOW + 20) * 1000;
    const k21 = await mk(V21, 'created-2.1');
    expect(await found(c, V14, locate1([name('created-1.4')]))).toEqual([k14]);
    expect(await found(c, V21, locate2([t.text(Tag.ObjectGroup, 'created-via-create')]))).toEqual([k21, k14]);
    expect(await found(c, V21, locate2([t.text(Tag.ObjectGroup, 'created-via-create'), t.enum(Tag.State, State.PreActive), t.int(Tag.CryptographicLength, 256)]))).toEqual([k21, k14]);
    ok(await call(c, V14, Operation.AddAttribute, [uidText(k14), attr1('x-tagged', t.text(0, 'yes'))]));
    expect(await found(c, V21, locate2([vendorAttr('x', 'tagged', t.text(0, 'yes'))]))).toEqual([k14]);
    expect(await found(alice, V21, locate2([t.text(Tag.ObjectGroup, 'created-via-create')]))).toEqual([]);
    // Activation Date set in the past through Modify/Add: found as Active.
    ok(await call(c, V21, Operation.AddAttribute, [uidText(k21), t.struct(Tag.NewAttribute, [date(Tag.ActivationDate, NOW + 15)])]));
    expect(await found(c, V21, locate2([t.text(Tag.ObjectGroup, 'created-via-create'), t.enum(Tag.State, State.Active)]))).toEqual([k21]);
  });
});
