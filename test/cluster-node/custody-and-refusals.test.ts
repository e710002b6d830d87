/**
 * Custody against the database, and what is refused over a cluster's store
 * (docs/cluster-nodes.md): a folder sealed under other keys than the database's is refused
 * (CustodyError MISMATCH) before anything is written; protector migration is refused over a
 * PostgreSQL store before anything changes, and so is a KEK rotation of a software master key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CustodyError } from '../../src/folder/custody.js';
import { CLUSTER_CUSTODY_KEY } from '../../src/folder/cluster-custody.js';
import { DataFolder } from '../../src/folder/data-folder.js';
import { rotateKek } from '../../src/folder/kek-rotation.js';
import { migrateProtector } from '../../src/folder/protector-migration.js';
import { newClusterDatabase, newFolder } from './nodes.js';

describe('custody against the database', () => {
  it('a folder of another cluster is refused MISMATCH; its custody.json is left as it was', async () => {
    const [url1, url2] = [await newClusterDatabase(), await newClusterDatabase()];
    const dir1 = newFolder('c1');
    const f1 = await DataFolder.open({ dataDir: dir1, keys: 'create', storeUrl: url1 });
    const rec = await f1.store.meta.get(CLUSTER_CUSTODY_KEY);
    expect(rec?.revision).toBe(1);
    await f1.close();
    const dir2 = newFolder('c2');
    const f2 = await DataFolder.open({ dataDir: dir2, keys: 'create', storeUrl: url2 });
    await f2.close();
    const before = readFileSync(join(dir2, 'custody.json'), 'utf8');
    const refused = DataFolder.open({ dataDir: dir2, keys: 'create', storeUrl: url1 });
    await expect(refused).rejects.toSatisfy((e: unknown) => e instanceof CustodyError && e.code === 'MISMATCH' && /another cluster/.test(e.message));
    expect(readFileSync(join(dir2, 'custody.json'), 'utf8')).toBe(before);
    expect(existsSync(join(dir2, 'kms.lock'))).toBe(false); // the lock was given back
    // The folder's own database still opens it.
    const again = await DataFolder.open({ dataDir: dir2, keys: 'open', storeUrl: url2 });
    await again.close();
  });
});

describe('refused over a cluster store before anything changes', () => {
  it('KEK rotation of a software master key, and protector migration (with the procedure)', async () => {
    const url = await newClusterDatabase();
    const dir = newFolder('refuse');
    const f = await DataFolder.open({ dataDir: dir, keys: 'create', storeUrl: url });
    try {
      const custody = readFileSync(join(dir, 'custody.json'), 'utf8');
      await expect(rotateKek({ store: f.store, protector: f.protector, dataDir: dir })).rejects.toThrow(/software master key/);
      await expect(
        migrateProtector({ store: f.store, dataDir: dir, protector: f.protector, auditKey: f.auditKey, to: { module: '/nonexistent.so', tokenLabel: 'x' } } as Parameters<
          typeof migrateProtector
        >[0]),
      ).rejects.toThrow(/not available over a PostgreSQL store.*kms backup --store URL.*kms protector migrate there.*kms store migrate/);
      expect(readFileSync(join(dir, 'custody.json'), 'utf8')).toBe(custody);
    } finally {
      await f.close();
    }
  });
});
