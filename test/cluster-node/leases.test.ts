/**
 * Jobs that run once per cluster: the lease in the store's meta space (src/rotation/store-leases.ts)
 * over one PostgreSQL database shared by two nodes.
 * - store level: of two nodes racing for a free lease one wins; the token only increases when
 *   the lease changes hands; the old holder's grant is fenced off, and a commit carrying its
 *   meta-check is refused as a whole while the new holder's goes through;
 * - two rotation schedulers in two servers over the database: a due key is rotated once.
 */
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { attr, type KmipClient } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { ROTATION_LEASE } from '../../src/rotation/scheduler.js';
import { fencedStore, leasesFor, StoreLeases } from '../../src/rotation/store-leases.js';
import { StoreError } from '../../src/store/object-store.js';
import { PgStore } from '../../src/store/postgres/index.js';
import { t } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attrs, ok, uidOf, V2_1 } from '../operations/object-kit.js';
import { newClusterDatabase } from './nodes.js';

const opened: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const o of opened.reverse()) await o.close().catch(() => undefined);
});

async function pgStore(url: string): Promise<PgStore> {
  const s = new PgStore({ url });
  await s.open();
  opened.push(s);
  return s;
}

const put = (key: string, value: string, expectedRevision: number) => ({ type: 'meta-put' as const, key, value: Buffer.from(value), expectedRevision });

describe('StoreLeases over PostgreSQL (two nodes, one database)', () => {
  it('one of two racing nodes gets the lease; a takeover raises the token and fences the old holder off', async () => {
    const url = await newClusterDatabase();
    const [s1, s2] = [await pgStore(url), await pgStore(url)];
    const [l1, l2] = [new StoreLeases(s1), new StoreLeases(s2)];
    const now = Date.now();
    const [g1, g2] = await Promise.all([l1.acquire('job', 'node-1', 60_000, now), l2.acquire('job', 'node-2', 60_000, now)]);
    expect([g1, g2].filter((g) => g !== undefined)).toHaveLength(1);
    const first = (g1 ?? g2)!;
    const [mine, theirs, otherName] = g1 ? [l1, l2, 'node-2'] : [l2, l1, 'node-1'];
    expect(first.token).toBe(1);
    // Held: the other node is refused; the holder renews with the same token.
    expect(await theirs.acquire('job', otherName, 60_000, now + 1000)).toBeUndefined();
    const renewed = (await mine.acquire('job', first.holder, 60_000, now + 2000))!;
    expect(renewed.token).toBe(1);
    expect(await mine.check(first, now + 3000)).toBe(false); // the renewal is the grant now (a new revision)
    expect(await mine.check(renewed, now + 3000)).toBe(true);

    // The holder pauses past its expiry; the other node takes the lease with the next token.
    const later = now + 2000 + 60_001;
    const taken = (await theirs.acquire('job', otherName, 60_000, later))!;
    expect(taken.token).toBe(2);
    expect(await theirs.check(taken, later)).toBe(true);
    expect(await mine.check(renewed, later)).toBe(false);

    // The paused holder's commit carries the check of the lease entry: refused as a whole.
    const storeOf = g1 ? { mine: s1, theirs: s2 } : { mine: s2, theirs: s1 };
    const late = fencedStore(storeOf.mine, renewed).commit([put('job/output', 'late', 0)]);
    await expect(late).rejects.toSatisfy((e: unknown) => e instanceof StoreError && e.code === 'CONFLICT');
    expect(await s1.meta.get('job/output')).toBeUndefined();
    await fencedStore(storeOf.theirs, taken).commit([put('job/output', 'current', 0)]);
    expect(Buffer.from((await s2.meta.get('job/output'))!.value).toString()).toBe('current');

    // Given up, it is taken again with a higher token still: the token never goes down.
    await theirs.release(taken);
    const again = (await mine.acquire('job', 'node-3', 60_000, later + 1))!;
    expect(again.token).toBe(3);
  });
});

describe('two rotation schedulers in two servers over one database', () => {
  it('a due key is rotated once: one scheduler runs, the other is refused the lease', async () => {
    const url = await newClusterDatabase();
    const DAY_MS = 86_400_000;
    let nowMs = Date.now();
    const clock = () => nowMs;
    const rotation = { checkIntervalSeconds: 86_400 };
    const a: TestKms = await startTestKms({ store: url, rotation }, { clock });
    opened.push({ close: () => a.dispose() });
    const dirB = join(mkdtempSync(join(tmpdir(), 'kms-lease-b-')), 'data');
    mkdirSync(dirB, { recursive: true, mode: 0o700 });
    copyFileSync(join(a.dataDir, 'master.key'), join(dirB, 'master.key'));
    const b: TestKms = await startTestKms({ store: url, rotation }, { clock, dataDir: dirB });
    opened.push({ close: () => b.dispose() });

    const c: KmipClient = await a.client();
    const p = await ok(c, V2_1, Operation.Create, [
      t.enum(Tag.ObjectType, 0x02),
      attrs(V2_1, [
        attr.cryptographicAlgorithm(CryptographicAlgorithm.AES),
        attr.cryptographicLength(256),
        attr.cryptographicUsageMask(CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt),
        attr.name('cluster-rotated'),
        t.date(Tag.ActivationDate, BigInt(Math.floor(nowMs / 1000))),
        t.bool(Tag.RotateAutomatic, true),
        t.interval(Tag.RotateInterval, 30 * 86_400),
      ]),
    ]);
    const uid = uidOf(p);
    nowMs += 31 * DAY_MS;
    const [ra, rb] = await Promise.all([a.kms.rotation.runOnce(), b.kms.rotation.runOnce()]);
    const rotated = [...ra.rotated, ...rb.rotated].filter((r) => r.job.startsWith(uid));
    expect(rotated).toHaveLength(1);
    expect([ra.skipped, rb.skipped].filter((s) => s?.startsWith('lease held by'))).toHaveLength(1);
    // Both nodes see the one lease, in the database.
    const la = await leasesFor(a.kms.services.store).current(ROTATION_LEASE);
    const lb = await leasesFor(b.kms.services.store).current(ROTATION_LEASE);
    expect(la).toEqual(lb);
    expect([a.kms.rotation.holder, b.kms.rotation.holder]).toContain(la!.holder);
    // The replacement is served by the other node too; a second run (lease expired) rotates nothing more.
    const cb = await b.client();
    await ok(cb, V2_1, Operation.Get, [t.text(Tag.UniqueIdentifier, rotated[0]!.newUid)]);
    nowMs += 301_000;
    const [ra2, rb2] = await Promise.all([a.kms.rotation.runOnce(), b.kms.rotation.runOnce()]);
    expect([...ra2.rotated, ...rb2.rotated]).toHaveLength(0);
    const l2 = await leasesFor(a.kms.services.store).current(ROTATION_LEASE);
    expect(l2!.token).toBeGreaterThanOrEqual(la!.token);
  });
});
