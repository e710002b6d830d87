/**
 * Backup, verify and restore with a PostgreSQL store (a real PostgreSQL 15, test/support/postgres.ts):
 * a node over the database is backed up while it runs (through its admin socket: one snapshot of
 * the database) and, stopped, with --store URL; `kms backup verify` checks both files; a backup
 * restores into an empty PostgreSQL database (a node over it returns the same key bytes, its
 * trail verifies through the restore anchor) and into a LevelDB folder (a cluster's backup on a
 * single node); a database that holds anything is refused and nothing is left behind.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { sharedPostgres } from '../support/postgres.js';
import { verifyTrailOver } from '../store-migrate/kit.js';
import { ensureBuilt, keyBytes, kmsAsync, kmsHere, populate, recoveryKeys } from './kit.js';

const work = mkdtempSync(join(tmpdir(), 'kms-backup-pg-'));
const node = join(work, 'node');
let url: string;
let keys: ReturnType<typeof recoveryKeys>;
let srv: TestKms | undefined;
const bytes = new Map<string, string>();
const running = join(work, 'running.kbk');
const stopped = join(work, 'stopped.kbk');
let runningOut: { code: number; stdout: string; stderr: string };

beforeAll(async () => {
  ensureBuilt();
  keys = recoveryKeys(work);
  url = await (await sharedPostgres()).newDatabase();
  const init = await kmsHere(['init', '--data-dir', node, '--recovery-key', keys.rsaPub]);
  expect(init.code, init.stderr).toBe(0);
  srv = await startTestKms({ store: url, audit: { checkpointEvery: 5 } }, { dataDir: node });
  const c = await srv.client();
  for (const uid of await populate(c, 12)) bytes.set(uid, await keyBytes(c, uid));
  runningOut = await kmsAsync(['backup', '--out', running, '--data-dir', node]);
  await srv.stop();
}, 120_000);

afterAll(async () => {
  await srv?.stop();
  rmSync(work, { recursive: true, force: true });
});

async function servedBytes(dataDir: string, store?: string): Promise<Map<string, string>> {
  const s = await startTestKms({ ...(store !== undefined && { store }) }, { dataDir });
  try {
    const c = await s.client();
    const out = new Map<string, string>();
    for (const uid of bytes.keys()) out.set(uid, await keyBytes(c, uid));
    return out;
  } finally {
    await s.stop();
  }
}

describe('kms backup with a PostgreSQL store', () => {
  it('a running node takes it through its admin socket, from one snapshot of the database', () => {
    expect(runningOut.code, runningOut.stderr).toBe(0);
    expect(runningOut.stderr).toMatch(/taken by the running server \(15 objects/);
  });

  it('with the node stopped, --store URL reads the database directly with the folder keys', async () => {
    const r = await kmsAsync(['backup', '--out', stopped, '--data-dir', node, '--store', url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/15 objects, \d+ client registry entries, \d+ audit entries/);
    expect(r.stdout + r.stderr).not.toMatch(/postgresql:\/\/[^ ]*:[^*@ ]+@/);
    // Without --store the folder's own (empty) LevelDB would be read: the store decides what is backed up.
    for (const f of [running, stopped]) {
      const v = await kmsHere(['backup', 'verify', f, '--recovery-key', keys.rsaKey]);
      expect(v.code, v.stderr).toBe(0);
      expect(v.stdout).toMatch(/15 objects, \d+ client registry entries, \d+ audit entries/);
    }
  });
});

describe('kms restore with a PostgreSQL store', () => {
  it('restores into an empty database: the same key bytes over it, the trail verifies through the restore anchor', async () => {
    const target = await (await sharedPostgres()).newDatabase();
    const dir = join(work, 'restored-pg');
    const r = await kmsAsync(['restore', '--in', running, '--data-dir', dir, '--recovery-key', keys.rsaKey, '--store', target]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/restored backup \w+ into .*: 15 objects re-sealed/);
    expect(r.stdout).toContain('into the database postgresql://');
    expect(JSON.parse(readFileSync(join(dir, 'kms.json'), 'utf8'))).toMatchObject({ store: target });
    expect(existsSync(join(dir, 'db'))).toBe(false); // the records are in the database, not in a LevelDB folder
    const s = await openStore({ kind: 'postgresql', url: target, poolSize: 1 });
    try {
      expect(await s.count()).toBe(15);
      expect(await s.meta.get('cluster/custody')).toBeDefined();
    } finally {
      await s.close();
    }
    expect(await servedBytes(dir, target)).toEqual(bytes);
    const v = await verifyTrailOver(dir, target);
    expect(v.ok, v.text).toBe(true);
    expect(v.text).toContain('"restore"');
  });

  it("a cluster's backup restores into a LevelDB folder on a single node", async () => {
    const dir = join(work, 'restored-leveldb');
    const r = await kmsAsync(['restore', '--in', stopped, '--data-dir', dir, '--recovery-key', keys.rsaKey]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(dir, 'db'))).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'kms.json'), 'utf8'))).not.toHaveProperty('store');
    expect(await servedBytes(dir)).toEqual(bytes);
  });

  it('a database that holds anything is refused (exit 4) and no folder is left behind', async () => {
    const dir = join(work, 'refused');
    const r = await kmsAsync(['restore', '--in', running, '--data-dir', dir, '--recovery-key', keys.rsaKey, '--store', url]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/database is not empty \(15 records/);
    expect(existsSync(dir)).toBe(false);
    const bad = await kmsAsync(['restore', '--in', running, '--data-dir', dir, '--recovery-key', keys.rsaKey, '--store', 'mysql://x']);
    expect(bad.code).toBe(2);
  });
});
