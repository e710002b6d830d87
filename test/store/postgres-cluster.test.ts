/**
 * PgStore as the nodes of a cluster see it: two stores over one database (two nodes), the schema
 * guard, and group commit's per-commit savepoints. On the run's shared server
 * (test/support/postgres.ts); the database outage is in postgres-outage.test.ts.
 */
import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import pg from 'pg';
import { EVERYTHING, PG_SCHEMA_VERSION, PgStore, StoreError, openStore as openAnyStore, type AuditAppend, type CommitOp, type StoreOp } from '../../src/store/index.js';
import { sharedPostgres } from '../support/postgres.js';
import { rec } from './records.js';

const put = (r: ReturnType<typeof rec>, expectedRevision = 0): StoreOp => ({ type: 'put', record: r, expectedRevision });

const opened: PgStore[] = [];
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});

async function newDb(): Promise<string> {
  return (await sharedPostgres()).newDatabase();
}

async function openStore(url: string, opts: { nodeId?: string } = {}): Promise<PgStore> {
  const s = new PgStore({ url, poolSize: 4, ...opts });
  opened.push(s);
  await s.open();
  return s;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'ok',
    (e: unknown) => (e instanceof StoreError ? e.code : `other: ${String(e)}`),
  );
}

/** Resolves with the first value `arm` hands to its callback that satisfies `pred`; rejects after `ms`. */
function waitFor<T>(arm: (cb: (v: T) => void) => () => void, pred: (v: T) => boolean, ms = 10_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error('timed out waiting for a notification'));
    }, ms);
    const stop = arm((v) => {
      if (!pred(v)) return;
      clearTimeout(timer);
      stop();
      resolve(v);
    });
  });
}

/** An audit entry that records its place in the chain: bytes name seq and prev; link = sha256(bytes). */
const entry = (text: string): AuditAppend => ({
  seal(seq, prev) {
    const bytes = Buffer.from(`${seq}|${Buffer.from(prev).toString('hex')}|${text}`);
    return { bytes, link: createHash('sha256').update(bytes).digest() };
  },
});

describe('two PgStores over one database (two nodes)', () => {
  it('a conflicting update from each: exactly one wins, the other gets CONFLICT', async () => {
    const url = await newDb();
    const a = await openStore(url);
    const b = await openStore(url);
    await a.commit([put(rec('k', { owner: 'start' }))]);
    for (let round = 1; round <= 8; round++) {
      const [ra, rb] = await Promise.all([codeOf(a.commit([put(rec('k', { owner: `a${round}` }), round)])), codeOf(b.commit([put(rec('k', { owner: `b${round}` }), round)]))]);
      expect([ra, rb].sort(), `round ${round}`).toEqual(['CONFLICT', 'ok']);
      const got = await b.get('k');
      expect(got?.revision).toBe(round + 1);
      expect(got?.owner).toBe(ra === 'ok' ? `a${round}` : `b${round}`);
    }
    // Creates of one uid from both: one wins.
    const creates = await Promise.all([codeOf(a.commit([put(rec('new', { owner: 'a' }))])), codeOf(b.commit([put(rec('new', { owner: 'b' }))]))]);
    expect(creates.sort()).toEqual(['CONFLICT', 'ok']);
    expect(await a.count()).toBe(2);
    expect(await b.list(undefined, 10)).toEqual(['k', 'new']);
  });

  it('concurrent audit appends from both nodes form ONE chain: seq 1..n without gaps, each prevLink the previous link', async () => {
    const url = await newDb();
    const a = await openStore(url);
    const b = await openStore(url);
    const perNode = 25;
    const work = (s: PgStore, node: string) =>
      Array.from({ length: perNode }, (_, i) =>
        s.commit(i % 3 === 0 ? [put(rec(`${node}-${i}`))] : [], {
          audit: i % 2 === 0 ? [entry(`${node}-${i}`)] : [entry(`${node}-${i}x`), entry(`${node}-${i}y`)],
          ...(i % 5 === 4 && { deferSync: i % 3 !== 0 }),
        }),
      );
    await Promise.all([...work(a, 'a'), ...work(b, 'b')]);
    const expected = 2 * (Math.ceil(perNode / 2) + 2 * Math.floor(perNode / 2));
    const log = await a.audit.read(1, 1000);
    expect(log.map((e) => e.seq)).toEqual(Array.from({ length: expected }, (_, i) => i + 1));
    let prev = Buffer.alloc(0);
    const texts: string[] = [];
    for (const e of log) {
      const [seq, prevHex, text] = Buffer.from(e.bytes).toString().split('|');
      expect(Number(seq)).toBe(e.seq);
      expect(prevHex, `entry ${e.seq} chains to the one before`).toBe(prev.toString('hex'));
      prev = createHash('sha256').update(e.bytes).digest();
      texts.push(text as string);
    }
    // Every entry of both nodes is there once.
    expect(new Set(texts).size).toBe(expected);
    expect(texts.filter((t) => t.startsWith('a-')).length).toBe(expected / 2);
    // Each node's head: its own last commit, or newer from the other's notification; both converge.
    await waitFor<number>(
      (cb) => {
        const t = setInterval(() => cb(Math.min(a.audit.head().seq, b.audit.head().seq)), 20);
        return () => clearInterval(t);
      },
      (seq) => seq === expected,
    );
    expect(Buffer.from(a.audit.head().link).equals(prev)).toBe(true);
    expect(Buffer.from(b.audit.head().link).equals(prev)).toBe(true);
  });

  it('store B hears of store A’s commits: meta.watch keys, onRecordsChanged uids, the audit head', async () => {
    const url = await newDb();
    const a = await openStore(url);
    const b = await openStore(url);
    const meta = waitFor<readonly string[]>(
      (cb) => b.meta.watch('deny/', cb),
      () => true,
    );
    const origins = new Set<string>();
    b.onRecordsChanged((_u, origin) => origins.add(origin));
    const uids = waitFor<readonly string[]>(
      (cb) => b.onRecordsChanged(cb),
      () => true,
    );
    await a.commit(
      [
        put(rec('r1')),
        put(rec('r2')),
        { type: 'meta-put', key: 'deny/x', value: Buffer.from('1'), expectedRevision: 0 },
        { type: 'meta-put', key: 'other/y', value: Buffer.from('2'), expectedRevision: 0 },
      ],
      {
        audit: [entry('one')],
      },
    );
    expect(await meta).toEqual(['deny/x']);
    expect([...(await uids)].sort()).toEqual(['r1', 'r2']);
    // B heard another node's commit.
    expect([...origins]).toEqual(['remote']);
    expect(b.audit.head().seq).toBe(1);
    // A's own listeners heard it before the commit resolved, and only once (not again from the feed).
    const own: (readonly string[])[] = [];
    a.onRecordsChanged((u, origin) => own.push(origin === 'local' ? u : ['not local', ...u]));
    const bHeard = waitFor<readonly string[]>(
      (cb) => b.onRecordsChanged(cb),
      (u) => u.includes('r3'),
    );
    await a.commit([put(rec('r3'))]);
    expect(own).toEqual([['r3']]);
    await bHeard;
    await new Promise((r) => setTimeout(r, 200));
    expect(own).toEqual([['r3']]);
    // A change list over NOTIFY's limit arrives as "everything changed".
    const many = Array.from({ length: 300 }, (_, i) => `a-rather-long-uid-to-fill-the-payload-${String(i).padStart(4, '0')}`);
    const everything = waitFor<readonly string[]>(
      (cb) => b.onRecordsChanged(cb),
      () => true,
    );
    await a.commit(many.map((u) => put(rec(u))));
    expect(await everything).toEqual([EVERYTHING]);
    expect(await b.count()).toBe(303);
  });

  it('refuses a database written by a newer schema (SCHEMA) and leaves it alone', async () => {
    const url = await newDb();
    // Two nodes starting together on an empty database: both open, one schema.
    const [a, b] = await Promise.all([openStore(url), openStore(url)]);
    await a.commit([put(rec('kept'))]);
    await b.close();
    await a.close();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query('UPDATE kms_schema SET version = $1', [PG_SCHEMA_VERSION + 1]);
      const s = new PgStore({ url });
      const e = await s.open().then(
        () => undefined,
        (err: unknown) => err,
      );
      await s.close();
      expect(e).toBeInstanceOf(StoreError);
      expect((e as StoreError).code).toBe('SCHEMA');
      expect((await c.query<{ version: number }>('SELECT version FROM kms_schema')).rows[0]?.version).toBe(PG_SCHEMA_VERSION + 1);
      expect((await c.query('SELECT uid FROM kms_objects')).rowCount).toBe(1);
      await c.query('UPDATE kms_schema SET version = $1', [PG_SCHEMA_VERSION]);
    } finally {
      await c.end();
    }
    const again = await openStore(url);
    expect((await again.get('kept'))?.uid).toBe('kept');
  });

  it('group commit: a commit whose SQL check fails is rolled back to its savepoint; the others of its transaction land', async () => {
    const url = await newDb();
    const s = await openStore(url);
    await s.commit([put(rec('seed'))]);
    const bytes = Buffer.from('not a record');
    // A writer that bypasses the store's head lock holds an uncommitted row 'x'.
    const raw = new pg.Client({ connectionString: url });
    await raw.connect();
    try {
      await raw.query('BEGIN');
      await raw.query('INSERT INTO kms_objects (uid, revision, bytes) VALUES ($1, 1, $2)', [Buffer.from('x'), bytes]);
      const first = s.commit([put(rec('d'))]);
      // Queued while the first is in flight: x and y share one transaction.
      const x = codeOf(s.commit([put(rec('x'))]));
      const y = codeOf(s.commit([put(rec('y'))], { audit: [entry('y')] }));
      await first;
      await new Promise((r) => setTimeout(r, 300)); // x's INSERT now waits on the raw row
      await raw.query('COMMIT');
      expect(await x).toBe('CONFLICT');
      expect(await y).toBe('ok');
    } finally {
      await raw.end();
    }
    expect((await s.get('y'))?.revision).toBe(1);
    expect(s.audit.head().seq).toBe(1);
    expect((await s.audit.read(1, 10)).map((e) => Buffer.from(e.bytes).toString())).toEqual(['1||y']);
    expect(await s.count()).toBe(3); // seed, d, y: the store counted only its own
  });

  it('group commit: a commit whose statement fails for another reason (a uid over the btree entry limit) fails alone with IO', async () => {
    const url = await newDb();
    const s = await openStore(url);
    const huge = randomBytes(6000).toString('base64'); // incompressible: over PostgreSQL's ~2.7 kB per index entry
    const first = s.commit([put(rec('first'))]);
    const results = await Promise.all([codeOf(s.commit([put(rec(huge))], { audit: [entry('big')] })), codeOf(s.commit([put(rec('small'))], { audit: [entry('small')] }))]);
    await first;
    expect(results).toEqual(['IO', 'ok']);
    expect(await s.get(huge)).toBeUndefined();
    expect((await s.audit.read(1, 10)).map((e) => Buffer.from(e.bytes).toString())).toEqual(['1||small']);
    // Alone in its transaction: the same, and the store goes on.
    expect(await codeOf(s.commit([put(rec(huge))]))).toBe('IO');
    await s.commit([put(rec('after'))]);
    expect(await s.list(undefined, 10)).toEqual(['after', 'first', 'small']);
    expect(await s.count()).toBe(3);
  });

  it('a meta-check commit of a stale fencing token fails on either node', async () => {
    const url = await newDb();
    const a = await openStore(url);
    const b = await openStore(url);
    const check = (expectedRevision: number): CommitOp => ({ type: 'meta-check', key: 'lease/rotation', expectedRevision });
    await a.commit([{ type: 'meta-put', key: 'lease/rotation', value: Buffer.from('a:1'), expectedRevision: 0 }]);
    await b.commit([put(rec('by-b')), check(1)]);
    // B takes the lease over; A's token (revision 1) is stale from then on.
    await b.commit([{ type: 'meta-put', key: 'lease/rotation', value: Buffer.from('b:2'), expectedRevision: 1 }]);
    expect(await codeOf(a.commit([put(rec('by-a')), check(1)]))).toBe('CONFLICT');
    expect(await a.get('by-a')).toBeUndefined();
    await a.commit([put(rec('by-a')), check(2)]);
    expect(await b.count()).toBe(2);
  });
});

describe('PgStore: a database that stops answering', () => {
  it('a commit waiting longer than queryTimeoutMs fails with IO, the commits queued behind it go on once the database answers again', async () => {
    const url = await newDb();
    const s = new PgStore({ url, poolSize: 3, queryTimeoutMs: 1000 });
    opened.push(s);
    await s.open();
    // Another session holds the head row: every writer waits on it.
    const raw = new pg.Client({ connectionString: url });
    await raw.connect();
    let released = false;
    try {
      await raw.query('BEGIN');
      await raw.query('SELECT 1 FROM kms_head WHERE id = 1 FOR UPDATE');
      const t0 = Date.now();
      const stuck = codeOf(s.commit([put(rec('a'))]));
      const behind = s.commit([put(rec('c'))]); // queued behind the stuck one
      expect(await stuck).toBe('IO');
      const waited = Date.now() - t0;
      expect(waited).toBeGreaterThanOrEqual(900);
      expect(waited).toBeLessThan(10_000);
      await raw.query('ROLLBACK');
      released = true;
      await behind;
    } finally {
      if (!released) await raw.query('ROLLBACK').catch(() => undefined);
      await raw.end();
    }
    await s.commit([put(rec('b'))]);
    expect((await s.get('b'))?.revision).toBe(1);
    expect(await s.get('a')).toBeUndefined();
    expect(await s.list(undefined, 10)).toEqual(['b', 'c']);
  });
});

describe('PgStore: opening', () => {
  it('openStore({ kind: "postgresql" }) opens one; several stores share a database in their own schemas', async () => {
    const url = await newDb();
    const one = await openAnyStore({ kind: 'postgresql', url, schema: 'one' });
    const two = await openAnyStore({ kind: 'postgresql', url, schema: 'two' });
    try {
      const heard: (readonly string[])[] = [];
      two.onRecordsChanged?.((u) => heard.push(u));
      await one.commit([put(rec('only-in-one'))]);
      expect(await two.get('only-in-one')).toBeUndefined();
      expect(await two.count()).toBe(0);
      expect((await one.get('only-in-one'))?.revision).toBe(1);
      await new Promise((r) => setTimeout(r, 200));
      expect(heard).toEqual([]); // each schema has its own channel
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('an unreachable database: open rejects with IO, and neither the error nor describe() shows the password', async () => {
    const url = 'postgresql://kms:s3cret-pw@127.0.0.1:1/kms';
    const s = new PgStore({ url, connectTimeoutMs: 2000 });
    const e = await s.open().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(StoreError);
    expect((e as StoreError).code).toBe('IO');
    expect((e as StoreError).message).not.toContain('s3cret-pw');
    expect((e as StoreError).message).toContain('127.0.0.1:1');
    expect(s.describe()).not.toContain('s3cret-pw');
    expect(await codeOf(s.commit([put(rec('x'))]))).toBe('CLOSED');
  });
});
