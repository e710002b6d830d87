/**
 * Anchors across `kms backup` / `kms restore` (src/audit/anchor.ts, incarnations): restore
 * anchors its restore record in the new folder's default anchor file; the restored folder
 * verifies, keeps anchoring when served, and a cut back to the restore record is TRUNCATED.
 * Restoring into the path of the lost original (whose anchor file is still there, under the
 * old audit key) verifies: the old lines are left aside, not read as a cut.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../../src/audit/record.js';
import { startTestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { createAes, kmsHere, kmsSync, recoveryKeys } from '../backup/kit.js';
import { ensureBuilt, readLog } from './helpers.js';

const work = mkdtempSync(join(tmpdir(), 'kms-restore-anchor-'));
const dataDir = join(work, 'kms');
const restored = join(work, 'restored');
const backupFile = join(work, 'b.kbk');
let keys: ReturnType<typeof recoveryKeys>;

async function serveAndCreate(dir: string, n: number): Promise<void> {
  const srv = await startTestKms({ audit: { checkpointEvery: 3 } }, { dataDir: dir });
  try {
    const s = new Session(await srv.client('alice'), V2_1);
    for (let i = 0; i < n; i++) await createAes(s);
  } finally {
    await srv.stop();
  }
}

beforeAll(async () => {
  ensureBuilt();
  keys = recoveryKeys(work);
  expect(kmsSync(['init', '--data-dir', dataDir, '--recovery-key', keys.rsaPub]).code).toBe(0);
  await serveAndCreate(dataDir, 5);
  expect((await kmsHere(['backup', '--out', backupFile, '--data-dir', dataDir])).code).toBe(0);
  const r = await kmsHere(['restore', '--in', backupFile, '--data-dir', restored, '--recovery-key', keys.rsaKey]);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => {
  for (const p of [work, `${dataDir}.audit-anchor.jsonl`, `${restored}.audit-anchor.jsonl`]) rmSync(p, { recursive: true, force: true });
});

describe('anchors and restore', () => {
  it('restore anchors its restore record next to the new folder; the restored folder verifies against it', async () => {
    const lines = readFileSync(`${restored}.audit-anchor.jsonl`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; seq: number });
    const { records } = await readLog(restored);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ kind: 'restore', seq: records.length });
    const v = await kmsHere(['audit', 'verify', '--data-dir', restored]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(new RegExp(`reaches the latest anchored entry ${records.length} `));
  });

  it('served, the restored folder keeps anchoring; cut back to the restore record it is TRUNCATED', async () => {
    await serveAndCreate(restored, 6);
    const { records } = await readLog(restored);
    const ok = await kmsHere(['audit', 'verify', '--data-dir', restored]);
    expect(ok.code, ok.stdout).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`reaches the latest anchored entry ${records.length} `));
    const restoreSeq = records.find((r) => r.kind === 'restore')!.seq;
    const db = new ClassicLevel<string, string>(join(restored, 'db'), { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    await db.open();
    const audit = db.sublevel<string, Buffer>('a', { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    const key = (seq: number) => seq.toString(16).padStart(16, '0');
    const kept = await audit.get(key(restoreSeq));
    for (let s = restoreSeq + 1; s <= records.length; s++) await audit.del(key(s));
    await db.sublevel<string, string>('m', { keyEncoding: 'utf8', valueEncoding: 'utf8' }).put('audit-head', `${restoreSeq} ${sha256(kept!).toString('hex')}`);
    await db.close();
    const cut = await kmsHere(['audit', 'verify', '--data-dir', restored]);
    expect(cut.code, cut.stdout).toBe(1);
    expect(cut.stdout).toMatch(new RegExp(`^TRUNCATED: the trail ends at entry ${restoreSeq}, but `));
  });

  it("restored into the lost original's path: the old server's anchor lines are left aside, not a cut", async () => {
    expect(existsSync(`${dataDir}.audit-anchor.jsonl`)).toBe(true);
    rmSync(dataDir, { recursive: true, force: true });
    const r = await kmsHere(['restore', '--in', backupFile, '--data-dir', dataDir, '--recovery-key', keys.rsaKey]);
    expect(r.code, r.stderr).toBe(0);
    await serveAndCreate(dataDir, 2);
    const v = await kmsHere(['audit', 'verify', '--data-dir', dataDir]);
    expect(v.code, v.stdout).toBe(0);
    expect(v.stdout).toMatch(/left aside: 0 line\(s\) of a trail restored over, [1-9]\d* under other audit keys/);
  });
});
