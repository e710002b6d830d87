/**
 * PgStore when the database goes away and comes back: commits and reads reject with IO (never a
 * half commit), the store works again once the server is back, and the change feed reconnects
 * and says "everything changed". A server of this file's own (it is stopped and restarted).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EVERYTHING, PgStore, StoreError, type StoreOp } from '../../src/store/index.js';
import { startPostgres, type OwnPostgres } from '../support/postgres.js';
import { rec } from './records.js';

const put = (r: ReturnType<typeof rec>, expectedRevision = 0): StoreOp => ({ type: 'put', record: r, expectedRevision });

let server: OwnPostgres;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  await server?.destroy();
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'ok',
    (e: unknown) => (e instanceof StoreError ? e.code : `other: ${String(e)}`),
  );
}

const entry = (text: string) => ({ seal: (seq: number) => ({ bytes: Buffer.from(`${seq}:${text}`), link: Buffer.from(text) }) });

it('the database going away: commit and reads reject with IO; after it is back the store works again and the feed says everything changed', async () => {
  const url = await server.newDatabase();
  const feedErrors: unknown[] = [];
  const a = new PgStore({ url, poolSize: 3, connectTimeoutMs: 2000 });
  const b = new PgStore({ url, poolSize: 3, connectTimeoutMs: 2000, onFeedError: (e) => feedErrors.push(e) });
  await a.open();
  await b.open();
  try {
    await a.commit([put(rec('before'))], { audit: [entry('before')] });
    const heard: (readonly string[])[] = [];
    b.onRecordsChanged((u) => heard.push(u));
    const metaHeard: (readonly string[])[] = [];
    b.meta.watch('m/', (k) => metaHeard.push(k));

    // A commit racing the shutdown lands whole or not at all.
    const racing = codeOf(a.commit([put(rec('z')), { type: 'meta-put', key: 'm/z', value: Buffer.from('z'), expectedRevision: 0 }], { audit: [entry('z')] }));
    await server.stop();
    const raced = await racing;
    expect(['ok', 'IO']).toContain(raced);

    expect(await codeOf(a.commit([put(rec('during'))]))).toBe('IO');
    expect(await codeOf(a.commit([], { audit: [entry('during')], deferSync: true }))).toBe('IO');
    expect(await codeOf(a.get('before'))).toBe('IO');
    expect(await codeOf(b.find({ field: '$owner', exists: true }))).toBe('IO');
    const headDuring = a.audit.head().seq;

    await server.start();
    await a.commit([put(rec('after'))], { audit: [entry('after')] });
    expect((await a.get('after'))?.revision).toBe(1);
    expect(await a.get('during')).toBeUndefined();
    // The racing commit: all of it or none of it.
    const z = await a.get('z');
    const mz = await a.meta.get('m/z');
    const log = (await a.audit.read(1, 10)).map((e) => Buffer.from(e.bytes).toString());
    if (z) {
      expect(mz?.revision).toBe(1);
      expect(log).toEqual(['1:before', '2:z', '3:after']);
    } else {
      expect(raced).toBe('IO');
      expect(mz).toBeUndefined();
      expect(log).toEqual(['1:before', '2:after']);
    }
    expect(a.audit.head().seq).toBe(log.length);
    expect(headDuring).toBeLessThanOrEqual(log.length);
    expect(await a.count()).toBe(z ? 3 : 2);

    // B's feed was lost and reconnected: "everything changed", then B hears A's commits again.
    const deadline = Date.now() + 15_000;
    while (!heard.some((u) => u.length === 1 && u[0] === EVERYTHING) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(heard).toContainEqual([EVERYTHING]);
    expect(metaHeard).toContainEqual([EVERYTHING]);
    expect(feedErrors.length).toBeGreaterThan(0);
    heard.length = 0;
    await a.commit([put(rec('later'))]);
    while (!heard.some((u) => u.includes('later')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(heard).toContainEqual(['later']);
    expect(b.audit.head().seq).toBe(log.length);
  } finally {
    await a.close();
    await b.close();
  }
});
