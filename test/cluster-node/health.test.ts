/**
 * Health of a node over PostgreSQL while the database is down (docs/cluster-nodes.md): /readyz
 * answers 503 naming the store (within its bounded check), /livez stays 200, Discover Versions
 * keeps answering on the KMIP port, other operations answer with a KMIP error instead of
 * hanging; once the database is back, the node is ready again and serves its keys.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { discoverVersionsPayload, getPayload } from '../../src/client/requests.js';
import { Operation, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import type { ServeProcess } from '../support/kms-process.js';
import { startPostgres, type OwnPostgres } from '../support/postgres.js';
import { call, createKey, httpsGetFrom, keyBytes, newFolder, startNode } from './nodes.js';

let pg: OwnPostgres | undefined;
let node: ServeProcess | undefined;
afterAll(async () => {
  if (node) {
    const n = node;
    // A node stops after its shutdown checkpoint; if the test failed with the database down, it is killed.
    const stopped = await Promise.race([n.stop().then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 20_000))]);
    if (!stopped) await n.kill();
  }
  await pg?.destroy();
}, 60_000);

describe('a node whose database is down', () => {
  it('is not ready (503) but alive, answers Discover Versions, and errors (not hangs) on the rest; ready again when the database is back', async () => {
    pg = await startPostgres();
    const url = await pg.newDatabase();
    node = await startNode(newFolder('health'), url);
    const c = await node.client();
    const uid = await createKey(c);
    const bytes = await keyBytes(c, uid);
    expect((await httpsGetFrom(node, '/readyz')).status).toBe(200);

    await pg.stop();
    const t0 = Date.now();
    const ready = await httpsGetFrom(node, '/readyz');
    expect(ready.status).toBe(503);
    const body = JSON.parse(ready.body) as { ready: boolean; checks: { store: { ok: boolean; error?: string }; protector: { ok: boolean } } };
    expect(body.checks.store.ok).toBe(false);
    expect(body.checks.protector.ok).toBe(true);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect((await httpsGetFrom(node, '/livez')).status).toBe(200);

    const dv = await call(c, Operation.DiscoverVersions, discoverVersionsPayload());
    expect(dv.status).toBe(ResultStatus.Success);
    const t1 = Date.now();
    const g = await call(c, Operation.Get, getPayload(uid));
    expect(g.status).toBe(ResultStatus.OperationFailed);
    expect(Date.now() - t1).toBeLessThan(15_000);

    await pg.start();
    let back = { status: 0, body: '' };
    for (const end = Date.now() + 30_000; back.status !== 200 && Date.now() < end; await new Promise((r) => setTimeout(r, 200))) back = await httpsGetFrom(node, '/readyz');
    expect(back).toMatchObject({ status: 200 });
    const c2 = await node.client();
    expect((await keyBytes(c2, uid)).equals(bytes)).toBe(true);
  });
});
