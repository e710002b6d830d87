/**
 * Anchors outside the data folder (src/audit/anchor.ts): a trail cut back to one of its own
 * checkpoints, as an attacker with the data folder (and the software audit key) would do it:
 * the entries after a checkpoint deleted and the store's head rewritten to it. The hash chain
 * and every checkpoint still verify (shown with --no-anchor); the anchor file, the copy of the
 * log stream, and a restarted server's log all give it away.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSymmetricKeyPayload, getPayload, uniqueIdentifierOf } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { decodeRecord, sha256 } from '../../src/audit/record.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { ensureBuilt, kms } from './helpers.js';

type Entry = Record<string, unknown> & { seq: number; kind: string };

let srv: TestKms;
let anchorFile: string;
const logLines: string[] = [];
const scratch: string[] = [];
let entries: Entry[] = [];

const key = (seq: number) => seq.toString(16).padStart(16, '0');

async function load(dir: string): Promise<{ entries: Entry[]; raw: Buffer[] }> {
  const db = new ClassicLevel<string, string>(join(dir, 'db'), { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  await db.open();
  try {
    const raw = await db.sublevel<string, Buffer>('a', { keyEncoding: 'utf8', valueEncoding: 'buffer' }).values().all();
    return { entries: raw.map((v) => decodeRecord(v) as unknown as Entry), raw };
  } finally {
    await db.close();
  }
}

/** The attacker's cut: a copy of the folder whose trail ends at entry `at` (a checkpoint), head rewritten. */
async function cutBackTo(at: number): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'kms-cut-'));
  scratch.push(dir, `${dir}.audit-anchor.jsonl`);
  cpSync(srv.dataDir, dir, { recursive: true });
  const db = new ClassicLevel<string, string>(join(dir, 'db'), { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  await db.open();
  try {
    const audit = db.sublevel<string, Buffer>('a', { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    const last = await audit.get(key(at));
    for (let s = at + 1; s <= entries.length; s++) await audit.del(key(s));
    await db.sublevel<string, string>('m', { keyEncoding: 'utf8', valueEncoding: 'utf8' }).put('audit-head', `${at} ${sha256(last!).toString('hex')}`);
  } finally {
    await db.close();
  }
  return dir;
}

beforeAll(async () => {
  ensureBuilt();
  const base = mkdtempSync(join(tmpdir(), 'kms-anchor-'));
  scratch.push(base);
  anchorFile = join(base, 'anchor.jsonl');
  srv = await startTestKms({ audit: { checkpointEvery: 4, anchorFile } }, { captureLog: logLines });
  const s = new Session(await srv.client('alice'), V2_1);
  for (let i = 0; i < 8; i++) {
    const uid = uniqueIdentifierOf(
      await s.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: CryptographicUsageMask.Encrypt, name: `anchor-${i}` })),
    );
    await s.ok(Operation.Get, getPayload(uid));
  }
  await srv.stop();
  entries = (await load(srv.dataDir)).entries;
});
afterAll(async () => {
  await srv?.dispose();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

/** A checkpoint well before the end (what the attacker cuts back to). */
const earlyCheckpoint = () => entries.filter((e) => e.kind === 'checkpoint')[1]!.seq;

describe('audit anchors outside the data folder', () => {
  it('every checkpoint goes to the anchor file (fsynced lines) and to the log stream, in one stable message', () => {
    const checkpoints = entries.filter((e) => e.kind === 'checkpoint');
    expect(checkpoints.length).toBeGreaterThan(3);
    const lines = readFileSync(anchorFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.map((l) => l.seq)).toEqual(checkpoints.map((c) => c.seq));
    expect(lines.every((l) => l.keyId === checkpoints[0]!.keyId && typeof l.anchorMac === 'string' && (l.anchorMac as string).length === 64)).toBe(true);
    // The checkpoint record says where it was anchored.
    expect(checkpoints.every((c) => JSON.stringify(c.anchor) === '["file"]')).toBe(true);
    const logged = logLines.map((l) => JSON.parse(l) as { msg: string; auditCheckpoint?: { seq: number; link: string; anchorMac: string } }).filter((l) => l.msg === 'audit checkpoint');
    expect(logged.map((l) => l.auditCheckpoint!.seq)).toEqual(lines.map((l) => l.seq));
    expect(logged.map((l) => l.auditCheckpoint!.anchorMac)).toEqual(lines.map((l) => l.anchorMac));
  });

  it('an untouched trail verifies and says what it was checked against', () => {
    const r = kms('audit', 'verify', '--data-dir', srv.dataDir, '--anchor', anchorFile);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^OK: \d+ entries/);
    const last = entries[entries.length - 1]!.seq;
    expect(r.stdout).toContain(`anchors: checked against ${anchorFile} (`);
    expect(r.stdout).toMatch(new RegExp(`the trail reaches the latest anchored entry ${last} \\(`));
  });

  it('a trail cut back to a checkpoint: the chain alone still verifies, the anchor file says TRUNCATED (exit 1)', async () => {
    const at = earlyCheckpoint();
    const dir = await cutBackTo(at);
    // What verify said before anchors: the chain and every checkpoint are fine.
    const alone = kms('audit', 'verify', '--data-dir', dir, '--no-anchor');
    expect(alone.code, alone.stdout).toBe(0);
    expect(alone.stdout).toMatch(/checked against nothing outside the data folder \(--no-anchor\)/);
    const last = entries[entries.length - 1]!.seq;
    const r = kms('audit', 'verify', '--data-dir', dir, '--anchor', anchorFile);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^TRUNCATED: the trail ends at entry ${at}, but ${anchorFile.replace(/[.]/g, '\\.')} line \\d+ anchors checkpoint entry ${last} `));
  });

  it('the default anchor (next to the folder) is read without --anchor', async () => {
    const dir = await cutBackTo(earlyCheckpoint());
    cpSync(anchorFile, `${dir}.audit-anchor.jsonl`);
    const r = kms('audit', 'verify', '--data-dir', dir);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toMatch(/^TRUNCATED: /);
  });

  it('the shipped log stream works as an anchor too', async () => {
    const dir = await cutBackTo(earlyCheckpoint());
    const shipped = join(dir + '-log.jsonl');
    scratch.push(shipped);
    writeFileSync(shipped, logLines.join(''));
    const r = kms('audit', 'verify', '--data-dir', dir, '--anchor', shipped);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toMatch(/^TRUNCATED: the trail ends at entry \d+, but .*-log\.jsonl line \d+ anchors/);
    // The log also carries the server's other lines: skipped, and said so.
    expect(r.stdout).toMatch(/other line\(s\) skipped/);
  });

  it('the anchor file removed as well: the trail says it was anchored (ANCHOR MISSING, exit 1)', async () => {
    const dir = await cutBackTo(earlyCheckpoint());
    expect(existsSync(`${dir}.audit-anchor.jsonl`)).toBe(false);
    const r = kms('audit', 'verify', '--data-dir', dir);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toMatch(/^ANCHOR MISSING: the trail's checkpoints were anchored to the file \(no anchor file at /);
  });

  it('a forged anchor line (no audit key) is reported, not trusted', async () => {
    const forged = join(mkdtempSync(join(tmpdir(), 'kms-forged-')), 'anchor.jsonl');
    scratch.push(forged);
    const lines = readFileSync(anchorFile, 'utf8').trim().split('\n');
    const last = JSON.parse(lines[lines.length - 1]!) as Record<string, unknown>;
    writeFileSync(forged, [...lines, JSON.stringify({ ...last, seq: (last.seq as number) + 100 })].join('\n') + '\n');
    const r = kms('audit', 'verify', '--data-dir', srv.dataDir, '--anchor', forged);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toMatch(/^FORGED: .* whose MAC does not verify/);
  });

  it('a cut trail written again by a restarted server: it says so at start, and verify names the rewritten entry', async () => {
    const at = earlyCheckpoint();
    const dir = await cutBackTo(at);
    const log: string[] = [];
    const again = await startTestKms({ audit: { checkpointEvery: 4, anchorFile } }, { dataDir: dir, captureLog: log });
    try {
      const s = new Session(await again.client('alice'), V2_1);
      for (let i = 0; i < 12; i++)
        await s.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: CryptographicUsageMask.Encrypt }));
    } finally {
      await again.stop();
    }
    expect(log.join('')).toContain('AUDIT TRAIL CUT BACK');
    const r = kms('audit', 'verify', '--data-dir', dir, '--anchor', anchorFile);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stdout).toMatch(/^(REWRITTEN: entry \d+ is not the checkpoint|TRUNCATED: )/);
  });

  it('an anchor file inside the data folder is refused at start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-inside-'));
    scratch.push(dir);
    await expect(startTestKms({ audit: { anchorFile: join(dir, 'anchor.jsonl') } }, { dataDir: dir })).rejects.toThrow(/inside the data folder/);
  });
});

describe('audit.anchorFile configuration', () => {
  it('config file key, KMS_AUDIT_ANCHOR_FILE and --audit-anchor, in that precedence; an empty value is refused', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-anchor-cfg-'));
    scratch.push(dir);
    const file = join(dir, 'kms.json');
    writeFileSync(file, JSON.stringify({ audit: { anchorFile: '/srv/a.jsonl' } }));
    expect(loadConfig({ file }).audit?.anchorFile).toBe('/srv/a.jsonl');
    expect(loadConfig({ file, env: { KMS_AUDIT_ANCHOR_FILE: '/srv/b.jsonl' } }).audit?.anchorFile).toBe('/srv/b.jsonl');
    expect(loadConfig({ file, env: { KMS_AUDIT_ANCHOR_FILE: '/srv/b.jsonl' }, flags: { auditAnchorFile: '/srv/c.jsonl' } }).audit?.anchorFile).toBe('/srv/c.jsonl');
    writeFileSync(file, JSON.stringify({ audit: { anchorFile: '' } }));
    expect(() => loadConfig({ file })).toThrow(ConfigError);
  });

  it('kms serve --help names the flag, the variable and the key', () => {
    const r = kms('serve', '--help');
    expect(r.stdout).toMatch(/--audit-anchor FILE/);
    expect(r.stdout).toMatch(/KMS_AUDIT_ANCHOR_FILE/);
    expect(r.stdout).toMatch(/anchorFile/);
  });
});
