/**
 * The record cache (src/store/record-cache.ts): the store contract through it, a property
 * test of interleaved commits, reads and failures against a timeline of the store's state
 * (no read ever returns a version older than the one current when it began), copy-on-read,
 * the bounds, and when it is not used at all.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t } from '../../src/ttlv/index.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import type { ObjectRecord } from '../../src/objects/managed-object.js';
import { LevelStore, MemoryStore, StoreError, encodeRecord, type CommitOp, type CommitOptions, type ObjectStore } from '../../src/store/index.js';
import { RecordCache, copyRecord, recordSize, withRecordCache } from '../../src/store/record-cache.js';
import { storeContract } from './contract.js';
import { name, rec } from './records.js';

const root = mkdtempSync(join(tmpdir(), 'kms-record-cache-'));
let n = 0;
afterAll(() => rmSync(root, { recursive: true, force: true }));

storeContract('record cache over memory', async () => new RecordCache(new MemoryStore()));
storeContract('record cache over leveldb', async () => new RecordCache(new LevelStore({ path: join(root, `db${n++}`) })));

const hop = (k: number): Promise<void> => (k <= 0 ? Promise.resolve() : new Promise<void>((r) => setImmediate(r)).then(() => hop(k - 1)));

interface Version {
  /** Logical time the store applied it. */
  readonly at: number;
  /** 0: absent. */
  readonly revision: number;
  readonly state: number;
}

/**
 * A MemoryStore whose reads and commits take a few event-loop turns before and after the
 * moment they touch the data (that moment is logged on a logical clock), and whose commits
 * can fail before applying (nothing written) or after (written, but reported as failed).
 */
class SlowStore extends MemoryStore {
  clock = 0;
  readonly history = new Map<string, Version[]>();
  private d = 0;
  constructor(private readonly delays: readonly number[]) {
    super();
  }
  private delay(): Promise<void> {
    return hop(this.delays[this.d++ % this.delays.length] ?? 0);
  }
  failNext: 'before' | 'after' | undefined;

  override async get(uid: string): Promise<ObjectRecord | undefined> {
    await this.delay();
    const r = await super.get(uid);
    await this.delay();
    return r;
  }

  override async commit(ops: readonly CommitOp[], options?: CommitOptions): Promise<void> {
    const fail = this.failNext;
    this.failNext = undefined;
    await this.delay();
    if (fail === 'before') throw new StoreError('IO', 'injected: nothing written');
    // super.commit applies synchronously up to its first await: the clock reads that moment.
    const p = super.commit(ops, options);
    const at = ++this.clock;
    let failed: unknown;
    await p.catch((e: unknown) => (failed = e));
    if (failed === undefined) {
      for (const op of ops) {
        if (op.type !== 'put' && op.type !== 'delete') continue;
        const uid = op.type === 'put' ? op.record.uid : op.uid;
        const list = this.history.get(uid) ?? [];
        list.push(op.type === 'put' ? { at, revision: op.expectedRevision + 1, state: op.record.state } : { at, revision: 0, state: 0 });
        this.history.set(uid, list);
      }
    }
    await this.delay();
    if (failed !== undefined) throw failed;
    if (fail === 'after') throw new StoreError('IO', 'injected: written, reported as failed');
  }

  /** The versions of `uid` a read between logical times `from` and `to` may return. */
  allowed(uid: string, from: number, to: number): Version[] {
    const list = this.history.get(uid) ?? [];
    let current: Version = { at: 0, revision: 0, state: 0 };
    for (const v of list) if (v.at <= from) current = v;
    return [current, ...list.filter((v) => v.at > from && v.at <= to)];
  }
}

type Cmd =
  | { readonly kind: 'get'; readonly uid: string; readonly gap: number }
  | { readonly kind: 'put'; readonly uid: string; readonly state: number; readonly stale: boolean; readonly fail: 'before' | 'after' | undefined; readonly gap: number }
  | { readonly kind: 'delete'; readonly uid: string; readonly fail: 'before' | 'after' | undefined; readonly gap: number };

const uidArb = fc.constantFrom('a', 'b', 'c');
const failArb = fc.constantFrom(undefined, undefined, undefined, 'before' as const, 'after' as const);
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('get' as const), uid: uidArb, gap: fc.nat(3) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('put' as const), uid: uidArb, state: fc.integer({ min: 1, max: 6 }), stale: fc.boolean(), fail: failArb, gap: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), uid: uidArb, fail: failArb, gap: fc.nat(3) }) },
);

describe('record cache: never a stale record', () => {
  it('interleaved commits, reads and failed commits: every read returns a version current at some moment while it ran', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cmdArb, { minLength: 1, maxLength: 40 }), fc.array(fc.nat(3), { minLength: 1, maxLength: 50 }), async (cmds, delays) => {
        const inner = new SlowStore(delays);
        const cache = new RecordCache(inner, { maxEntries: 2 });
        await cache.open();
        const checks: Promise<void>[] = [];
        for (const c of cmds) {
          await hop(c.gap);
          if (c.kind === 'get') {
            const from = inner.clock;
            checks.push(
              cache.get(c.uid).then((r) => {
                const ok = inner.allowed(c.uid, from, inner.clock);
                const got = r ? { revision: r.revision, state: r.state } : { revision: 0, state: 0 };
                expect(ok.map((v) => ({ revision: v.revision, state: v.state }))).toContainEqual(got);
              }),
            );
          } else {
            // The revision the store has now (read around the cache); stale: one off.
            const cur = (await inner.get(c.uid))?.revision ?? 0;
            inner.failNext = c.fail;
            const op: CommitOp =
              c.kind === 'put'
                ? { type: 'put', record: rec(c.uid, { state: c.state, attributes: { Name: [name(`s${c.state}`)] } }), expectedRevision: c.stale ? cur + 1 : cur }
                : { type: 'delete', uid: c.uid, expectedRevision: cur };
            checks.push(
              cache.commit([op]).then(
                async () => {
                  // Acknowledged: a read from now on sees this commit or a later one.
                  const after = inner.clock;
                  const r = await cache.get(c.uid);
                  const ok = inner.allowed(c.uid, after, inner.clock);
                  expect(ok.map((v) => v.revision)).toContain(r?.revision ?? 0);
                },
                async (e: unknown) => {
                  expect(e).toBeInstanceOf(StoreError);
                  // A failed commit (conflict, or failed before or after writing): reads see what the store holds.
                  const before = inner.clock;
                  const r = await cache.get(c.uid);
                  const ok = inner.allowed(c.uid, before, inner.clock);
                  expect(ok.map((v) => v.revision)).toContain(r?.revision ?? 0);
                },
              ),
            );
          }
        }
        await Promise.all(checks);
        // At rest: every cached answer equals the store's.
        for (const uid of ['a', 'b', 'c']) {
          const fromCache = await cache.get(uid);
          const fromStore = await inner.get(uid);
          expect(fromCache && encodeRecord(fromCache)).toEqual(fromStore && encodeRecord(fromStore));
        }
        expect(cache.stats().entries).toBeLessThanOrEqual(2);
      }),
      { numRuns: 150 },
    );
  });

  it('a hit costs no store read; a commit to the uid drops it before the commit resolves', async () => {
    const inner = new MemoryStore();
    let reads = 0;
    const get = inner.get.bind(inner);
    inner.get = (uid) => {
      reads++;
      return get(uid);
    };
    const cache = new RecordCache(inner);
    await cache.open();
    await cache.commit([{ type: 'put', record: rec('k', { state: 1 }), expectedRevision: 0 }]);
    expect((await cache.get('k'))?.state).toBe(1);
    expect((await cache.get('k'))?.state).toBe(1);
    expect(reads).toBe(1);
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1, entries: 1 });
    // An audit-only commit leaves the entry; a record commit drops it.
    await cache.commit([], { audit: [{ seal: () => ({ bytes: new Uint8Array([1]), link: new Uint8Array([2]) }) }] });
    expect(cache.stats().entries).toBe(1);
    const done = cache.commit([{ type: 'put', record: rec('k', { state: 3 }), expectedRevision: 1 }]);
    expect(cache.stats().entries).toBe(0);
    await done;
    expect(await cache.get('k')).toMatchObject({ state: 3, revision: 2 });
    expect(reads).toBe(2);
  });
});

describe('record cache: callers cannot change a cached record', () => {
  it('mutating what get returned (fields, the attribute map, nodes, bytes) changes nothing for the next reader', async () => {
    const cache = new RecordCache(new MemoryStore());
    await cache.open();
    const body = new Uint8Array([1, 2, 3, 4]);
    await cache.commit([
      {
        type: 'put',
        record: rec('m', { sealedBody: body, kekId: 'kek', attributes: { Name: [name('orig')], 'x-Bytes': [t.bytes(Tag.CustomAttribute, new Uint8Array([9, 9]))] } }),
        expectedRevision: 0,
      },
    ]);
    const first = await cache.get('m'); // the miss that fills
    const second = await cache.get('m'); // a hit
    const want = encodeRecord(first!);
    for (const r of [first!, second!]) {
      const w = r as unknown as Record<string, unknown>;
      w['state'] = 99;
      (r.sealedBody as Uint8Array).fill(0);
      (r.attributes as Map<string, unknown>).set('Name', []);
      (r.attributes.get('x-Bytes')![0]!.value as Uint8Array).fill(0);
      (r.attributes as Map<string, unknown>).set('Evil', [t.text(Tag.ObjectGroup, 'x')]);
    }
    const again = await cache.get('m');
    expect(encodeRecord(again!)).toEqual(want);
    expect(cache.stats().hits).toBe(2);
  });

  it('copyRecord shares nothing mutable', () => {
    const r = { ...rec('c', { sealedBody: Buffer.from([1, 2]), attributes: { Name: [name('n')] } }), revision: 1 };
    const c = copyRecord(r);
    expect(encodeRecord(c)).toEqual(encodeRecord(r));
    expect(c.attributes).not.toBe(r.attributes);
    expect(c.sealedBody).not.toBe(r.sealedBody);
    expect(Buffer.isBuffer(c.sealedBody)).toBe(true);
    expect(c.attributes.get('Name')![0]).not.toBe(r.attributes.get('Name')![0]);
  });
});

describe('record cache: bounds', () => {
  async function filled(limits: { maxEntries?: number; maxBytes?: number }, uids: string[]): Promise<RecordCache> {
    const cache = new RecordCache(new MemoryStore(), limits);
    await cache.open();
    for (const u of uids) await cache.commit([{ type: 'put', record: rec(u, { attributes: { Name: [name(u.repeat(50))] } }), expectedRevision: 0 }]);
    return cache;
  }

  it('maxEntries: least recently used out first', async () => {
    const cache = await filled({ maxEntries: 3 }, ['a', 'b', 'c', 'd']);
    for (const u of ['a', 'b', 'c']) await cache.get(u);
    await cache.get('a'); // a is now the most recent
    await cache.get('d'); // evicts b, the least recent
    expect(cache.stats()).toMatchObject({ entries: 3, evictions: 1 });
    const hits = cache.stats().hits;
    await cache.get('a');
    await cache.get('c');
    await cache.get('d');
    expect(cache.stats().hits).toBe(hits + 3);
    await cache.get('b');
    expect(cache.stats().hits).toBe(hits + 3); // b was the one dropped
    expect(cache.stats().entries).toBe(3);
  });

  it('maxBytes: the estimate never exceeds it; a record larger than it is not cached', async () => {
    const one = recordSize(rec('a', { attributes: { Name: [name('a'.repeat(50))] } }));
    const cache = await filled({ maxBytes: 2 * one + 10 }, ['a', 'b', 'c', 'd']);
    for (const u of ['a', 'b', 'c', 'd']) {
      await cache.get(u);
      expect(cache.stats().bytes).toBeLessThanOrEqual(2 * one + 10);
    }
    expect(cache.stats().entries).toBe(2);
    const tiny = await filled({ maxBytes: one - 1 }, ['a']);
    await tiny.get('a');
    await tiny.get('a');
    expect(tiny.stats()).toMatchObject({ entries: 0, bytes: 0, hits: 0, misses: 2 });
  });
});

describe('record cache: where it is used', () => {
  it('over a single-writer store, unless a limit is 0; never over a store others write to', () => {
    const mem = new MemoryStore();
    expect(withRecordCache(mem)).toBeInstanceOf(RecordCache);
    expect(withRecordCache(mem, { maxEntries: 0 })).toBe(mem);
    expect(withRecordCache(mem, { maxBytes: 0 })).toBe(mem);
    expect(new LevelStore({ path: join(root, 'unopened') }).exclusiveWriter).toBe(true);
    // A store that does not declare itself the only writer (PostgreSQL, shared by nodes).
    const shared: ObjectStore = Object.assign(Object.create(mem) as ObjectStore, { exclusiveWriter: false });
    expect(withRecordCache(shared)).toBe(shared);
    const undeclared = { ...mem, exclusiveWriter: undefined } as unknown as ObjectStore;
    expect(withRecordCache(undeclared)).toBe(undeclared);
  });
});
