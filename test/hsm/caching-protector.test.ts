/**
 * The bounded cache of unwrapped bodies: hits skip the protector, a changed or tampered
 * sealed body never comes from the cache, bounds (entries, bytes, lifetime) hold with LRU
 * order, evicted plaintext is zeroed, and through the server a destroyed key leaves the cache.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CachingProtector } from '../../src/hsm/caching-protector.js';
import { ProtectorError, type KeyProtector } from '../../src/hsm/key-protector.js';
import { SoftwareProtector } from '../../src/hsm/software/software-protector.js';
import { createSymmetricKeyPayload, destroyPayload, getPayload, keyMaterialOf, uniqueIdentifierOf } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { startTestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';

const dir = mkdtempSync(join(tmpdir(), 'kms-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A real software protector that counts the opens reaching it. */
function counted(): { p: KeyProtector; opens: () => number } {
  const { protector } = SoftwareProtector.openOrCreate(join(dir, `m-${Math.random()}.key`));
  let n = 0;
  const p: KeyProtector = {
    get kekId() {
      return protector.kekId;
    },
    description: protector.description,
    seal: (u, b) => protector.seal(u, b),
    open: (u, s, k) => {
      n++;
      return protector.open(u, s, k);
    },
    close: () => protector.close(),
  };
  return { p, opens: () => n };
}

describe('CachingProtector', () => {
  it('serves a repeated open from memory, as a copy the caller may zero', async () => {
    const { p, opens } = counted();
    const c = new CachingProtector(p);
    const sealed = await c.seal('u1', Buffer.from('secret-1'));
    const a = await c.open('u1', sealed, c.kekId);
    a.fill(0);
    const b = await c.open('u1', sealed, c.kekId);
    expect(Buffer.from(b).toString()).toBe('secret-1');
    expect(opens()).toBe(1);
    expect(c.stats()).toMatchObject({ hits: 1, misses: 1, entries: 1, bytes: 8 });
  });

  it('a resealed or tampered body misses the cache and is checked by the protector', async () => {
    const { p, opens } = counted();
    const c = new CachingProtector(p);
    const s1 = await c.seal('u1', Buffer.from('v1'));
    await c.open('u1', s1, c.kekId);
    const s2 = await c.seal('u1', Buffer.from('v2'));
    expect(Buffer.from(await c.open('u1', s2, c.kekId)).toString()).toBe('v2');
    const bad = Buffer.from(s2);
    bad[bad.length - 1]! ^= 1;
    await expect(c.open('u1', bad, c.kekId)).rejects.toBeInstanceOf(ProtectorError);
    // The same sealed bytes under another uid are not a hit either (and fail: the uid is bound in).
    await expect(c.open('u2', s2, c.kekId)).rejects.toBeInstanceOf(ProtectorError);
    expect(opens()).toBe(4);
  });

  it('keeps at most maxEntries, dropping the least recently used', async () => {
    const { p, opens } = counted();
    const c = new CachingProtector(p, { maxEntries: 2 });
    const s = await Promise.all(['a', 'b', 'c'].map(async (u) => [u, await c.seal(u, Buffer.from(u))] as const));
    const open = (i: number) => c.open(s[i]![0], s[i]![1], c.kekId);
    await open(0);
    await open(1);
    await open(0); // a is now the most recent
    await open(2); // evicts b
    expect(opens()).toBe(3);
    await open(0);
    expect(opens()).toBe(3);
    await open(1);
    expect(opens()).toBe(4);
    expect(c.stats().entries).toBe(2);
  });

  it('keeps at most maxBytes, and entries expire after ttlMs', async () => {
    let now = 1_000;
    const { p, opens } = counted();
    const c = new CachingProtector(p, { maxBytes: 10, ttlMs: 50 }, () => now);
    const s1 = await c.seal('x', Buffer.alloc(6, 1));
    const s2 = await c.seal('y', Buffer.alloc(6, 2));
    await c.open('x', s1, c.kekId);
    await c.open('y', s2, c.kekId); // 12 bytes > 10: x goes
    expect(c.stats()).toMatchObject({ entries: 1, bytes: 6 });
    await c.open('y', s2, c.kekId);
    expect(opens()).toBe(2);
    now += 51;
    await c.open('y', s2, c.kekId);
    expect(opens()).toBe(3);
  });

  it('maxEntries 0 turns it off; forget drops an entry', async () => {
    const { p, opens } = counted();
    const off = new CachingProtector(p, { maxEntries: 0 });
    const s = await off.seal('u', Buffer.from('k'));
    await off.open('u', s, off.kekId);
    await off.open('u', s, off.kekId);
    expect(opens()).toBe(2);
    const on = new CachingProtector(p);
    await on.open('u', s, on.kekId);
    on.forget('u');
    expect(on.stats().entries).toBe(0);
  });
});

describe('the key cache in the server', () => {
  it('a hot key is opened once; Destroy drops it from the cache', async () => {
    const srv = await startTestKms();
    try {
      const cache = srv.kms.services.protector as CachingProtector;
      expect(cache).toBeInstanceOf(CachingProtector);
      const s = new Session(await srv.client(), V2_1);
      const uid = uniqueIdentifierOf(await s.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: 12 })));
      const before = cache.stats();
      const k1 = keyMaterialOf(await s.ok(Operation.Get, getPayload(uid)));
      const k2 = keyMaterialOf(await s.ok(Operation.Get, getPayload(uid)));
      expect(Buffer.from(k1)).toEqual(Buffer.from(k2));
      const after = cache.stats();
      expect(after.misses - before.misses).toBe(1);
      expect(after.hits - before.hits).toBe(1);
      expect(after.entries).toBe(1);
      await s.ok(Operation.Destroy, destroyPayload(uid));
      expect(cache.stats().entries).toBe(0);
      expect((await s.call(Operation.Get, getPayload(uid))).status).toBe(ResultStatus.OperationFailed);
    } finally {
      await srv.dispose();
    }
  });
});
