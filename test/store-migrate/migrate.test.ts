/**
 * The migration library (src/backup/migrate.ts) on a folder made by a real server: keys created,
 * activated, revoked, destroyed, registered; an audit log with checkpoints; server metadata with
 * revisions above 1. The copy keeps every record (revision included), meta entry and audit entry
 * byte for byte; an interruption in any phase resumes without duplicating or reordering audit
 * entries; a target holding something else, or a source that changed, is refused; a tampered
 * target fails verification.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRecord as decodeAudit } from '../../src/audit/record.js';
import { MIGRATE_STATE_KEY, migrateStore, MigrateError, verifyMigration, type MigrateProgress } from '../../src/backup/migrate.js';
import { LevelStore } from '../../src/store/leveldb/index.js';
import type { ObjectStore } from '../../src/store/object-store.js';
import { encodeRecord } from '../../src/store/record-codec.js';
import { indexEnum } from '../../src/store/index-encoding.js';
import { State } from '../../src/kmip/generated/enums.gen.js';
import { startTestKms } from '../support/kms.js';
import { createAes, populate } from '../backup/kit.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { addAuditEntries, dumpStore, newTarget, type Dump } from './kit.js';

const work = mkdtempSync(join(tmpdir(), 'kms-migrate-lib-'));
const dataDir = join(work, 'data');
let source: Dump;
const targets: { store: ObjectStore; close(): Promise<void> }[] = [];

async function target(kind: 'postgresql' | 'leveldb' = 'postgresql'): Promise<ObjectStore> {
  const t = await newTarget(work, kind);
  targets.push(t);
  return t.store;
}

beforeAll(async () => {
  const srv = await startTestKms({ audit: { checkpointEvery: 5 } }, { dataDir });
  await populate(await srv.client(), 16);
  await srv.stop();
  // Server metadata with revisions above 1, and a readiness stamp (not state: not copied).
  const s = new LevelStore({ path: join(dataDir, 'db') });
  await s.open();
  for (let r = 0; r < 3; r++) await s.commit([{ type: 'meta-put', key: 'clients/crl', value: Buffer.from(`crl-${r}`), expectedRevision: r }]);
  await s.commit([{ type: 'meta-put', key: 'clients/name/x', value: Buffer.from('{}'), expectedRevision: 0 }]);
  for (let i = 0; i < 6; i++) await s.commit([{ type: 'meta-put', key: `clients/cert/${i}`, value: Buffer.from(`cert ${i}`), expectedRevision: 0 }]);
  await s.commit([{ type: 'meta-put', key: 'health/ready/somehost', value: Buffer.from('1'), expectedRevision: 0 }]);
  // A job lease renewed a few times (not state: a stopped folder's leases have no running holder).
  for (let r = 0; r < 4; r++) await s.commit([{ type: 'meta-put', key: 'lease/rotation', value: Buffer.from(`{"token":1,"renewal":${r}}`), expectedRevision: r }]);
  await s.close();
  await addAuditEntries(dataDir, 300);
  source = await dumpStore(join(dataDir, 'db'));
}, 120_000);

afterAll(async () => {
  for (const t of targets) await t.close().catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

describe.each(['postgresql', 'leveldb'] as const)('a whole migration into %s', (kind) => {
  it('copies every record byte-equal (revisions kept), every meta entry but the readiness stamps and job leases, every audit entry, and verifies', async () => {
    expect(source.records.size).toBeGreaterThan(15);
    expect([...source.records.values()].some((r) => r.revision > 2)).toBe(true);
    expect(source.audit.filter((a) => decodeAudit(a).kind === 'checkpoint').length).toBeGreaterThan(3);
    const t = await target(kind);
    const phases = new Set<string>();
    const r = await migrateStore({ dataDir, target: t, opsPerCommit: 7, auditPerCommit: 50, onProgress: (p: MigrateProgress) => phases.add(p.phase) });
    expect(r.resumed).toBe(false);
    expect(r.verify.problems).toEqual([]);
    expect(r.copied).toEqual({ records: source.records.size, metaEntries: 8, auditEntries: source.audit.length });
    expect(r.verify).toMatchObject({ records: source.records.size, auditEntries: source.audit.length, metaEntries: 8 });
    expect([...phases]).toEqual(expect.arrayContaining(['records', 'meta', 'audit', 'verify records', 'verify audit']));

    const got = await dumpStore(t);
    expect(got.records.size).toBe(source.records.size);
    for (const [uid, rec] of source.records) expect(encodeRecord(got.records.get(uid)!).equals(encodeRecord(rec)), uid).toBe(true);
    expect(got.audit.length).toBe(source.audit.length);
    got.audit.forEach((b, i) => expect(b.equals(source.audit[i]!), `audit ${i + 1}`).toBe(true));
    expect(Buffer.from(t.audit.head().link).equals(Buffer.from(source.head.link))).toBe(true);
    expect(got.meta.get('clients/crl')).toEqual({ revision: 3, value: 'crl-2' });
    expect(got.meta.get('clients/name/x')).toEqual({ revision: 1, value: '{}' });
    expect(got.meta.has('health/ready/somehost')).toBe(false);
    expect(got.meta.has('lease/rotation')).toBe(false);
    // Index terms came with the records: a Locate-style query finds the same uids.
    const destroyed = [...source.records.values()].filter((x) => x.state === State.Destroyed).map((x) => x.uid);
    expect(destroyed.length).toBeGreaterThan(0);
    expect((await t.find({ field: '$state', equals: indexEnum(State.Destroyed) })).sort()).toEqual(destroyed.sort());

    // A re-run of a verified migration copies nothing and verifies again.
    const again = await migrateStore({ dataDir, target: t });
    expect(again.resumed).toBe(true);
    expect(again.copied).toEqual({ records: 0, metaEntries: 0, auditEntries: 0 });
    expect((await verifyMigration({ dataDir, target: t })).verify.problems).toEqual([]);

    // The store holds each record at its revision: the next change expects exactly that one.
    const old = [...source.records.values()].find((x) => x.revision > 2)!;
    await expect(t.commit([{ type: 'put', record: old, expectedRevision: old.revision - 1 }])).rejects.toMatchObject({ code: 'CONFLICT' });
    await t.commit([{ type: 'put', record: old, expectedRevision: old.revision }]);
    expect((await t.get(old.uid))!.revision).toBe(old.revision + 1);
  });
});

describe('resuming', () => {
  for (const phase of ['records', 'meta', 'audit'] as const) {
    it(`an interruption in the ${phase} phase resumes where it stopped: no entry twice, none out of order`, async () => {
      const t = await target();
      let seen = 0;
      const stop = new Error('interrupted');
      await expect(
        migrateStore({
          dataDir,
          target: t,
          opsPerCommit: 3,
          auditPerCommit: 40,
          onProgress: (p) => {
            if (p.phase === phase && ++seen === 2) throw stop;
          },
        }),
      ).rejects.toBe(stop);
      const mid = await dumpStore(t);
      if (phase === 'records') expect(mid.records.size).toBeLessThan(source.records.size);
      if (phase === 'audit') expect(mid.audit.length).toBeGreaterThan(0);
      if (phase === 'audit') expect(mid.audit.length).toBeLessThan(source.audit.length);
      const state = JSON.parse(Buffer.from((await t.meta.get(MIGRATE_STATE_KEY))!.value).toString()) as { phase: string };
      expect(state.phase).toBe(phase);
      const r = await migrateStore({ dataDir, target: t, opsPerCommit: 3, auditPerCommit: 40 });
      expect(r.resumed).toBe(true);
      expect(r.state.resumes).toBe(1);
      expect(r.verify.problems).toEqual([]);
      const got = await dumpStore(t);
      expect(got.audit.map((b) => decodeAudit(b).seq)).toEqual(source.audit.map((_, i) => i + 1));
      got.audit.forEach((b, i) => expect(b.equals(source.audit[i]!)).toBe(true));
      expect(got.records.size).toBe(source.records.size);
    });
  }
});

describe('refusals', () => {
  it('a target holding another store is refused, and left as it was', async () => {
    const t = await target();
    await t.commit([{ type: 'meta-put', key: 'clients/crl', value: Buffer.from('theirs'), expectedRevision: 0 }]);
    const err = await migrateStore({ dataDir, target: t }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MigrateError);
    expect((err as MigrateError).code).toBe('REFUSED');
    expect((err as Error).message).toMatch(/not empty/);
    expect(await t.meta.get(MIGRATE_STATE_KEY)).toBeUndefined();
    expect(await t.count()).toBe(0);
  });

  it('a target holding a migration of another folder is refused; --verify-only says it holds none of this one', async () => {
    const otherDir = join(work, 'other');
    const srv = await startTestKms({}, { dataDir: otherDir });
    await populate(await srv.client(), 2);
    await srv.stop();
    const t = await target();
    await migrateStore({ dataDir: otherDir, target: t });
    const err = (await migrateStore({ dataDir, target: t }).catch((e: unknown) => e)) as MigrateError;
    expect(err.code).toBe('REFUSED');
    expect(err.message).toMatch(/another data folder/);
    const v = (await verifyMigration({ dataDir, target: t }).catch((e: unknown) => e)) as MigrateError;
    expect(v.code).toBe('NOT_MIGRATED');
  });

  it('a source that changed since the interrupted migration began is refused', async () => {
    const dir = join(work, 'changing');
    const srv = await startTestKms({}, { dataDir: dir });
    await populate(await srv.client(), 4);
    await srv.stop();
    const stop = new Error('interrupted');
    const t2 = await target();
    await expect(
      migrateStore({
        dataDir: dir,
        target: t2,
        opsPerCommit: 1,
        onProgress: () => {
          throw stop;
        },
      }),
    ).rejects.toBe(stop);
    const srv2 = await startTestKms({}, { dataDir: dir });
    await createAes(new Session(await srv2.client(), V2_1));
    await srv2.stop();
    const err = (await migrateStore({ dataDir: dir, target: t2 }).catch((e: unknown) => e)) as MigrateError;
    expect(err.code).toBe('REFUSED');
    expect(err.message).toMatch(/changed since the migration/);
  });

  it('a running server holds the folder: refused before anything is written', async () => {
    const dir = join(work, 'running');
    const srv = await startTestKms({}, { dataDir: dir });
    try {
      const t = await target();
      const err = (await migrateStore({ dataDir: dir, target: t }).catch((e: unknown) => e)) as MigrateError;
      expect(err.code).toBe('REFUSED');
      expect(err.message).toMatch(/in use/);
      expect(await t.meta.get(MIGRATE_STATE_KEY)).toBeUndefined();
    } finally {
      await srv.stop();
    }
  });
});

describe('verification', () => {
  it('finds a record, an audit entry or a meta entry that differs', async () => {
    const t = await target();
    await migrateStore({ dataDir, target: t });
    const uid = [...source.records.keys()][3]!;
    const rec = (await t.get(uid))!;
    // A changed record: same uid, one revision more.
    await t.commit([{ type: 'put', record: rec, expectedRevision: rec.revision }]);
    await t.commit([{ type: 'meta-put', key: 'clients/name/x', value: Buffer.from('{"x":1}'), expectedRevision: 1 }]);
    await t.commit([], { audit: [{ seal: (seq, prev) => ({ bytes: Buffer.from(`{"extra":${seq},"prev":"${Buffer.from(prev).toString('hex')}"}`), link: Buffer.alloc(32, 1) }) }] });
    const err = (await verifyMigration({ dataDir, target: t }).catch((e: unknown) => e)) as MigrateError & { report: { problems: string[] } };
    expect(err.code).toBe('MISMATCH');
    const problems = err.report.problems.join('\n');
    expect(problems).toContain(`record ${uid}: the bytes differ`);
    expect(problems).toContain('meta clients/name/x: differs');
    expect(problems).toMatch(/audit head: source seq \d+, target seq \d+/);
    expect(problems).toMatch(/audit entry \d+: in the target only/);
  });
});
