/**
 * Locate cost bounded by what the caller may see (issue 13, item 2): an identity that owns a few
 * objects of a large store is answered from the `$owner` index (locate.ts `narrowReach`), so its
 * Locate reads its own records and a few index entries, not the store. 3,000 objects of another
 * identity are preloaded straight into the store (the bench's preload); the store's reads are
 * counted (records loaded, index entries returned).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, createSymmetricKeyPayload, locatePayload, uniqueIdentifiersOf } from '../../src/client/index.js';
import { preload, preloadName } from '../../src/bench/preload.js';
import { CryptographicAlgorithm, ObjectType, Operation, State } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask as M } from '../../src/kmip/generated/masks.gen.js';
import type { IndexQuery } from '../../src/store/object-store.js';
import type { ObjectRecord } from '../../src/objects/managed-object.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { uidNode } from './object-kit.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t } from '../../src/ttlv/index.js';

const N = 3000;
let srv: TestKms;
let alice: Session;
let owner: Session;
const mine: string[] = [];
const reads = { records: 0, entries: 0 };

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kms-locate-reach-'));
  await preload(dataDir, 0, N, 'kms-client');
  srv = await startTestKms({}, { dataDir });
  const store = srv.kms.services.store as { get: (uid: string) => Promise<ObjectRecord | undefined>; find: (q: IndexQuery, limit?: number) => Promise<string[]> };
  const get = store.get.bind(store);
  const find = store.find.bind(store);
  store.get = (uid) => {
    reads.records++;
    return get(uid);
  };
  store.find = async (q, limit) => {
    const r = await find(q, limit);
    reads.entries += r.length;
    return r;
  };
  alice = new Session(await srv.client('alice'), V2_1);
  owner = new Session(await srv.client(), V2_1);
  for (let i = 0; i < 3; i++) {
    const uid = uniqueIdentifiersOf(
      await alice.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: M.Encrypt, name: `alice-${i}` })),
    )[0]!;
    mine.unshift(uid); // newest first
  }
  await alice.ok(Operation.Activate, t.struct(Tag.RequestPayload, [uidNode(mine[0]!)]));
}, 60_000);
afterAll(() => srv?.dispose());

async function locate(s: Session, attrs: Parameters<typeof locatePayload>[1], opts: Parameters<typeof locatePayload>[2] = {}) {
  const before = { ...reads };
  const uids = uniqueIdentifiersOf(await s.ok(Operation.Locate, locatePayload(V2_1, attrs, opts)));
  return { uids, records: reads.records - before.records, entries: reads.entries - before.entries };
}

describe('Locate by an identity that owns 3 of 3,003 objects', () => {
  it.each([
    ['no attributes', [], {}, () => mine],
    ['no attributes, Maximum Items 10', [], { maximumItems: 10 }, () => mine],
    ['Object Type', [attr.objectType(ObjectType.SymmetricKey)], {}, () => mine],
    ['State Active', [attr.state(State.Active)], {}, () => [mine[0]!]],
    ['State Pre-Active, Maximum Items 1', [attr.state(State.PreActive)], { maximumItems: 1 }, () => [mine[1]!]],
  ] as const)('%s: its own objects, newest first, reading its records and a handful of index entries', async (_label, attrs, opts, expected) => {
    const r = await locate(alice, attrs, opts);
    expect(r.uids).toEqual(expected());
    expect(r.records).toBeLessThanOrEqual(3);
    expect(r.entries).toBeLessThanOrEqual(12);
  });

  it("another identity's object is never found by name, and costs no more", async () => {
    const r = await locate(alice, [attr.name(preloadName(17))]);
    expect(r.uids).toEqual([]);
    expect(r.records).toBe(0);
  });

  it('the owner of the 3,000 (a wide reach) is answered as before', async () => {
    const byName = await locate(owner, [attr.name(preloadName(1234))]);
    expect(byName.uids).toHaveLength(1);
    const newest = await locate(owner, [], { maximumItems: 2 });
    expect(newest.uids).toHaveLength(2);
    expect(newest.uids.some((u) => mine.includes(u))).toBe(false);
  });
});

/**
 * A restricted identity whose reach is wide (more than the narrow-reach bound): 1,100 older
 * objects of bob, then 3,000 newer ones of kms-client. Bob's Locate is driven by his reach, so
 * it reads about what he may see; a walk of the whole store newest first would read kms-client's
 * 3,000 records before any of his.
 */
describe('Locate by a restricted identity with a wide reach', () => {
  const BOB = 1100;
  let wide: TestKms;
  let bob: Session;
  const counted = { records: 0, entries: 0 };

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kms-locate-wide-'));
    await preload(dataDir, 0, BOB, 'bob');
    await preload(dataDir, BOB, BOB + N, 'kms-client');
    wide = await startTestKms({}, { dataDir });
    const store = wide.kms.services.store as { get: (uid: string) => Promise<ObjectRecord | undefined>; find: (q: IndexQuery, limit?: number) => Promise<string[]> };
    const get = store.get.bind(store);
    const find = store.find.bind(store);
    store.get = (uid) => {
      counted.records++;
      return get(uid);
    };
    store.find = async (q, limit) => {
      const r = await find(q, limit);
      counted.entries += r.length;
      return r;
    };
    bob = new Session(await wide.client('bob'), V2_1);
  }, 120_000);
  afterAll(() => wide?.dispose());

  async function locateWide(attrs: Parameters<typeof locatePayload>[1], opts: Parameters<typeof locatePayload>[2] = {}) {
    const before = { ...counted };
    const uids = uniqueIdentifiersOf(await bob.ok(Operation.Locate, locatePayload(V2_1, attrs, opts)));
    return { uids, records: counted.records - before.records, entries: counted.entries - before.entries };
  }

  it('Maximum Items with no attributes reads about his reach, not the newer objects of others', async () => {
    const r = await locateWide([], { maximumItems: 5 });
    expect(r.uids).toHaveLength(5);
    // every answer is one of bob's (preloaded names 0..BOB-1, newest first)
    const names = await Promise.all(r.uids.map(async (uid) => (await wide.kms.services.store.get(uid))!.owner));
    expect(new Set(names)).toEqual(new Set(['bob']));
    expect(r.records).toBeLessThanOrEqual(2 * BOB + 10);
  });

  it('a wide attribute (Object Type) is probed only as far as his reach', async () => {
    const r = await locateWide([attr.objectType(ObjectType.SymmetricKey)]);
    expect(r.uids).toHaveLength(BOB);
    expect(r.records).toBeLessThanOrEqual(BOB + 10);
    expect(r.entries).toBeLessThanOrEqual(4 * BOB + 10); // bounded probes of his reach and of the type; the whole store is 4,100
  });

  it("another identity's object is never found, by name", async () => {
    const r = await locateWide([attr.name(preloadName(BOB + 17))]);
    expect(r.uids).toEqual([]);
  });
});
