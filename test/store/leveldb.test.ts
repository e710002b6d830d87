import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { LevelStore, StoreError, indexText, type StoreOp, type CommitOp } from '../../src/store/index.js';
import { MetaKey, SCHEMA_VERSION, Sublevel } from '../../src/store/leveldb/index.js';
import { fieldPrefix, valueKey } from '../../src/store/index-keys.js';
import { storeContract } from './contract.js';
import { name, rec } from './records.js';

const root = mkdtempSync(join(tmpdir(), 'kms-level-'));
let n = 0;
const newPath = (): string => join(root, `db${n++}`);
afterAll(() => rmSync(root, { recursive: true, force: true }));

storeContract('leveldb', async () => new LevelStore({ path: newPath() }));

const put = (r: ReturnType<typeof rec>, expectedRevision = 0): StoreOp => ({ type: 'put', record: r, expectedRevision });

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'ok',
    (e: unknown) => (e instanceof StoreError ? e.code : `other: ${String(e)}`),
  );
}

/** Raw access to a store folder, bypassing LevelStore (the store must be closed). */
async function withRaw<T>(path: string, f: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<T>): Promise<T> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    return await f(db);
  } finally {
    await db.close();
  }
}
const metaOf = (db: ClassicLevel<Uint8Array, Uint8Array>) => db.sublevel<string, string>(Sublevel.Meta, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
const recordsOf = (db: ClassicLevel<Uint8Array, Uint8Array>) => db.sublevel<string, Uint8Array>(Sublevel.Records, { keyEncoding: 'utf8', valueEncoding: 'view' });
const indexOf = (db: ClassicLevel<Uint8Array, Uint8Array>) => db.sublevel<Uint8Array, Uint8Array>(Sublevel.Index, { keyEncoding: 'view', valueEncoding: 'view' });

describe('LevelStore', () => {
  it('creates the folder (and its parents) on open', async () => {
    const path = join(newPath(), 'nested', 'deeper');
    const s = new LevelStore({ path });
    await s.open();
    expect(existsSync(path)).toBe(true);
    await s.close();
  });

  it('keeps records and indexes across close and reopen', async () => {
    const path = newPath();
    const s1 = new LevelStore({ path });
    await s1.open();
    await s1.commit([put(rec('a', { owner: 'o1', attributes: { Name: [name('n-a')] } })), put(rec('b', { owner: 'o1' }))]);
    await s1.commit([put(rec('a', { owner: 'o2', attributes: { Name: [name('n-a2')] } }), 1)]);
    await s1.close();
    const s2 = new LevelStore({ path });
    await s2.open();
    expect((await s2.get('a'))?.revision).toBe(2);
    expect(await s2.count()).toBe(2);
    expect(await s2.find({ field: '$owner', equals: indexText('o1') })).toEqual(['b']);
    expect(await s2.find({ field: 'Name', equals: indexText('n-a2') })).toEqual(['a']);
    expect(await s2.find({ field: 'Name', equals: indexText('n-a') })).toEqual([]);
    expect((await s2.check()).problems).toEqual([]);
    await s2.close();
  });

  it('writes its schema version on first open and refuses a newer one', async () => {
    const path = newPath();
    const s = new LevelStore({ path });
    await s.open();
    await s.close();
    expect(await withRaw(path, (db) => metaOf(db).get(MetaKey.Schema))).toBe(String(SCHEMA_VERSION));

    await withRaw(path, (db) => metaOf(db).put(MetaKey.Schema, String(SCHEMA_VERSION + 1)));
    const newer = new LevelStore({ path });
    expect(await codeOf(newer.open())).toBe('SCHEMA');
    // …and released the folder: a raw open works.
    await withRaw(path, async () => undefined);

    await withRaw(path, (db) => metaOf(db).put(MetaKey.Schema, 'garbage'));
    expect(await codeOf(new LevelStore({ path }).open())).toBe('CORRUPT');
  });

  it('refuses a folder holding data but no schema version', async () => {
    const path = newPath();
    await withRaw(path, (db) => db.put(Buffer.from('foreign'), Buffer.from('x')));
    expect(await codeOf(new LevelStore({ path }).open())).toBe('CORRUPT');
  });

  it('refuses a second open of a folder in use (IO)', async () => {
    const path = newPath();
    const s = new LevelStore({ path });
    await s.open();
    expect(await codeOf(new LevelStore({ path }).open())).toBe('IO');
    await s.close();
  });

  it('reports a corrupted record as CORRUPT and keeps serving the others', async () => {
    const path = newPath();
    const s1 = new LevelStore({ path });
    await s1.open();
    await s1.commit([put(rec('good', { owner: 'o' })), put(rec('bad', { owner: 'o' }))]);
    await s1.close();
    await withRaw(path, async (db) => {
      const r = recordsOf(db);
      const bytes = Buffer.from((await r.get('bad')) as Uint8Array);
      bytes[bytes.length - 3] = (bytes[bytes.length - 3] as number) ^ 0xff; // damage the tail
      await r.put('bad', bytes.subarray(0, bytes.length - 1));
    });
    const s = new LevelStore({ path });
    await s.open();
    expect(await codeOf(s.get('bad'))).toBe('CORRUPT');
    expect((await s.get('good'))?.owner).toBe('o');
    // A commit that must replace the damaged record fails; concurrent ones do not.
    const [c1, c2, c3] = await Promise.all([codeOf(s.commit([put(rec('bad'), 1)])), codeOf(s.commit([put(rec('good', { owner: 'p' }), 1)])), codeOf(s.commit([put(rec('new'))]))]);
    expect([c1, c2, c3]).toEqual(['CORRUPT', 'ok', 'ok']);
    expect(await s.find({ field: '$owner', equals: indexText('p') })).toEqual(['good']);
    expect(await s.list(undefined, 10)).toEqual(['bad', 'good', 'new']);
    // The damaged record's index entries cannot be accounted for: check() says so.
    const problems = (await s.check()).problems;
    expect(problems[0]).toMatch(/^record bad: corrupt record/);
    expect(problems.slice(1)).toEqual(Array(3).fill(expect.stringMatching(/^stale index entry/)));
    await s.close();
  });

  it('check() finds a stale index entry (so the durability test can fail)', async () => {
    const path = newPath();
    const s1 = new LevelStore({ path });
    await s1.open();
    await s1.commit([put(rec('a', { owner: 'o' }))]);
    expect((await s1.check()).problems).toEqual([]);
    await s1.close();
    await withRaw(path, (db) => indexOf(db).put(Buffer.concat([fieldPrefix('$owner'), valueKey(indexText('o'), 'ghost')]), new Uint8Array(0)));
    const s = new LevelStore({ path });
    await s.open();
    expect(await s.find({ field: '$owner', equals: indexText('o') })).toEqual(['a', 'ghost']);
    expect((await s.check()).problems).toEqual([expect.stringMatching(/^stale index entry/)]);
    await s.close();
  });

  describe('concurrent commits (one writer, group commit)', () => {
    it('keeps each commit’s own outcome and the call order', async () => {
      const s = new LevelStore({ path: newPath() });
      await s.open();
      // 20 replaces of one record, issued at once with revisions 0..19: call order is kept.
      const chain = Array.from({ length: 20 }, (_, i) => s.commit([put(rec('chain', { owner: `o${i}` }), i)]));
      // 30 creates of one uid: exactly one wins.
      const race = Array.from({ length: 30 }, (_, i) => codeOf(s.commit([put(rec('race', { owner: `r${i}` }))])));
      // 100 independent creates.
      const many = Array.from({ length: 100 }, (_, i) => s.commit([put(rec(`m${String(i).padStart(3, '0')}`, { owner: 'many' }))]));
      await Promise.all(chain);
      const outcomes = await Promise.all(race);
      await Promise.all(many);
      expect((await s.get('chain'))?.revision).toBe(20);
      expect((await s.get('chain'))?.owner).toBe('o19');
      expect(outcomes.filter((c) => c === 'ok')).toHaveLength(1);
      expect(outcomes.filter((c) => c === 'CONFLICT')).toHaveLength(29);
      expect((await s.get('race'))?.owner).toBe('r0');
      expect(await s.find({ field: '$owner', equals: indexText('many') })).toHaveLength(100);
      expect(await s.count()).toBe(102);
      expect((await s.check()).problems).toEqual([]);
      await s.close();
    });

    it('server metadata: concurrent creates of one key, one wins; chained replaces keep call order; kept across reopen', async () => {
      const path = newPath();
      const s = new LevelStore({ path });
      await s.open();
      const mput = (key: string, value: string, expectedRevision: number): CommitOp => ({ type: 'meta-put', key, value: Buffer.from(value), expectedRevision });
      const race = Array.from({ length: 20 }, (_, i) => codeOf(s.commit([mput('names/x', `r${i}`, 0)])));
      const chain = Array.from({ length: 10 }, (_, i) => s.commit([mput('chain', `c${i}`, i)]));
      const outcomes = await Promise.all(race);
      await Promise.all(chain);
      expect(outcomes.filter((c) => c === 'ok')).toHaveLength(1);
      expect(outcomes.filter((c) => c === 'CONFLICT')).toHaveLength(19);
      await s.close();
      const again = new LevelStore({ path, readOnly: true });
      await again.open();
      expect(Buffer.from((await again.meta.get('names/x'))!.value).toString()).toBe('r0');
      expect(await again.meta.get('chain')).toMatchObject({ revision: 10 });
      expect(Buffer.from((await again.meta.get('chain'))!.value).toString()).toBe('c9');
      expect((await again.check()).problems).toEqual([]);
      await again.close();
    });

    it('works the same with group commit disabled', async () => {
      const s = new LevelStore({ path: newPath(), maxGroupCommits: 1 });
      await s.open();
      const chain = Array.from({ length: 10 }, (_, i) => s.commit([put(rec('chain'), i)]));
      const bad = codeOf(s.commit([put(rec('chain'), 3)]));
      await Promise.all(chain);
      expect(await bad).toBe('CONFLICT');
      expect((await s.get('chain'))?.revision).toBe(10);
      await s.close();
    });
  });
});
