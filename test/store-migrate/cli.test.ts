/**
 * `kms store migrate` end to end, with a real PostgreSQL 15 (test/support/postgres.ts) and the
 * built CLI: a folder made by a real server (keys created, activated, revoked, destroyed,
 * registered; an audit log with checkpoints anchored next to the folder) is migrated; a server
 * over the database with the same folder returns the same key bytes for every key and keeps
 * working; the audit trail over the database verifies with the folder's audit key and anchor
 * file; a migration killed with SIGKILL mid-way resumes and verifies; a database holding another
 * store, or a migration of another folder, is refused.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRecord as decodeAudit } from '../../src/audit/record.js';
import { MIGRATE_STATE_KEY } from '../../src/backup/migrate.js';
import { preload } from '../../src/bench/preload.js';
import { openStore } from '../../src/store/index.js';
import { encodeRecord } from '../../src/store/record-codec.js';
import { createAes, ensureBuilt, keyBytes, kmsAsync, populate } from '../backup/kit.js';
import { KMS } from '../audit/helpers.js';
import { startTestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { sharedPostgres } from '../support/postgres.js';
import { addAuditEntries, dumpStore, verifyTrailOver } from './kit.js';

const work = mkdtempSync(join(tmpdir(), 'kms-migrate-cli-'));
const dataDir = join(work, 'data');
let url: string;
const bytesBefore = new Map<string, string>();

beforeAll(async () => {
  ensureBuilt();
  url = await (await sharedPostgres()).newDatabase();
  const srv = await startTestKms({ audit: { checkpointEvery: 5 } }, { dataDir });
  const c = await srv.client();
  for (const uid of await populate(c, 16)) bytesBefore.set(uid, await keyBytes(c, uid));
  await srv.stop();
}, 120_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('kms store migrate', () => {
  it('migrates a server-made folder, verifies, and says how to serve it', async () => {
    const source = await dumpStore(join(dataDir, 'db'));
    const r = await kmsAsync(['store', 'migrate', '--from', dataDir, '--to', url]);
    expect(r.stderr).toMatch(/migrate: records \d+\/\d+/);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`copied ${source.records.size} records`);
    expect(r.stdout).toContain(`verified: ${source.records.size} records, 0 metadata entries, ${source.audit.length} audit entries`);
    expect(r.stdout).toMatch(/serve it with: kms serve --data-dir .* --store postgresql:/);
    const v = await kmsAsync(['store', 'migrate', '--verify-only', '--from', dataDir, '--to', url]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/verified \d{4}-/);
  });

  it('a server over the database with the same folder returns the same key bytes, and keeps working', async () => {
    const srv = await startTestKms({ store: url, audit: { checkpointEvery: 5 } }, { dataDir });
    try {
      const c = await srv.client();
      expect(bytesBefore.size).toBeGreaterThan(15);
      for (const [uid, hex] of bytesBefore) expect(await keyBytes(c, uid), uid).toBe(hex);
      expect([...bytesBefore.values()].filter((h) => h.startsWith('failed:')).length).toBeGreaterThan(0); // destroyed keys answer as before
      const fresh = await createAes(new Session(c, V2_1));
      expect(await keyBytes(c, fresh)).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await srv.stop();
    }
    // The migrated database is a store like any other now: a new migration into it is refused.
  });

  it('the audit trail over the database verifies with the folder audit key and anchor file, through the new entries too', async () => {
    const before = (await dumpStore(join(dataDir, 'db'))).audit.length;
    const r = await verifyTrailOver(dataDir, url);
    expect(r.ok, r.text).toBe(true);
    expect(r.entries).toBeGreaterThan(before);
    // The command itself, over the database: the folder's audit key and its anchor file.
    const cli = await kmsAsync(['audit', 'verify', '--data-dir', dataDir, '--store', url]);
    expect(cli.code, cli.stderr + cli.stdout).toBe(0);
    expect(cli.stdout).toContain(`OK: ${r.entries} entries`);
    expect(cli.stdout).toMatch(/anchors:/);
  });

  it('a database holding another server store is refused (exit 4), and so is a migration of another folder into it', async () => {
    const other = join(work, 'other');
    const srv = await startTestKms({}, { dataDir: other });
    await createAes(new Session(await srv.client(), V2_1));
    await srv.stop();
    // `url` now holds the migrated store plus a server's changes: not a migration of `other`.
    const a = await kmsAsync(['store', 'migrate', '--from', other, '--to', url]);
    expect(a.code).toBe(4);
    expect(a.stderr).toMatch(/migration of another data folder/);
    // A database a server filled directly (never a migration target).
    const served = await (await sharedPostgres()).newDatabase();
    const node = await startTestKms({ store: served }, { dataDir: join(work, 'node') });
    await createAes(new Session(await node.client(), V2_1));
    await node.stop();
    const b = await kmsAsync(['store', 'migrate', '--from', other, '--to', served]);
    expect(b.code).toBe(4);
    expect(b.stderr).toMatch(/not empty/);
    const s = await openStore({ kind: 'postgresql', url: served, poolSize: 1 });
    try {
      expect(await s.meta.get(MIGRATE_STATE_KEY)).toBeUndefined();
      expect(await s.count()).toBe(1);
    } finally {
      await s.close();
    }
  });

  it('a folder in the middle of a protector migration is refused (exit 4) before anything is written', async () => {
    const dir = join(work, 'migrating');
    const srv = await startTestKms({}, { dataDir: dir });
    await createAes(new Session(await srv.client(), V2_1));
    await srv.stop();
    const custodyFile = join(dir, 'custody.json');
    const custody = JSON.parse(readFileSync(custodyFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(custodyFile, JSON.stringify({ ...custody, migration: { id: 'm1', started: '2026-12-06T00:00:00Z', to: custody.protector, phase: 'rewrap' } }));
    const db = await (await sharedPostgres()).newDatabase();
    const r = await kmsAsync(['store', 'migrate', '--from', dir, '--to', db]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/protector migration/);
    const s = await openStore({ kind: 'postgresql', url: db, poolSize: 1 });
    try {
      expect(await s.meta.get(MIGRATE_STATE_KEY)).toBeUndefined();
    } finally {
      await s.close();
    }
  });

  it('help names the options and exit codes; usage: --to must be a postgresql:// URL, and a password is never printed', async () => {
    const h = await kmsAsync(['store', '--help']);
    expect(h.code).toBe(0);
    for (const w of ['--from DIR', '--to URL', '--verify-only', '--batch N', 'resumes', 'Exit codes']) expect(h.stdout).toContain(w);
    expect((await kmsAsync(['--help'])).stdout).toMatch(/store\s+move a data folder to PostgreSQL/);
    const r = await kmsAsync(['store', 'migrate', '--from', dataDir, '--to', '/tmp/x']);
    expect(r.code).toBe(2);
    const p = await kmsAsync(['store', 'migrate', '--from', dataDir, '--to', 'postgresql://kms:s3cretpw@127.0.0.1:1/nodb']);
    expect(p.code).toBe(3);
    expect(p.stderr + p.stdout).not.toContain('s3cretpw');
  });
});

describe('an interrupted migration (SIGKILL)', () => {
  it('resumes where it stopped and verifies: every record once, the audit log in order', async () => {
    const big = join(work, 'big');
    await preload(big, 0, 6000, 'kms-client');
    await addAuditEntries(big, 3000);
    const source = await dumpStore(join(big, 'db'));
    const target = await (await sharedPostgres()).newDatabase();

    // Killed once it has committed a few batches of records.
    const child = spawn(process.execPath, [KMS, 'store', 'migrate', '--from', big, '--to', target, '--batch', '100'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const killed = new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /migrate: records (\d+)\//.exec(stderr);
        if (m && Number(m[1]) >= 100 && !child.killed) child.kill('SIGKILL');
      });
      child.on('exit', () => resolve());
    });
    await killed;
    expect(child.signalCode, stderr).toBe('SIGKILL');

    const mid = await openStore({ kind: 'postgresql', url: target, poolSize: 1 });
    try {
      const state = JSON.parse(Buffer.from((await mid.meta.get(MIGRATE_STATE_KEY))!.value).toString()) as { phase: string; lastUid: string };
      expect(state.phase).toBe('records');
      const n = await mid.count();
      expect(n).toBeGreaterThan(0);
      expect(n).toBeLessThan(source.records.size);
    } finally {
      await mid.close();
    }

    const r = await kmsAsync(['store', 'migrate', '--from', big, '--to', target, '--batch', '100']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/resuming the migration begun/);
    expect(r.stdout).toMatch(/^resumed and migrated/);
    expect(r.stdout).toContain(`verified: ${source.records.size} records`);

    const t = await openStore({ kind: 'postgresql', url: target, poolSize: 1 });
    try {
      const got = await dumpStore(t);
      expect(got.records.size).toBe(source.records.size);
      for (const [uid, rec] of source.records) expect(encodeRecord(got.records.get(uid)!).equals(encodeRecord(rec))).toBe(true);
      expect(got.audit.map((b) => decodeAudit(b).seq)).toEqual(source.audit.map((_, i) => i + 1));
      got.audit.forEach((b, i) => expect(b.equals(source.audit[i]!)).toBe(true));
    } finally {
      await t.close();
    }
    const v = await verifyTrailOver(big, target);
    expect(v.ok, v.text).toBe(true);
  }, 300_000);
});
