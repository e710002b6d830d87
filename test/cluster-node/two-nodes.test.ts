/**
 * Two `kms serve` processes, each with its own data folder, over one PostgreSQL database: a key
 * created on one is fetched from the other (same bytes) over real mTLS, both ways; the second
 * node joined the first's software master key (docs/cluster-nodes.md).
 */
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readClusterCustody } from '../../src/folder/cluster-custody.js';
import { PgStore } from '../../src/store/postgres/index.js';
import { runKms, type ServeProcess } from '../support/kms-process.js';
import { createKey, keyBytes, newClusterDatabase, newFolder, startNode } from './nodes.js';

const nodes: ServeProcess[] = [];
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});

describe('two kms serve processes over one PostgreSQL database', () => {
  it('serve the same keys: created on A, fetched from B; created on B, fetched from A', async () => {
    const url = await newClusterDatabase();
    const dirA = newFolder('a');
    const a = await startNode(dirA, url, { audit: { checkpointEvery: 2 } });
    nodes.push(a);
    // A made the keys and recorded them in the database (no secret: the master key's id).
    const store = new PgStore({ url });
    await store.open();
    const cluster = await readClusterCustody(store);
    await store.close();
    const localA = JSON.parse(readFileSync(join(dirA, 'custody.json'), 'utf8')) as { protector: { kekId: string } };
    expect(cluster?.protector).toEqual(localA.protector);
    expect(JSON.stringify(cluster)).not.toContain(readFileSync(join(dirA, 'master.key')).toString('hex'));

    // B joins with a copy of A's master key.
    const dirB = newFolder('b');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dirB, { recursive: true, mode: 0o700 });
    copyFileSync(join(dirA, 'master.key'), join(dirB, 'master.key'));
    const b = await startNode(dirB, url, { audit: { checkpointEvery: 2 } });
    nodes.push(b);
    expect(existsSync(join(dirB, 'custody.json'))).toBe(true);
    expect(b.port).not.toBe(a.port);

    const ca = await a.client();
    const cb = await b.client();
    const k1 = await createKey(ca);
    const onA = await keyBytes(ca, k1);
    expect(onA.length).toBe(32);
    expect((await keyBytes(cb, k1)).equals(onA)).toBe(true);
    const k2 = await createKey(cb);
    expect((await keyBytes(ca, k2)).equals(await keyBytes(cb, k2))).toBe(true);
    expect(k2).not.toBe(k1);

    // One audit chain: both nodes' records and checkpoints (every 2 records here) interleave in
    // it. With A stopped and B still serving, `kms audit verify --store URL` on A's folder reads
    // the whole chain read-only and checks it against A's own anchors.
    for (let i = 0; i < 3; i++) {
      await keyBytes(ca, k2);
      await keyBytes(cb, k1);
    }
    expect(await a.stop()).toBe(0);
    nodes.splice(nodes.indexOf(a), 1);
    await keyBytes(cb, k2);
    const verifyA = await runKms(['audit', 'verify', '--data-dir', dirA, '--store', url]);
    expect(verifyA.stderr).toBe('');
    expect(verifyA.code).toBe(0);
    expect(verifyA.stdout).toMatch(/checked against .*audit-anchor/);
    const tail = await runKms(['audit', 'tail', '--data-dir', dirA, '--store', url, '-n', '1000']);
    expect(tail.code).toBe(0);
    const records = tail.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; keyId?: string });
    const checkpoints = records.filter((r) => r.kind === 'checkpoint');
    expect(checkpoints.length).toBeGreaterThanOrEqual(4);
    const report = await runKms(['audit', 'report', '--data-dir', dirA, '--store', url, '--format', 'json']);
    expect(report.code).toBe(0);
    expect(report.stdout).toContain(k1);
    expect(report.stdout).toContain(k2);
  });
});
