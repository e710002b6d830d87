/**
 * Locate with Maximum Items when no requested attribute narrows the search (by State, by Object
 * Type, or no attributes): the server walks the creation-order index newest first and stops at
 * Maximum Items, so it reads about as many objects as it returns, not the whole store. 3,000
 * objects are preloaded straight into the store (the bench's preload), 3/4 of them Active.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, createSymmetricKeyPayload, locatePayload, uniqueIdentifiersOf, type KmipClient } from '../../src/client/index.js';
import { preload, preloadName } from '../../src/bench/preload.js';
import { CryptographicAlgorithm, ObjectType, Operation, State } from '../../src/kmip/generated/enums.gen.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { Session, V2_1, getAttributesPayload, readGetAttributes, single } from '../support/kmip-session.js';
import type { ObjectRecord } from '../../src/objects/managed-object.js';

const N = 3000;
let srv: TestKms;
let c: KmipClient;
let s: Session;
let reads = 0;

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'kms-locate-scale-'));
  await preload(dataDir, 0, N, 'kms-client');
  srv = await startTestKms({}, { dataDir });
  // Count the records the server reads (the store is the real LevelDB one).
  const store = srv.kms.services.store;
  const get = store.get.bind(store);
  (store as { get: (uid: string) => Promise<ObjectRecord | undefined> }).get = (uid) => {
    reads++;
    return get(uid);
  };
  c = await srv.client();
  s = new Session(c, V2_1);
});
afterAll(() => srv?.dispose());

async function nameOf(uid: string): Promise<string> {
  const view = readGetAttributes(V2_1, await s.ok(Operation.GetAttributes, getAttributesPayload(V2_1, uid, ['Name'])));
  const n = single(view, 'Name');
  const v = n?.type === 'Structure' ? n.value[0] : undefined;
  return v?.type === 'TextString' ? v.value : '';
}

async function locate(attrs: Parameters<typeof locatePayload>[1], opts: Parameters<typeof locatePayload>[2]): Promise<{ uids: string[]; reads: number }> {
  const before = reads;
  const uids = uniqueIdentifiersOf(await s.ok(Operation.Locate, locatePayload(V2_1, attrs, opts)));
  return { uids, reads: reads - before };
}

describe('Locate newest first over a large store', () => {
  it('State = Active, Maximum Items 10: the 10 newest Active objects, reading a handful of records', async () => {
    const r = await locate([attr.state(State.Active)], { maximumItems: 10 });
    const expected: string[] = [];
    for (let i = N - 1; expected.length < 10; i--) if (i % 4 !== 0) expected.push(preloadName(i));
    expect(await Promise.all(r.uids.map(nameOf))).toEqual(expected);
    expect(r.reads).toBeLessThanOrEqual(20); // 13 visited (3 of them Pre-Active); the index path read 2,250+
  });

  it('the same answer as the full index path (Offset Items 0 forces it), which reads every match', async () => {
    const walked = await locate([attr.state(State.Active)], { maximumItems: 10 });
    const full = await locate([attr.state(State.Active)], { maximumItems: 10, offsetItems: 0 });
    expect(full.uids).toEqual(walked.uids);
    expect(full.reads).toBeGreaterThan(2000);
  });

  it('no attributes, or Object Type: the newest objects; a narrow attribute (Name) still uses its index', async () => {
    const any = await locate([], { maximumItems: 3 });
    expect(await Promise.all(any.uids.map(nameOf))).toEqual([preloadName(N - 1), preloadName(N - 2), preloadName(N - 3)]);
    const byType = await locate([attr.objectType(ObjectType.SymmetricKey)], { maximumItems: 2 });
    expect(byType.uids).toEqual(any.uids.slice(0, 2));
    const byName = await locate([attr.name(preloadName(1234))], { maximumItems: 5 });
    expect(byName.uids).toHaveLength(1);
    expect(byName.reads).toBe(1);
    expect(await nameOf(byName.uids[0]!)).toBe(preloadName(1234));
  });

  it('a Create after the preload comes first', async () => {
    const created = await s.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: 12 }));
    const uid = uniqueIdentifiersOf(created)[0];
    const r = await locate([], { maximumItems: 1 });
    expect(r.uids).toEqual([uid]);
  });
});
