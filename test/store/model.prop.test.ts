/**
 * Random commit sequences (puts and deletes, fresh and stale revisions, 1–3 ops per commit)
 * against MemoryStore, LevelStore and PgStore, compared after every run with a trivial reference
 * model: a Map of records, with `find` answered by scanning every record's index terms.
 * Checks get, count, list (whole and paged), and find by every field: equals for every
 * value ever written, exists, and inclusive ranges between written values.
 */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { LinkType } from '../../src/kmip/generated/enums.gen.js';
import { customKey, type ObjectRecord } from '../../src/objects/managed-object.js';
import { compareUids } from '../../src/store/index-keys.js';
import { LevelStore, MemoryStore, PgStore, StoreError, indexTerms, type IndexQuery, type IndexTerm, type ObjectStore, type StoreOp } from '../../src/store/index.js';
import { activation, cv, link, name, rec } from './records.js';
import { sharedPostgres } from '../support/postgres.js';

const UIDS = ['a', 'b', 'c', 'a\u0000', 'a\u0000b', 'é', '\u{1F600}', '\uFFFD'];
const uidArb = fc.constantFrom(...UIDS);
const pick = <T>(xs: readonly T[]) => fc.subarray([...xs], { maxLength: 2 });

const attrsArb: fc.Arbitrary<Map<string, TtlvNode[]>> = fc
  .record({
    Name: pick(['n', 'n\u0000x', 'n\u0000', 'm', '']).map((xs) => xs.map(name)),
    ActivationDate: pick([-2n, -1n, 0n, 1n, 2n]).map((xs) => xs.map(activation)),
    ObjectGroup: pick(['g1', 'g2']).map((xs) => xs.map((x) => t.text(Tag.ObjectGroup, x))),
    Link: pick([...UIDS.slice(0, 3).map((u) => [LinkType.PublicKeyLink, u] as const), [LinkType.PrivateKeyLink, 'a'] as const]).map((xs) => xs.map(([lt, u]) => link(lt, u))),
    [customKey('x', 'Int')]: pick([-1, 0, 1, 0x7fffffff]).map((xs) => xs.map(cv.int)),
    [customKey('x', 'Bytes')]: pick([[], [0], [0, 0], [1], [1, 0]]).map((xs) => xs.map(cv.bytes)),
    [customKey('x', 'Mixed')]: pick([cv.int(1), cv.enum(1), cv.text('1'), cv.bool(true), cv.long(1n)]),
  })
  .map((o) => new Map(Object.entries(o).filter(([, v]) => v.length > 0)));

const recordArb = fc
  .record({
    uid: uidArb,
    owner: fc.constantFrom('o1', 'o2', 'o\u0000'),
    state: fc.integer({ min: 1, max: 6 }),
    objectType: fc.constantFrom(2, 3, 4),
    attributes: attrsArb,
  })
  .map((r) => rec(r.uid, r));

/** A revision choice: the model's current one, or off by some amount (usually stale). */
const revArb = fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(-1, 1, 2) });

type Cmd = { readonly type: 'put'; readonly record: ObjectRecord; readonly off: number } | { readonly type: 'delete'; readonly uid: string; readonly off: number };
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ type: fc.constant('put' as const), record: recordArb, off: revArb }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('delete' as const), uid: uidArb, off: revArb }) },
);
const commitsArb = fc.array(fc.array(cmdArb, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 25 });

type Model = Map<string, ObjectRecord>;

/** Apply one commit to the model; returns the error code the store must give, or 'ok'. */
function applyModel(model: Model, ops: readonly StoreOp[]): string {
  const next = new Map(model);
  for (const op of ops) {
    const uid = op.type === 'put' ? op.record.uid : op.uid;
    const cur = next.get(uid)?.revision ?? 0;
    if (op.type === 'delete' && cur === 0) return 'NOT_FOUND';
    if (op.expectedRevision !== cur) return 'CONFLICT';
    if (op.type === 'put') next.set(uid, { ...op.record, revision: cur + 1 });
    else next.delete(uid);
  }
  model.clear();
  for (const [k, v] of next) model.set(k, v);
  return 'ok';
}

function modelFind(model: Model, q: IndexQuery): string[] {
  const hit = (x: IndexTerm): boolean => {
    if (x.field !== q.field) return false;
    if ('equals' in q) return Buffer.compare(x.value, q.equals) === 0;
    if ('exists' in q) return true;
    return (q.from === undefined || Buffer.compare(x.value, q.from) >= 0) && (q.to === undefined || Buffer.compare(x.value, q.to) <= 0);
  };
  return [...model.values()]
    .filter((r) => indexTerms(r).some(hit))
    .map((r) => r.uid)
    .sort(compareUids);
}

async function run(store: ObjectStore, commits: Cmd[][]): Promise<void> {
  const model: Model = new Map();
  const seen: IndexTerm[] = [];
  for (const cmds of commits) {
    // Revisions are resolved against the model as the ops of the commit go.
    const shadow = new Map([...model].map(([k, v]) => [k, v.revision]));
    const ops: StoreOp[] = cmds.map((c) => {
      const uid = c.type === 'put' ? c.record.uid : c.uid;
      const cur = shadow.get(uid) ?? 0;
      const expectedRevision = Math.max(0, cur + c.off);
      if (c.type === 'put') {
        if (expectedRevision === cur) shadow.set(uid, cur + 1);
        seen.push(...indexTerms(c.record));
        return { type: 'put', record: c.record, expectedRevision };
      }
      if (expectedRevision === cur) shadow.delete(uid);
      return { type: 'delete', uid, expectedRevision };
    });
    const want = applyModel(model, ops);
    const got = await store.commit(ops).then(
      () => 'ok',
      (e: unknown) => (e instanceof StoreError ? e.code : String(e)),
    );
    expect(got).toBe(want);
  }

  for (const uid of UIDS) expect(await store.get(uid)).toEqual(model.get(uid));
  const uids = [...model.keys()].sort(compareUids);
  expect(await store.count()).toBe(uids.length);
  expect(await store.list(undefined, 100)).toEqual(uids);
  const paged: string[] = [];
  for (let page = await store.list(undefined, 2); page.length > 0; page = await store.list(page[page.length - 1], 2)) paged.push(...page);
  expect(paged).toEqual(uids);

  const byField = new Map<string, Buffer[]>();
  for (const x of [...seen, ...[...model.values()].flatMap(indexTerms)]) {
    const vs = byField.get(x.field) ?? [];
    if (!vs.some((v) => v.equals(x.value))) vs.push(Buffer.from(x.value));
    byField.set(x.field, vs);
  }
  for (const [field, values] of byField) {
    const queries: IndexQuery[] = [{ field, exists: true }];
    for (const v of values) queries.push({ field, equals: v }, { field, from: v }, { field, to: v });
    for (const a of values) for (const b of values) queries.push({ field, from: a, to: b });
    for (const q of queries) expect(await store.find(q), JSON.stringify(q)).toEqual(modelFind(model, q));
  }
}

const root = mkdtempSync(join(tmpdir(), 'kms-model-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

describe('stores agree with a reference model', () => {
  it('MemoryStore', async () => {
    await fc.assert(
      fc.asyncProperty(commitsArb, async (commits) => {
        const s = new MemoryStore();
        await s.open();
        await run(s, commits);
        await s.close();
      }),
      { numRuns: 100 },
    );
  });

  it('LevelStore', async () => {
    await fc.assert(
      fc.asyncProperty(commitsArb, async (commits) => {
        const s = new LevelStore({ path: join(root, `db${n++}`) });
        await s.open();
        try {
          await run(s, commits);
          expect((await s.check()).problems).toEqual([]);
        } finally {
          await s.close();
        }
      }),
      { numRuns: 30 },
    );
  });

  it('PgStore', async () => {
    const url = await (await sharedPostgres()).newDatabase();
    await fc.assert(
      fc.asyncProperty(commitsArb, async (commits) => {
        const s = new PgStore({ url, schema: `model_${n++}`, poolSize: 2 });
        await s.open();
        try {
          await run(s, commits);
        } finally {
          await s.close();
        }
      }),
      // Each run opens a store on a fresh schema and asks a few hundred queries over the wire.
      { numRuns: 10 },
    );
  }, 180_000);
});
