/**
 * The per-batch undo journal (src/store/undo-journal.ts) over the memory and LevelDB stores:
 * rolled back, every record is exactly as before (content and index entries), created ones are
 * gone, and a record another writer changed in between makes the whole rollback fail with
 * CONFLICT, writing nothing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelStore, MemoryStore, StoreError, indexText, type ObjectStore } from '../../src/store/index.js';
import { UndoJournal } from '../../src/store/undo-journal.js';
import { encodeRecord } from '../../src/store/record-codec.js';
import type { ObjectRecord } from '../../src/objects/managed-object.js';
import { State } from '../../src/kmip/generated/enums.gen.js';
import { name, rec } from './records.js';

const root = mkdtempSync(join(tmpdir(), 'kms-journal-'));
let n = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Record content without the revision, for "exactly as before". */
const content = (r: ObjectRecord | undefined) => r && Buffer.from(encodeRecord({ ...r, revision: 1 })).toString('hex');

for (const [kind, make] of [
  ['memory', () => new MemoryStore()],
  ['leveldb', () => new LevelStore({ path: join(root, `db${n++}`) })],
] as const) {
  describe(`UndoJournal over ${kind}`, () => {
    async function opened(): Promise<ObjectStore> {
      const s: ObjectStore = make();
      await s.open();
      return s;
    }

    it('rolls back a create, a change, a delete and a create-then-delete in one commit', async () => {
      const store = await opened();
      const changed = rec('u-changed', { attributes: { Name: [name('before')] } });
      const deleted = rec('u-deleted', { attributes: { Name: [name('gone')] } });
      await store.commit([
        { type: 'put', record: changed, expectedRevision: 0 },
        { type: 'put', record: deleted, expectedRevision: 0 },
      ]);
      const before = { changed: await store.get('u-changed'), deleted: await store.get('u-deleted') };

      const j = new UndoJournal(store);
      await j.commit([{ type: 'put', record: rec('u-new', { attributes: { Name: [name('fresh')] } }), expectedRevision: 0 }]);
      await j.commit([{ type: 'put', record: { ...changed, state: State.Active, attributes: new Map([['Name', [name('after')]]]) }, expectedRevision: 1 }]);
      await j.commit([{ type: 'put', record: { ...changed, state: State.Deactivated }, expectedRevision: 2 }]);
      await j.commit([{ type: 'delete', uid: 'u-deleted', expectedRevision: 1 }]);
      await j.commit([{ type: 'put', record: rec('u-temp'), expectedRevision: 0 }]);
      await j.commit([{ type: 'delete', uid: 'u-temp', expectedRevision: 1 }]);
      expect((await store.get('u-changed'))?.state).toBe(State.Deactivated);
      expect(await store.find({ field: 'Name', equals: indexText('fresh') })).toEqual(['u-new']);

      const ops = j.rollbackOps();
      expect(ops.map((o) => [o.type, o.type === 'put' ? o.record.uid : o.uid])).toEqual([
        ['put', 'u-deleted'],
        ['put', 'u-changed'],
        ['delete', 'u-new'],
      ]);
      await store.commit(ops);

      expect(await store.get('u-new')).toBeUndefined();
      expect(await store.get('u-temp')).toBeUndefined();
      expect(content(await store.get('u-changed'))).toBe(content(before.changed));
      expect(content(await store.get('u-deleted'))).toBe(content(before.deleted));
      // The revision moves on (4: created 1, two batch writes, the rollback), never back.
      expect((await store.get('u-changed'))?.revision).toBe(4);
      // Index entries follow: the created name is gone, the restored ones are back.
      expect(await store.find({ field: 'Name', equals: indexText('fresh') })).toEqual([]);
      expect(await store.find({ field: 'Name', equals: indexText('after') })).toEqual([]);
      expect(await store.find({ field: 'Name', equals: indexText('before') })).toEqual(['u-changed']);
      expect(await store.find({ field: 'Name', equals: indexText('gone') })).toEqual(['u-deleted']);
      expect(await store.count()).toBe(2);
      await store.close();
    });

    it('a change by another writer in between makes the rollback fail as a whole', async () => {
      const store = await opened();
      await store.commit([{ type: 'put', record: rec('a'), expectedRevision: 0 }]);
      const j = new UndoJournal(store);
      await j.commit([{ type: 'put', record: rec('b'), expectedRevision: 0 }]);
      await j.commit([{ type: 'put', record: { ...rec('a'), state: State.Active }, expectedRevision: 1 }]);
      // Another client changes `a` after the batch did.
      await store.commit([{ type: 'put', record: { ...rec('a'), state: State.Deactivated }, expectedRevision: 2 }]);
      const err = await store.commit(j.rollbackOps()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe('CONFLICT');
      // Nothing of the rollback was written: `b` is still there, `a` keeps the other change.
      expect(await store.get('b')).toBeDefined();
      expect((await store.get('a'))?.state).toBe(State.Deactivated);
      await store.close();
    });

    it('a journaled commit at a stale revision is refused and journals nothing', async () => {
      const store = await opened();
      await store.commit([{ type: 'put', record: rec('s'), expectedRevision: 0 }]);
      const j = new UndoJournal(store);
      const err = await j.commit([{ type: 'put', record: rec('s'), expectedRevision: 0 }]).catch((e: unknown) => e);
      expect((err as StoreError).code).toBe('CONFLICT');
      expect(j.isEmpty).toBe(true);
      expect(j.rollbackOps()).toEqual([]);
      await store.close();
    });
  });
}
