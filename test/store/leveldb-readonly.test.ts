/**
 * The LevelDB store opened read-only, as `kms keys` opens a stopped server's folder: it never
 * creates a database, refuses writes, and says plainly when a running server holds the folder.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LevelStore, StoreError } from '../../src/store/index.js';
import { rec } from './records.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const fresh = () => {
  const d = mkdtempSync(join(tmpdir(), 'kms-ro-'));
  dirs.push(d);
  return d;
};

async function openFails(store: LevelStore): Promise<StoreError> {
  const e = await store.open().then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(StoreError);
  return e as StoreError;
}

describe('LevelStore readOnly', () => {
  it('does not create a missing database', async () => {
    const path = join(fresh(), 'db');
    expect((await openFails(new LevelStore({ path, readOnly: true }))).message).toMatch(/no database at/);
    expect(existsSync(path)).toBe(false);
  });

  it('reads what a writer stored, and refuses commits', async () => {
    const path = join(fresh(), 'db');
    const w = new LevelStore({ path });
    await w.open();
    await w.commit([{ type: 'put', record: rec('u1'), expectedRevision: 0 }]);
    await w.close();
    const r = new LevelStore({ path, readOnly: true });
    await r.open();
    expect((await r.get('u1'))?.owner).toBe('alice');
    expect(await r.count()).toBe(1);
    await expect(r.commit([{ type: 'put', record: rec('u2'), expectedRevision: 0 }])).rejects.toMatchObject({ code: 'CLOSED' });
    await r.close();
  });

  it('a folder held by another store (a running server) is refused as "in use"', async () => {
    const path = join(fresh(), 'db');
    const w = new LevelStore({ path });
    await w.open();
    const e = await openFails(new LevelStore({ path, readOnly: true }));
    expect(e.code).toBe('IO');
    expect(e.message).toMatch(/in use: another process \(a running server\?\) holds its lock/);
    await w.close();
  });
});
