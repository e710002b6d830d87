/**
 * A node frozen in the middle of a write transaction (SIGSTOP, a paused VM) holds the head row
 * lock every writer of the cluster takes first. PgStore's sessions carry an idle-transaction
 * limit (idleTransactionTimeoutMs), so PostgreSQL ends the frozen session and the other nodes'
 * commits go on; a snapshot's session is exempt (a backup may pause between pages).
 *
 * The frozen node is simulated exactly where it matters: a session of store A's own pool opens a
 * transaction, takes the head row FOR UPDATE as a commit does, and then sends nothing more.
 */
import { afterEach, expect, it } from 'vitest';
import type pg from 'pg';
import { PgStore, type StoreOp } from '../../src/store/index.js';
import { sharedPostgres } from '../support/postgres.js';
import { rec } from './records.js';

const put = (r: ReturnType<typeof rec>, expectedRevision = 0): StoreOp => ({ type: 'put', record: r, expectedRevision });
const opened: PgStore[] = [];

async function store(url: string, o: { idleTransactionTimeoutMs?: number } = {}): Promise<PgStore> {
  const s = new PgStore({ url, poolSize: 2, ...o });
  await s.open();
  opened.push(s);
  return s;
}

/** A session of `s`'s own pool (the store's connection settings), holding the head row lock and then silent. */
async function freezeMidCommit(s: PgStore): Promise<pg.PoolClient> {
  const pool = (s as unknown as { pool: pg.Pool }).pool;
  const c = await pool.connect();
  c.on('error', () => undefined);
  await c.query('BEGIN');
  await c.query('SELECT * FROM kms_head WHERE id = 1 FOR UPDATE');
  return c;
}

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close().catch(() => undefined);
});

it("a frozen node's transaction is ended after idleTransactionTimeoutMs: the other node's commit lands", async () => {
  const url = await (await sharedPostgres()).newDatabase();
  const a = await store(url, { idleTransactionTimeoutMs: 800 });
  const b = await store(url);
  const frozen = await freezeMidCommit(a);
  const t0 = Date.now();
  await b.commit([put(rec('while-a-is-frozen'))]);
  const waited = Date.now() - t0;
  // Held at least until the limit, and released by it (not by the 30 s query timeout).
  expect(waited).toBeGreaterThanOrEqual(700);
  expect(waited).toBeLessThan(15_000);
  expect((await b.get('while-a-is-frozen'))?.revision).toBe(1);
  // The frozen session is gone: its next statement fails.
  await expect(frozen.query('SELECT 1')).rejects.toThrow();
  frozen.release(true);
  // A itself still works (the pool opens a new session).
  await a.commit([put(rec('a-again'))]);
  expect((await b.get('a-again'))?.revision).toBe(1);
}, 30_000);

it('with the limit off (0) the session keeps the lock: the limit is what releases it', async () => {
  const url = await (await sharedPostgres()).newDatabase();
  const a = await store(url, { idleTransactionTimeoutMs: 0 });
  const b = await store(url);
  const frozen = await freezeMidCommit(a);
  const outcome = await Promise.race([b.commit([put(rec('blocked'))]).then(() => 'landed'), new Promise((r) => setTimeout(() => r('still waiting'), 2_500))]);
  expect(outcome).toBe('still waiting');
  // Thawed: the transaction ends, the waiting commit lands.
  await frozen.query('ROLLBACK');
  frozen.release();
  await expect.poll(async () => (await b.get('blocked'))?.revision, { timeout: 10_000 }).toBe(1);
}, 30_000);

it("a snapshot's session has no idle-transaction limit: a backup may pause between pages", async () => {
  const url = await (await sharedPostgres()).newDatabase();
  const a = await store(url, { idleTransactionTimeoutMs: 300 });
  await a.commit([put(rec('s1')), put(rec('s2'))]);
  const snap = await a.snapshot();
  try {
    await new Promise((r) => setTimeout(r, 1_000)); // past the pool's limit, idle in the snapshot's transaction
    const uids: string[] = [];
    for await (const r of snap.records()) uids.push(r.uid);
    expect(uids).toEqual(['s1', 's2']);
  } finally {
    await snap.close();
  }
}, 30_000);
