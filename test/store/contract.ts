/**
 * The shared store contract. Every ObjectStore implementation runs this suite:
 * `storeContract('memory', async () => new MemoryStore())`.
 * `makeStore` returns a fresh, empty, not yet opened store.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { t } from '../../src/ttlv/index.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { LinkType, ObjectType, State } from '../../src/kmip/generated/enums.gen.js';
import { customKey } from '../../src/objects/managed-object.js';
import {
  StoreError,
  applicationField,
  indexEnum,
  indexText,
  indexValue,
  linkField,
  type IndexQuery,
  type ObjectStore,
  type StoreErrorCode,
  type StoreOp,
  type CommitOp,
} from '../../src/store/index.js';
import { activation, altName, appInfo, cv, link, name, rec } from './records.js';

const put = (r: ReturnType<typeof rec>, expectedRevision = 0): StoreOp => ({ type: 'put', record: r, expectedRevision });
const del = (uid: string, expectedRevision: number): StoreOp => ({ type: 'delete', uid, expectedRevision });

async function rejectsWith(p: Promise<unknown>, code: StoreErrorCode): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, `expected StoreError ${code}`).toBeInstanceOf(StoreError);
  expect((e as StoreError).code).toBe(code);
}

export function storeContract(label: string, makeStore: () => Promise<ObjectStore>): void {
  describe(`store contract: ${label}`, () => {
    const open: ObjectStore[] = [];
    async function fresh(): Promise<ObjectStore> {
      const s = await makeStore();
      await s.open();
      open.push(s);
      return s;
    }
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });

    describe('put / get / replace / delete', () => {
      it('stores a record with every field and returns it, stamped with revision 1', async () => {
        const s = await fresh();
        const r = rec('k1', {
          owner: 'bob',
          state: State.Active,
          objectType: ObjectType.PrivateKey,
          sealedBody: Buffer.from([0, 1, 2, 250]),
          kekId: 'kek-7',
          attributes: {
            Name: [name('first'), name('second')],
            CryptographicAlgorithm: [t.enum(Tag.CryptographicAlgorithm, 3)],
            CryptographicLength: [t.int(Tag.CryptographicLength, 256)],
            ActivationDate: [activation(1_700_000_000n)],
            [customKey('x', 'Blob')]: [cv.bytes([0, 0, 1])],
          },
        });
        await s.commit([put(r)]);
        const got = await s.get('k1');
        expect(got).toEqual({ ...r, revision: 1 });
        expect(await s.get('nope')).toBeUndefined();
        expect(await s.count()).toBe(1);
      });

      it('replaces at the expected revision and bumps the revision', async () => {
        const s = await fresh();
        await s.commit([put(rec('k1', { owner: 'a' }))]);
        await s.commit([put(rec('k1', { owner: 'b', state: State.Active }), 1)]);
        const got = await s.get('k1');
        expect(got?.revision).toBe(2);
        expect(got?.owner).toBe('b');
        expect(got?.state).toBe(State.Active);
        expect(await s.count()).toBe(1);
      });

      it('ignores the revision the caller put in the record', async () => {
        const s = await fresh();
        await s.commit([put({ ...rec('k1'), revision: 99 })]);
        expect((await s.get('k1'))?.revision).toBe(1);
      });

      it('deletes at the expected revision', async () => {
        const s = await fresh();
        await s.commit([put(rec('k1')), put(rec('k2'))]);
        await s.commit([del('k1', 1)]);
        expect(await s.get('k1')).toBeUndefined();
        expect(await s.get('k2')).toBeDefined();
        expect(await s.count()).toBe(1);
        expect(await s.list(undefined, 10)).toEqual(['k2']);
      });

      it('refuses to delete a missing record (NOT_FOUND)', async () => {
        const s = await fresh();
        await rejectsWith(s.commit([del('ghost', 0)]), 'NOT_FOUND');
        await rejectsWith(s.commit([del('ghost', 1)]), 'NOT_FOUND');
      });

      it('does not alias the caller’s objects', async () => {
        const s = await fresh();
        const attrs = new Map([['ObjectGroup', [t.text(Tag.ObjectGroup, 'g1')]]]);
        await s.commit([put(rec('k1', { attributes: attrs }))]);
        attrs.set('ObjectGroup', [t.text(Tag.ObjectGroup, 'changed')]);
        const got = await s.get('k1');
        expect(got?.attributes.get('ObjectGroup')).toEqual([t.text(Tag.ObjectGroup, 'g1')]);
        expect(await s.find({ field: 'ObjectGroup', equals: indexText('g1') })).toEqual(['k1']);
      });

      it('applies the ops of one commit in order', async () => {
        const s = await fresh();
        await s.commit([put(rec('k1', { owner: 'a' })), put(rec('k1', { owner: 'b' }), 1), put(rec('k2')), del('k2', 1)]);
        expect((await s.get('k1'))?.revision).toBe(2);
        expect((await s.get('k1'))?.owner).toBe('b');
        expect(await s.get('k2')).toBeUndefined();
        expect(await s.find({ field: '$owner', equals: indexText('a') })).toEqual([]);
        expect(await s.find({ field: '$owner', equals: indexText('b') })).toEqual(['k1']);
        expect(await s.count()).toBe(1);
        // The next commit sees the revision the last op left (2), for a record new in that commit too.
        await rejectsWith(s.commit([put(rec('k1', { owner: 'c' }), 1)]), 'CONFLICT');
        await s.commit([put(rec('k1', { owner: 'c' }), 2)]);
        expect((await s.get('k1'))?.revision).toBe(3);
      });

      it('an empty commit is a no-op', async () => {
        const s = await fresh();
        await s.commit([]);
        expect(await s.count()).toBe(0);
      });
    });

    describe('revision conflicts', () => {
      it('refuses to create over an existing record', async () => {
        const s = await fresh();
        await s.commit([put(rec('k1', { owner: 'a' }))]);
        await rejectsWith(s.commit([put(rec('k1', { owner: 'b' }), 0)]), 'CONFLICT');
        expect((await s.get('k1'))?.owner).toBe('a');
      });

      it('refuses a stale replace or delete', async () => {
        const s = await fresh();
        await s.commit([put(rec('k1', { owner: 'a' }))]);
        await s.commit([put(rec('k1', { owner: 'b' }), 1)]);
        await rejectsWith(s.commit([put(rec('k1', { owner: 'c' }), 1)]), 'CONFLICT');
        await rejectsWith(s.commit([put(rec('k1', { owner: 'c' }), 3)]), 'CONFLICT');
        await rejectsWith(s.commit([del('k1', 1)]), 'CONFLICT');
        const got = await s.get('k1');
        expect(got?.owner).toBe('b');
        expect(got?.revision).toBe(2);
      });

      it('refuses a replace of a record that does not exist', async () => {
        const s = await fresh();
        await rejectsWith(s.commit([put(rec('k1'), 1)]), 'CONFLICT');
        expect(await s.get('k1')).toBeUndefined();
      });

      it('rejects every op of a batch when one is stale: nothing is written, no index changes', async () => {
        const s = await fresh();
        await s.commit([put(rec('k1', { owner: 'a', attributes: { Name: [name('one')] } })), put(rec('k2', { owner: 'a' }))]);
        await rejectsWith(
          s.commit([
            put(rec('new', { owner: 'z', attributes: { Name: [name('fresh')] } })),
            put(rec('k1', { owner: 'z', attributes: { Name: [name('renamed')] } }), 1),
            del('k2', 1),
            put(rec('k1', { owner: 'y' }), 1), // stale: k1 is at 2 after the op above
          ]),
          'CONFLICT',
        );
        expect(await s.get('new')).toBeUndefined();
        expect((await s.get('k1'))?.owner).toBe('a');
        expect(await s.get('k2')).toBeDefined();
        expect(await s.count()).toBe(2);
        expect(await s.find({ field: '$owner', equals: indexText('z') })).toEqual([]);
        expect(await s.find({ field: '$owner', equals: indexText('a') })).toEqual(['k1', 'k2']);
        expect(await s.find({ field: 'Name', equals: indexText('fresh') })).toEqual([]);
        expect(await s.find({ field: 'Name', equals: indexText('renamed') })).toEqual([]);
        expect(await s.find({ field: 'Name', equals: indexText('one') })).toEqual(['k1']);
        expect(await s.list(undefined, 10)).toEqual(['k1', 'k2']);
      });

      it('atomically applies a multi-op commit', async () => {
        const s = await fresh();
        await s.commit([put(rec('a')), put(rec('b')), put(rec('c'))]);
        await s.commit([del('a', 1), put(rec('b', { state: State.Active }), 1), put(rec('d'))]);
        expect(await s.list(undefined, 10)).toEqual(['b', 'c', 'd']);
        expect(await s.find({ field: '$state', equals: indexEnum(State.Active) })).toEqual(['b']);
        expect(await s.find({ field: '$state', equals: indexEnum(State.PreActive) })).toEqual(['c', 'd']);
      });
    });

    describe('scan (ordered index walk) and find with a limit', () => {
      const stamp = (v: bigint) => ({ $order: [t.long(0x54ff80, v)] });
      async function filled(): Promise<ObjectStore> {
        const s = await fresh();
        // Values out of uid order, one negative, two equal (then by uid), one record without it.
        const values: [string, bigint][] = [
          ['u1', 30n],
          ['u2', -5n],
          ['u3', 100n],
          ['u4', 30n],
          ['u5', 7n],
          ['u6', 1n << 40n],
        ];
        await s.commit([...values.map(([u, v]) => put(rec(u, { attributes: stamp(v) }))), put(rec('u7'))]);
        return s;
      }
      async function all(s: ObjectStore, reverse: boolean, limit: number): Promise<string[]> {
        const out: string[] = [];
        let cursor: Uint8Array | undefined;
        for (let pages = 0; pages < 20; pages++) {
          const page = await s.scan('$order', { reverse, limit, ...(cursor && { cursor }) });
          expect(page.uids.length).toBeLessThanOrEqual(limit);
          out.push(...page.uids);
          if (!page.cursor) return out;
          cursor = page.cursor;
        }
        throw new Error('scan did not end');
      }

      it('walks values in order, ties by uid, either direction, in pages of any size', async () => {
        const s = await filled();
        const asc = ['u2', 'u5', 'u1', 'u4', 'u3', 'u6'];
        for (const limit of [1, 2, 4, 6, 100]) {
          expect(await all(s, false, limit), `ascending, pages of ${limit}`).toEqual(asc);
          expect(await all(s, true, limit), `descending, pages of ${limit}`).toEqual([...asc].reverse());
        }
        expect((await s.scan('$nothing', { limit: 5 })).uids).toEqual([]);
      });

      it('follows changes: a deleted record leaves the walk, a new value takes its place', async () => {
        const s = await filled();
        await s.commit([del('u3', 1), put(rec('u5', { attributes: stamp(1000n) }), 1)]);
        expect(await all(s, true, 2)).toEqual(['u6', 'u5', 'u4', 'u1', 'u2']);
      });

      it('find with a limit reads at most that many entries', async () => {
        const s = await filled();
        const q: IndexQuery = { field: '$order', exists: true };
        expect((await s.find(q)).length).toBe(6);
        const some = await s.find(q, 3);
        expect(some).toHaveLength(3);
        for (const u of some) expect(['u1', 'u2', 'u3', 'u4', 'u5', 'u6']).toContain(u);
        expect(await s.find(q, 100)).toHaveLength(6);
      });
    });

    describe('find', () => {
      async function seeded(): Promise<ObjectStore> {
        const s = await fresh();
        await s.commit([
          put(
            rec('u1', {
              owner: 'alice',
              state: State.Active,
              objectType: ObjectType.SymmetricKey,
              attributes: {
                Name: [name('payroll-key'), name('backup-key')],
                ActivationDate: [activation(100n)],
                ObjectGroup: [t.text(Tag.ObjectGroup, 'finance')],
                Link: [link(LinkType.PublicKeyLink, 'u2')],
                ApplicationSpecificInformation: [appInfo('ssl', 'www.example.com')],
                AlternativeName: [altName('alt-1')],
                CryptographicUsageMask: [t.int(Tag.CryptographicUsageMask, 12)],
                [customKey('x', 'Int')]: [cv.int(-5)],
                [customKey('x', 'Long')]: [cv.long(-(2n ** 40n))],
                [customKey('x', 'Text')]: [cv.text('red')],
                [customKey('x', 'Bytes')]: [cv.bytes([1, 0])],
                [customKey('x', 'Bool')]: [cv.bool(true)],
                [customKey('x', 'Mixed')]: [cv.int(5)],
                [customKey('x', 'Struct')]: [t.struct(Tag.AttributeValue, [t.text(Tag.NameValue, 's')])],
              },
            }),
          ),
          put(
            rec('u2', {
              owner: 'bob',
              state: State.PreActive,
              objectType: ObjectType.PublicKey,
              attributes: {
                Name: [name('payroll-pub')],
                ActivationDate: [activation(200n)],
                ObjectGroup: [t.text(Tag.ObjectGroup, 'finance')],
                Link: [link(LinkType.PrivateKeyLink, 'u3'), link(LinkType.CertificateLink, 'c9')],
                ApplicationSpecificInformation: [appInfo('ssl', 'mail.example.com'), appInfo('other', 'x')],
                [customKey('x', 'Int')]: [cv.int(0)],
                [customKey('x', 'Long')]: [cv.long(7n)],
                [customKey('x', 'Text')]: [cv.text('green')],
                [customKey('x', 'Bytes')]: [cv.bytes([1])],
                [customKey('x', 'Bool')]: [cv.bool(false)],
                [customKey('x', 'Mixed')]: [cv.enum(5)],
              },
            }),
          ),
          put(
            rec('u3', {
              owner: 'alice',
              state: State.Deactivated,
              objectType: ObjectType.PrivateKey,
              attributes: {
                Name: [name('zeta')],
                ActivationDate: [activation(-300n)],
                Link: [link(LinkType.PublicKeyLink, 'u2')],
                [customKey('x', 'Int')]: [cv.int(2_000_000_000)],
                [customKey('x', 'Long')]: [cv.long(2n ** 40n)],
                [customKey('x', 'Bytes')]: [cv.bytes([1, 0, 0])],
                [customKey('y', 'Text')]: [cv.text('red')],
              },
            }),
          ),
          put(rec('u4', { owner: 'carol', state: State.Active, objectType: ObjectType.SecretData })),
        ]);
        return s;
      }

      const cases: Array<[string, IndexQuery, string[]]> = [
        // record fields
        ['owner equals', { field: '$owner', equals: indexText('alice') }, ['u1', 'u3']],
        ['owner equals, no hit', { field: '$owner', equals: indexText('alic') }, []],
        ['state equals', { field: '$state', equals: indexEnum(State.Active) }, ['u1', 'u4']],
        ['state range', { field: '$state', from: indexEnum(State.PreActive), to: indexEnum(State.Active) }, ['u1', 'u2', 'u4']],
        ['object type equals', { field: '$objectType', equals: indexEnum(ObjectType.PublicKey) }, ['u2']],
        ['object type exists', { field: '$objectType', exists: true }, ['u1', 'u2', 'u3', 'u4']],
        // names
        ['name equals (one of two instances)', { field: 'Name', equals: indexText('backup-key') }, ['u1']],
        ['name prefix range', { field: 'Name', from: indexText('payroll-'), to: indexText('payroll-\u{10FFFF}') }, ['u1', 'u2']],
        ['name exists', { field: 'Name', exists: true }, ['u1', 'u2', 'u3']],
        ['alternative name', { field: 'AlternativeName', equals: indexText('alt-1') }, ['u1']],
        ['object group', { field: 'ObjectGroup', equals: indexText('finance') }, ['u1', 'u2']],
        // dates, inclusive bounds, negative values
        ['date range inclusive both ends', { field: 'ActivationDate', from: indexValue(activation(100n)), to: indexValue(activation(200n)) }, ['u1', 'u2']],
        ['date range from just above', { field: 'ActivationDate', from: indexValue(activation(101n)), to: indexValue(activation(200n)) }, ['u2']],
        ['date range to just below', { field: 'ActivationDate', from: indexValue(activation(100n)), to: indexValue(activation(199n)) }, ['u1']],
        ['date range over negative', { field: 'ActivationDate', from: indexValue(activation(-1000n)), to: indexValue(activation(100n)) }, ['u1', 'u3']],
        ['date open-ended from', { field: 'ActivationDate', from: indexValue(activation(0n)) }, ['u1', 'u2']],
        ['date open-ended to', { field: 'ActivationDate', to: indexValue(activation(0n)) }, ['u3']],
        ['date empty range (from > to)', { field: 'ActivationDate', from: indexValue(activation(200n)), to: indexValue(activation(100n)) }, []],
        ['date range without bounds = exists', { field: 'ActivationDate' }, ['u1', 'u2', 'u3']],
        // standard attribute of Integer type
        ['usage mask equals', { field: 'CryptographicUsageMask', equals: indexValue(t.int(Tag.CryptographicUsageMask, 12)) }, ['u1']],
        // custom attributes of several item types
        ['custom int negative..zero', { field: customKey('x', 'Int'), from: indexValue(cv.int(-10)), to: indexValue(cv.int(0)) }, ['u1', 'u2']],
        ['custom int big', { field: customKey('x', 'Int'), from: indexValue(cv.int(1)) }, ['u3']],
        ['custom long range', { field: customKey('x', 'Long'), from: indexValue(cv.long(-(2n ** 41n))), to: indexValue(cv.long(7n)) }, ['u1', 'u2']],
        ['custom text equals', { field: customKey('x', 'Text'), equals: indexValue(cv.text('red')) }, ['u1']],
        ['other vendor same name', { field: customKey('y', 'Text'), equals: indexValue(cv.text('red')) }, ['u3']],
        ['custom bytes equals (no prefix confusion with 0x00)', { field: customKey('x', 'Bytes'), equals: indexValue(cv.bytes([1, 0])) }, ['u1']],
        ['custom bytes equals shortest', { field: customKey('x', 'Bytes'), equals: indexValue(cv.bytes([1])) }, ['u2']],
        ['custom bytes range', { field: customKey('x', 'Bytes'), from: indexValue(cv.bytes([1])), to: indexValue(cv.bytes([1, 0])) }, ['u1', 'u2']],
        ['custom bool', { field: customKey('x', 'Bool'), equals: indexValue(cv.bool(false)) }, ['u2']],
        ['custom item types do not collide', { field: customKey('x', 'Mixed'), equals: indexValue(cv.int(5)) }, ['u1']],
        ['custom item types do not collide (enum)', { field: customKey('x', 'Mixed'), equals: indexValue(cv.enum(5)) }, ['u2']],
        ['custom structure equality', { field: customKey('x', 'Struct'), equals: indexValue(t.struct(Tag.AttributeValue, [t.text(Tag.NameValue, 's')])) }, ['u1']],
        ['custom exists', { field: customKey('x', 'Text'), exists: true }, ['u1', 'u2']],
        // links
        ['link by type and target', { field: linkField(LinkType.PublicKeyLink), equals: indexText('u2') }, ['u1', 'u3']],
        ['link of one type only', { field: linkField(LinkType.PrivateKeyLink), equals: indexText('u2') }, []],
        ['link of a type exists', { field: linkField(LinkType.CertificateLink), exists: true }, ['u2']],
        ['any link exists', { field: 'Link', exists: true }, ['u1', 'u2', 'u3']],
        // application specific information
        ['ASI by namespace and data', { field: applicationField('ssl'), equals: indexText('mail.example.com') }, ['u2']],
        ['ASI namespace exists', { field: applicationField('ssl'), exists: true }, ['u1', 'u2']],
        // unknown field
        ['unknown field', { field: 'NoSuchAttribute', exists: true }, []],
      ];
      for (const [title, q, expected] of cases) {
        it(title, async () => {
          const s = await seeded();
          expect(await s.find(q)).toEqual(expected);
        });
      }

      it('removes index entries when a record changes (no stale hits)', async () => {
        const s = await seeded();
        const u1 = await s.get('u1');
        if (!u1) throw new Error('missing u1');
        const attrs = new Map(u1.attributes);
        attrs.set('Name', [name('renamed')]);
        attrs.delete('Link');
        attrs.set(customKey('x', 'Int'), [cv.int(42)]);
        await s.commit([put({ ...u1, owner: 'dave', state: State.Compromised, attributes: attrs }, u1.revision)]);
        expect(await s.find({ field: 'Name', equals: indexText('payroll-key') })).toEqual([]);
        expect(await s.find({ field: 'Name', equals: indexText('backup-key') })).toEqual([]);
        expect(await s.find({ field: 'Name', equals: indexText('renamed') })).toEqual(['u1']);
        expect(await s.find({ field: '$owner', equals: indexText('alice') })).toEqual(['u3']);
        expect(await s.find({ field: '$owner', equals: indexText('dave') })).toEqual(['u1']);
        expect(await s.find({ field: '$state', equals: indexEnum(State.Active) })).toEqual(['u4']);
        expect(await s.find({ field: linkField(LinkType.PublicKeyLink), equals: indexText('u2') })).toEqual(['u3']);
        expect(await s.find({ field: 'Link', exists: true })).toEqual(['u2', 'u3']);
        expect(await s.find({ field: customKey('x', 'Int'), from: indexValue(cv.int(-10)), to: indexValue(cv.int(0)) })).toEqual(['u2']);
        // unchanged attributes still found
        expect(await s.find({ field: 'ActivationDate', equals: indexValue(activation(100n)) })).toEqual(['u1']);
      });

      it('removes index entries when a record is deleted', async () => {
        const s = await seeded();
        await s.commit([del('u1', 1), del('u4', 1)]);
        expect(await s.find({ field: '$owner', equals: indexText('alice') })).toEqual(['u3']);
        expect(await s.find({ field: '$state', equals: indexEnum(State.Active) })).toEqual([]);
        expect(await s.find({ field: 'Name', exists: true })).toEqual(['u2', 'u3']);
        expect(await s.find({ field: applicationField('ssl'), exists: true })).toEqual(['u2']);
        expect(await s.find({ field: customKey('x', 'Struct'), exists: true })).toEqual([]);
        expect(await s.find({ field: '$objectType', exists: true })).toEqual(['u2', 'u3']);
      });

      it('indexes long values (up to an attribute value’s limit) exactly: equality, ranges and walk order past a long shared prefix', async () => {
        const s = await fresh();
        const shared = 'p'.repeat(3000);
        const big = (tail: string) => `${shared}${tail}${'z'.repeat(60_000)}`;
        const values: [string, string][] = [
          ['l1', big('b')],
          ['l2', big('a')],
          ['l3', shared], // a prefix of the others: sorts first
          ['l4', big('c')],
          ['l5', 'short'],
        ];
        await s.commit(values.map(([u, v]) => put(rec(u, { attributes: { Name: [name(v)], [customKey('x', 'Long')]: [cv.text(v)] } }))));
        for (const [u, v] of values) expect(await s.find({ field: 'Name', equals: indexText(v) }), u).toEqual([u]);
        expect(await s.find({ field: 'Name', equals: indexText(`${shared}b`) })).toEqual([]);
        expect(await s.find({ field: 'Name', from: indexText(big('a')), to: indexText(big('b')) })).toEqual(['l1', 'l2']);
        expect(await s.find({ field: 'Name', from: indexText(`${shared}a`), to: indexText(`${shared}b`) })).toEqual(['l2']);
        expect(await s.find({ field: 'Name', from: indexText(shared) })).toEqual(['l1', 'l2', 'l3', 'l4', 'l5']);
        expect(await s.find({ field: 'Name', to: indexText(shared) })).toEqual(['l3']);
        const walk: string[] = [];
        let cursor: Uint8Array | undefined;
        for (let i = 0; i < 10; i++) {
          const page = await s.scan(customKey('x', 'Long'), { limit: 2, ...(cursor && { cursor }) });
          walk.push(...page.uids);
          if (!page.cursor) break;
          cursor = page.cursor;
        }
        expect(walk).toEqual(['l3', 'l2', 'l1', 'l4', 'l5']);
        const back: string[] = [];
        cursor = undefined;
        for (let i = 0; i < 10; i++) {
          const page = await s.scan(customKey('x', 'Long'), { limit: 2, reverse: true, ...(cursor && { cursor }) });
          back.push(...page.uids);
          if (!page.cursor) break;
          cursor = page.cursor;
        }
        expect(back).toEqual(['l5', 'l4', 'l1', 'l2', 'l3']);
        await s.commit([put(rec('l1', { attributes: { Name: [name('renamed')] } }), 1)]);
        expect(await s.find({ field: 'Name', equals: indexText(big('b')) })).toEqual([]);
        expect(await s.find({ field: 'Name', from: indexText(shared), to: indexText(`${shared}\u{10FFFF}`) })).toEqual(['l2', 'l3', 'l4']);
      });

      it('returns each uid once, in ascending code point order', async () => {
        const s = await fresh();
        // U+FFFD sorts before U+1F600 by code point (and in UTF-8), after it in UTF-16 code units.
        const uids = ['b', 'a\u{1F600}', 'a\uFFFD', 'a', 'A', 'a\u0000'];
        await s.commit(uids.map((u) => put(rec(u, { attributes: { Name: [name('n1'), name('n2')] } }))));
        const expected = ['A', 'a', 'a\u0000', 'a\uFFFD', 'a\u{1F600}', 'b'];
        expect(await s.find({ field: 'Name', exists: true })).toEqual(expected);
        expect(await s.find({ field: 'Name', equals: indexText('n2') })).toEqual(expected);
        expect(await s.list(undefined, 100)).toEqual(expected);
        expect(await s.list('a\uFFFD', 100)).toEqual(['a\u{1F600}', 'b']);
      });
    });

    describe('list and count', () => {
      it('pages through every uid in order', async () => {
        const s = await fresh();
        const uids = Array.from({ length: 25 }, (_, i) => `uid-${String(i).padStart(2, '0')}`);
        await s.commit([...uids].reverse().map((u) => put(rec(u))));
        expect(await s.count()).toBe(25);
        const pages: string[][] = [];
        let after: string | undefined;
        for (;;) {
          const page = await s.list(after, 7);
          if (page.length === 0) break;
          expect(page.length).toBeLessThanOrEqual(7);
          pages.push(page);
          after = page[page.length - 1];
        }
        expect(pages.map((p) => p.length)).toEqual([7, 7, 7, 4]);
        expect(pages.flat()).toEqual(uids);
        expect(await s.list('uid-10', 3)).toEqual(['uid-11', 'uid-12', 'uid-13']);
        expect(await s.list('uid-105', 2)).toEqual(['uid-11', 'uid-12']); // `after` need not exist
        expect(await s.list('zzz', 5)).toEqual([]);
        expect(await s.list(undefined, 0)).toEqual([]);
      });

      it('counts creates and deletes, not replaces', async () => {
        const s = await fresh();
        expect(await s.count()).toBe(0);
        await s.commit([put(rec('a')), put(rec('b'))]);
        await s.commit([put(rec('a'), 1)]);
        expect(await s.count()).toBe(2);
        await s.commit([del('a', 2)]);
        expect(await s.count()).toBe(1);
        await rejectsWith(s.commit([put(rec('c')), del('b', 7)]), 'CONFLICT');
        expect(await s.count()).toBe(1);
      });
    });

    describe('lifecycle', () => {
      it('refuses use before open and after close (CLOSED)', async () => {
        const s = await makeStore();
        await rejectsWith(s.get('x'), 'CLOSED');
        await s.open();
        await s.commit([put(rec('a'))]);
        await s.close();
        await rejectsWith(s.get('a'), 'CLOSED');
        await rejectsWith(s.commit([put(rec('b'))]), 'CLOSED');
        await rejectsWith(s.find({ field: '$owner', exists: true }), 'CLOSED');
      });

      it('open is idempotent, close may be repeated, a closed store stays closed', async () => {
        const s = await makeStore();
        await s.open();
        await s.open();
        await s.commit([put(rec('a'))]);
        await Promise.all([s.close(), s.close()]);
        await s.close();
        await rejectsWith(s.open(), 'CLOSED');
      });

      it('close waits for commits already made', async () => {
        const s = await makeStore();
        await s.open();
        const commits = Array.from({ length: 20 }, (_, i) => s.commit([put(rec(`c${i}`))]));
        await s.close();
        await Promise.all(commits);
      });

      it('refuses malformed ops with a TypeError, not a store error', async () => {
        const s = await fresh();
        await expect(s.commit([put(rec(''))])).rejects.toBeInstanceOf(TypeError);
        await expect(s.commit([put(rec('\uD800'))])).rejects.toBeInstanceOf(TypeError);
        await expect(s.commit([del('a', -1)])).rejects.toBeInstanceOf(TypeError);
        expect(await s.count()).toBe(0);
      });
    });

    describe('server metadata (meta-put / meta-delete)', () => {
      const mput = (key: string, value: string, expectedRevision = 0): CommitOp => ({ type: 'meta-put', key, value: Buffer.from(value), expectedRevision });
      const mdel = (key: string, expectedRevision: number): CommitOp => ({ type: 'meta-delete', key, expectedRevision });
      const text = (e: { value: Uint8Array } | undefined) => (e ? Buffer.from(e.value).toString() : undefined);

      it('puts, replaces at the expected revision, deletes; a stale op is CONFLICT and changes nothing', async () => {
        const s = await fresh();
        expect(await s.meta.get('clients/a')).toBeUndefined();
        await s.commit([mput('clients/a', 'one')]);
        expect(await s.meta.get('clients/a')).toMatchObject({ key: 'clients/a', revision: 1 });
        expect(text(await s.meta.get('clients/a'))).toBe('one');
        await rejectsWith(s.commit([mput('clients/a', 'again', 0)]), 'CONFLICT');
        await s.commit([mput('clients/a', 'two', 1)]);
        await rejectsWith(s.commit([mput('clients/a', 'three', 1)]), 'CONFLICT');
        expect(await s.meta.get('clients/a')).toMatchObject({ revision: 2 });
        expect(text(await s.meta.get('clients/a'))).toBe('two');
        await rejectsWith(s.commit([mdel('clients/a', 1)]), 'CONFLICT');
        await rejectsWith(s.commit([mdel('clients/ghost', 0)]), 'NOT_FOUND');
        await s.commit([mdel('clients/a', 2)]);
        expect(await s.meta.get('clients/a')).toBeUndefined();
        // Metadata is not a record: no count, no uid.
        expect(await s.count()).toBe(0);
        expect(await s.list(undefined, 10)).toEqual([]);
      });

      it('is atomic with records and audit entries: one stale op rejects all of them', async () => {
        const s = await fresh();
        await s.commit([mput('m/x', 'x')]);
        const seal = { seal: (seq: number) => ({ bytes: Buffer.from(`e${seq}`), link: Buffer.from(`l${seq}`) }) };
        await rejectsWith(s.commit([put(rec('k1')), mput('m/y', 'y'), mput('m/x', 'stale', 0)], { audit: [seal] }), 'CONFLICT');
        expect(await s.get('k1')).toBeUndefined();
        expect(await s.meta.get('m/y')).toBeUndefined();
        expect(s.audit.head().seq).toBe(0);
        await s.commit([put(rec('k1')), mput('m/y', 'y'), mput('m/x', 'x2', 1)], { audit: [seal] });
        expect(await s.get('k1')).toBeDefined();
        expect(text(await s.meta.get('m/x'))).toBe('x2');
        expect(s.audit.head().seq).toBe(1);
      });

      it('applies the meta ops of one commit in order', async () => {
        const s = await fresh();
        await s.commit([mput('m/a', '1'), mput('m/a', '2', 1), mput('m/b', 'b'), mdel('m/b', 1)]);
        expect(await s.meta.get('m/a')).toMatchObject({ revision: 2 });
        expect(text(await s.meta.get('m/a'))).toBe('2');
        expect(await s.meta.get('m/b')).toBeUndefined();
      });

      it('lists by prefix in key order, in pages', async () => {
        const s = await fresh();
        const keys = ['c/b', 'c/a', 'c/c', 'd/a', 'b/z', 'c-', 'c/a/x'];
        await s.commit(keys.map((k) => mput(k, k)));
        const all = await s.meta.list('c/', { limit: 100 });
        expect(all.map((e) => e.key)).toEqual(['c/a', 'c/a/x', 'c/b', 'c/c']);
        expect(all.map(text)).toEqual(['c/a', 'c/a/x', 'c/b', 'c/c']);
        const page1 = await s.meta.list('c/', { limit: 2 });
        expect(page1.map((e) => e.key)).toEqual(['c/a', 'c/a/x']);
        const page2 = await s.meta.list('c/', { after: 'c/a/x', limit: 2 });
        expect(page2.map((e) => e.key)).toEqual(['c/b', 'c/c']);
        expect(await s.meta.list('c/', { after: 'c/c', limit: 2 })).toEqual([]);
        expect(await s.meta.list('none/', { limit: 5 })).toEqual([]);
        expect((await s.meta.list('', { limit: 100 })).length).toBe(keys.length);
      });

      it('tells watchers of their prefix which keys changed, before the commit resolves', async () => {
        const s = await fresh();
        const seen: string[][] = [];
        const stop = s.meta.watch('deny/', (keys) => seen.push([...keys].sort()));
        let resolved = false;
        const p = s.commit([mput('deny/1', 'a'), mput('other/1', 'b')]).then(() => (resolved = true));
        const seenAtResolve = await p.then(() => seen.length);
        expect(resolved).toBe(true);
        expect(seenAtResolve).toBe(1);
        expect(seen).toEqual([['deny/1']]);
        await s.commit([mput('other/2', 'c')]);
        expect(seen).toHaveLength(1);
        await rejectsWith(s.commit([mput('deny/1', 'x', 0)]), 'CONFLICT');
        expect(seen).toHaveLength(1);
        await s.commit([mdel('deny/1', 1), mput('deny/2', 'd')]);
        expect(seen[1]).toEqual(['deny/1', 'deny/2']);
        stop();
        await s.commit([mput('deny/3', 'e')]);
        expect(seen).toHaveLength(2);
      });

      it('meta-check: the commit goes through only while the entry has exactly that revision (0: absent), and writes nothing', async () => {
        const s = await fresh();
        const check = (key: string, expectedRevision: number): CommitOp => ({ type: 'meta-check', key, expectedRevision });
        const seen: string[][] = [];
        s.meta.watch('lease/', (keys) => seen.push([...keys]));
        const seal = { seal: (seq: number) => ({ bytes: Buffer.from(`e${seq}`), link: Buffer.from(`l${seq}`) }) };
        // Absent: only 0 passes.
        await rejectsWith(s.commit([put(rec('k1')), check('lease/rot', 1)], { audit: [seal] }), 'CONFLICT');
        expect(await s.get('k1')).toBeUndefined();
        expect(s.audit.head().seq).toBe(0);
        await s.commit([put(rec('k1')), check('lease/rot', 0)]);
        expect(await s.meta.get('lease/rot')).toBeUndefined();
        await s.commit([mput('lease/rot', 'token-1')]);
        expect(seen).toEqual([['lease/rot']]);
        // The holder of revision 1 may commit; a stale token (0, 2) fails the whole commit.
        await s.commit([put(rec('k1'), 1), check('lease/rot', 1)], { audit: [seal] });
        expect((await s.get('k1'))?.revision).toBe(2);
        expect(s.audit.head().seq).toBe(1);
        await rejectsWith(s.commit([put(rec('k1'), 2), mput('other/x', 'x'), check('lease/rot', 0)]), 'CONFLICT');
        await rejectsWith(s.commit([check('lease/rot', 2), put(rec('k1'), 2)]), 'CONFLICT');
        expect((await s.get('k1'))?.revision).toBe(2);
        expect(await s.meta.get('other/x')).toBeUndefined();
        // Another holder took the lease: the old token no longer passes.
        await s.commit([mput('lease/rot', 'token-2', 1)]);
        await rejectsWith(s.commit([put(rec('k1'), 2), check('lease/rot', 1)]), 'CONFLICT');
        // A check sees the earlier ops of its own commit; it changes no revision and tells no watcher.
        await s.commit([mput('lease/rot', 'token-3', 2), check('lease/rot', 3), put(rec('k1'), 2)]);
        await rejectsWith(s.commit([mdel('lease/rot', 3), check('lease/rot', 3)]), 'CONFLICT');
        expect(await s.meta.get('lease/rot')).toMatchObject({ revision: 3 });
        seen.length = 0;
        await s.commit([check('lease/rot', 3)]);
        expect(seen).toEqual([]);
        expect(await s.meta.get('lease/rot')).toMatchObject({ revision: 3 });
        expect(text(await s.meta.get('lease/rot'))).toBe('token-3');
        await expect(s.commit([check('has space', 0)])).rejects.toBeInstanceOf(TypeError);
        await expect(s.commit([check('k', -1)])).rejects.toBeInstanceOf(TypeError);
      });

      it('meta-check in concurrent commits: each is judged on its own, in call order', async () => {
        const s = await fresh();
        const check = (key: string, expectedRevision: number): CommitOp => ({ type: 'meta-check', key, expectedRevision });
        await s.commit([mput('lease/a', 'h1')]);
        const results = await Promise.allSettled([
          s.commit([put(rec('x1')), check('lease/a', 1)]),
          s.commit([mput('lease/a', 'h2', 1)]),
          s.commit([put(rec('x2')), check('lease/a', 1)]),
          s.commit([put(rec('x3')), check('lease/a', 2)]),
        ]);
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
        expect(((results[2] as PromiseRejectedResult).reason as StoreError).code).toBe('CONFLICT');
        expect(await s.list(undefined, 10)).toEqual(['x1', 'x3']);
      });

      it('refuses malformed meta ops with a TypeError', async () => {
        const s = await fresh();
        await expect(s.commit([mput('', 'x')])).rejects.toBeInstanceOf(TypeError);
        await expect(s.commit([mput('has space', 'x')])).rejects.toBeInstanceOf(TypeError);
        await expect(s.commit([mput('k'.repeat(257), 'x')])).rejects.toBeInstanceOf(TypeError);
        await expect(s.commit([mdel('k', -1)])).rejects.toBeInstanceOf(TypeError);
        await expect(s.commit([{ type: 'meta-put', key: 'k', value: 'text' as unknown as Uint8Array, expectedRevision: 0 }])).rejects.toBeInstanceOf(TypeError);
      });
    });

    describe('onRecordsChanged', () => {
      it('tells listeners the uids a commit put or deleted, before the commit resolves; failed commits tell nothing', async () => {
        const s = await fresh();
        if (!s.onRecordsChanged) throw new Error('this store has no onRecordsChanged');
        const seen: string[][] = [];
        const origins = new Set<string>();
        const stop = s.onRecordsChanged((uids, origin) => {
          seen.push([...uids].sort());
          origins.add(origin);
        });
        const seenAtResolve = await s.commit([put(rec('a')), put(rec('b'))]).then(() => seen.length);
        expect(seenAtResolve).toBe(1);
        expect(seen).toEqual([['a', 'b']]);
        await rejectsWith(s.commit([put(rec('c')), del('a', 7)]), 'CONFLICT');
        await s.commit([{ type: 'meta-put', key: 'm/1', value: Buffer.from('x'), expectedRevision: 0 }]);
        expect(seen).toHaveLength(1);
        await s.commit([del('a', 1), put(rec('b'), 1)]);
        expect(seen[1]).toEqual(['a', 'b']);
        stop();
        await s.commit([put(rec('d'))]);
        expect(seen).toHaveLength(2);
        // The store's own commits, as opposed to another node's.
        expect([...origins]).toEqual(['local']);
      });
    });

    describe('snapshot', () => {
      const entry = (text: string) => ({
        seal: (seq: number, prev: Uint8Array) => {
          const bytes = Buffer.from(`${seq}:${Buffer.from(prev).toString('hex')}:${text}`);
          return { bytes, link: Buffer.from(text) };
        },
      });
      const all = async <T>(it: AsyncIterable<T>): Promise<T[]> => {
        const out: T[] = [];
        for await (const x of it) out.push(x);
        return out;
      };

      it('is one point in time: later commits, replacements and deletions are not seen', async () => {
        const s = await fresh();
        await s.commit([put(rec('b', { state: State.Active })), put(rec('a'))], { audit: [entry('one'), entry('two')] });
        const snap = await s.snapshot();
        await s.commit([put(rec('c')), del('a', 1), put(rec('b', { state: State.Deactivated }), 1)], { audit: [entry('three')] });
        expect(snap.count).toBe(2);
        expect(snap.auditHead.seq).toBe(2);
        expect(Buffer.from(snap.auditHead.link).toString()).toBe('two');
        const recs = await all(snap.records());
        expect(recs.map((r) => [r.uid, r.state, r.revision])).toEqual([
          ['a', State.PreActive, 1],
          ['b', State.Active, 1],
        ]);
        const log = await all(snap.auditEntries());
        expect(log.map((e) => [e.seq, Buffer.from(e.bytes).toString()])).toEqual([
          [1, '1::one'],
          [2, `2:${Buffer.from('one').toString('hex')}:two`],
        ]);
        expect((await all(snap.auditEntries(2))).map((e) => e.seq)).toEqual([2]);
        await snap.close();
        // The live store moved on.
        expect(await s.list(undefined, 10)).toEqual(['b', 'c']);
        expect(s.audit.head().seq).toBe(3);
        const now = await s.snapshot();
        expect(now.count).toBe(2);
        expect((await all(now.records())).map((r) => [r.uid, r.state])).toEqual([
          ['b', State.Deactivated],
          ['c', State.PreActive],
        ]);
        expect((await all(now.auditEntries())).length).toBe(3);
        await now.close();
      });

      it('holds the server metadata of its moment, by prefix in key order', async () => {
        const s = await fresh();
        const mput = (key: string, value: string, expectedRevision = 0): CommitOp => ({ type: 'meta-put', key, value: Buffer.from(value), expectedRevision });
        await s.commit([mput('p/b', 'b1'), mput('p/a', 'a1'), mput('q/x', 'x1'), mput('p', 'bare')]);
        await s.commit([mput('p/b', 'b2', 1)]);
        const snap = await s.snapshot();
        await s.commit([mput('p/c', 'c1'), { type: 'meta-delete', key: 'p/a', expectedRevision: 1 }, mput('p/b', 'b3', 2)]);
        const view = (es: { key: string; revision: number; value: Uint8Array }[]) => es.map((e) => [e.key, e.revision, Buffer.from(e.value).toString()]);
        expect(view(await all(snap.metaEntries('p/')))).toEqual([
          ['p/a', 1, 'a1'],
          ['p/b', 2, 'b2'],
        ]);
        expect(view(await all(snap.metaEntries('')))).toEqual([
          ['p', 1, 'bare'],
          ['p/a', 1, 'a1'],
          ['p/b', 2, 'b2'],
          ['q/x', 1, 'x1'],
        ]);
        expect(await all(snap.metaEntries('r/'))).toEqual([]);
        await snap.close();
        const now = await s.snapshot();
        expect(view(await all(now.metaEntries('p/')))).toEqual([
          ['p/b', 3, 'b3'],
          ['p/c', 1, 'c1'],
        ]);
        await now.close();
      });

      it('of an empty store: nothing, head 0', async () => {
        const s = await fresh();
        const snap = await s.snapshot();
        expect(snap.count).toBe(0);
        expect(snap.auditHead.seq).toBe(0);
        expect(await all(snap.records())).toEqual([]);
        expect(await all(snap.auditEntries())).toEqual([]);
        expect(await all(snap.metaEntries(''))).toEqual([]);
        await snap.close();
      });
    });
  });
}
