/**
 * Tampering with a stopped data folder's audit log, directly in LevelDB's `a` sublevel, is
 * caught by `kms audit verify` (the built CLI, run as a child process): it exits 1 and names
 * the position. Each manipulation is tried naively and, where it makes sense, by an attacker
 * who rebuilds the hash chain and the store's head after it (everything but the audit key):
 * then the checkpoints give it away.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, createSymmetricKeyPayload, getPayload, locatePayload, uniqueIdentifierOf } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { decodeRecord, encodeRecord, sha256, type AuditRecord } from '../../src/audit/record.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { ensureBuilt, kms } from './helpers.js';

type Entry = Record<string, unknown> & { seq: number; prev: string; kind: string };

let srv: TestKms;
let n = 0;
const scratch: string[] = [];

beforeAll(async () => {
  ensureBuilt();
  srv = await startTestKms({ audit: { checkpointEvery: 5 } });
  const alice = new Session(await srv.client('alice'), V2_1);
  for (let i = 0; i < 6; i++) {
    const uid = uniqueIdentifierOf(
      await alice.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: CryptographicUsageMask.Encrypt, name: `t-${i}` })),
    );
    await alice.ok(Operation.Get, getPayload(uid));
  }
  await alice.ok(Operation.Locate, locatePayload(V2_1, [attr.name('t-1')]));
  await srv.stop();
  n = (await load(srv.dataDir)).length;
});
afterAll(async () => {
  await srv?.dispose();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
});

const key = (seq: number) => seq.toString(16).padStart(16, '0');
/** An entry's stored bytes, in the format it was read in (its `v`). */
const enc = (e: Entry) => encodeRecord(e as unknown as AuditRecord);

function openDb(dir: string) {
  const db = new ClassicLevel<string, string>(join(dir, 'db'), { keyEncoding: 'utf8', valueEncoding: 'utf8' });
  return {
    db,
    audit: db.sublevel<string, Buffer>('a', { keyEncoding: 'utf8', valueEncoding: 'buffer' }),
    meta: db.sublevel<string, string>('m', { keyEncoding: 'utf8', valueEncoding: 'utf8' }),
  };
}

async function load(dir: string): Promise<Entry[]> {
  const { db, audit } = openDb(dir);
  await db.open();
  try {
    return (await audit.values().all()).map((v) => decodeRecord(v) as unknown as Entry);
  } finally {
    await db.close();
  }
}

/** A copy of the clean data folder, changed by `f` (given the audit and meta sublevels). */
async function tampered(f: (s: ReturnType<typeof openDb>, entries: Entry[]) => Promise<void>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'kms-tamper-'));
  scratch.push(dir);
  cpSync(srv.dataDir, dir, { recursive: true });
  const entries = await load(dir);
  const s = openDb(dir);
  await s.db.open();
  try {
    await f(s, entries);
  } finally {
    await s.db.close();
  }
  return dir;
}

/** The attacker's rewrite: renumber, re-hash every `prev`, fix checkpoint heads, and the store's head. */
async function rewriteChained(s: ReturnType<typeof openDb>, entries: Entry[]): Promise<void> {
  await s.audit.clear();
  const links: Buffer[] = [Buffer.alloc(0)];
  for (const [i, e] of entries.entries()) {
    const seq = i + 1;
    const rec: Entry = { ...e, seq, prev: links[seq - 1]!.toString('hex') };
    if (rec.kind === 'checkpoint') {
      const covers = Math.min(Number(rec.covers), seq - 1);
      rec.covers = covers;
      rec.head = links[covers]!.toString('hex');
    }
    const bytes = enc(rec);
    links.push(sha256(bytes));
    await s.audit.put(key(seq), bytes);
  }
  await s.meta.put('audit-head', `${entries.length} ${links[entries.length]!.toString('hex')}`);
}

function expectBroken(dir: string, where: RegExp): string {
  const r = kms('audit', 'verify', '--data-dir', dir);
  expect(r.code, r.stdout + r.stderr).toBe(1);
  expect(r.stdout).toMatch(/^BROKEN at position \d+/);
  expect(r.stdout).toMatch(where);
  return r.stdout;
}

const firstCheckpointAfter = (entries: Entry[], seq: number) => entries.find((e) => e.kind === 'checkpoint' && e.seq > seq)!.seq;

describe('kms audit verify', () => {
  it('a clean log verifies (exit 0), with progress output for long runs', async () => {
    expect(n).toBeGreaterThan(14);
    const r = kms('audit', 'verify', '--data-dir', srv.dataDir, '--progress', '5');
    expect(r.stdout, r.stderr).toMatch(new RegExp(`^OK: ${n} entries, \\d+ checkpoints`));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^verified 5 of ${n} entries .*\nverified 10 of ${n} entries`));
  });

  it("edit: a changed field breaks the next entry's link", async () => {
    const dir = await tampered(async (s, e) => {
      await s.audit.put(key(3), enc({ ...e[2]!, op: 'Gex' }));
    });
    expectBroken(dir, /position 4 \(entry 4\): hash chain broken: prev does not match entry 3/);
  });

  it('edit, chain rebuilt: the next checkpoint no longer matches', async () => {
    const dir = await tampered(async (s, e) =>
      rewriteChained(
        s,
        e.map((x) => (x.seq === 3 ? { ...x, client: 'mallory' } : x)),
      ),
    );
    const cp = firstCheckpointAfter(await load(srv.dataDir), 3);
    expectBroken(dir, new RegExp(`position ${cp} \\(entry ${cp}\\): checkpoint MAC does not verify`));
  });

  it('delete: the missing position is named', async () => {
    const dir = await tampered(async (s) => s.audit.del(key(7)));
    expectBroken(dir, /position 7 \(entry 8\): entry 7 is missing/);
  });

  it('delete, chain rebuilt: the next checkpoint gives it away', async () => {
    const dir = await tampered(async (s, e) =>
      rewriteChained(
        s,
        e.filter((x) => x.seq !== 2),
      ),
    );
    expectBroken(dir, /checkpoint (MAC does not verify|head does not match)/);
  });

  it('insert: a forged entry between two others', async () => {
    const dir = await tampered(async (s, e) => rewriteChained(s, [...e.slice(0, 4), { ...e[1]!, ref: 'forged' }, ...e.slice(4)]));
    expectBroken(dir, /checkpoint (MAC does not verify|head does not match)/);
    const naive = await tampered(async (s, e) => {
      // Without re-numbering there is no free key; shift everything after 4 by one.
      for (let i = e.length; i >= 5; i--) await s.audit.put(key(i + 1), enc(e[i - 1]!));
      await s.audit.put(key(5), enc({ ...e[1]!, seq: 5 }));
    });
    expectBroken(naive, /position 5 \(entry 5\): hash chain broken/);
  });

  it('reorder: two entries swapped', async () => {
    const dir = await tampered(async (s, e) => {
      await s.audit.put(key(3), enc(e[3]!));
      await s.audit.put(key(4), enc(e[2]!));
    });
    expectBroken(dir, /position 3 \(entry 3\): entry says it is number 4: moved or reordered/);
    const chained = await tampered(async (s, e) => rewriteChained(s, [...e.slice(0, 2), e[3]!, e[2]!, ...e.slice(4)]));
    expectBroken(chained, /checkpoint MAC does not verify/);
  });

  it('truncate then append: forged entries after a cut are not covered by any checkpoint', async () => {
    const cut = 8;
    const dir = await tampered(async (s, e) => {
      const kept = e.slice(0, cut);
      const forged = [1, 2, 3].map((i) => ({ ...e[1]!, ref: `forged-${i}` }));
      await rewriteChained(s, [...kept, ...forged]);
    });
    const lastCheckpointBefore = (await load(srv.dataDir)).filter((e) => e.kind === 'checkpoint' && e.seq <= cut).map((e) => Number(e.covers));
    const sealed = Math.max(0, ...lastCheckpointBefore);
    expectBroken(dir, new RegExp(`entries ${sealed + 1}\\.\\.${cut + 3} are not covered by a checkpoint`));
  });

  it('truncate then append a forged checkpoint: its MAC fails', async () => {
    const dir = await tampered(async (s, e) => {
      const kept = e.slice(0, 8);
      const cp = e.find((x) => x.kind === 'checkpoint')!;
      await rewriteChained(s, [...kept, { ...e[1]!, ref: 'forged' }, { ...cp, covers: 9, why: 'shutdown' }]);
    });
    expectBroken(dir, /position 10 \(entry 10\): checkpoint MAC does not verify/);
  });

  it('truncate only (the tail cut at an entry that is not a checkpoint): the store head and the seal disagree', async () => {
    const dir = await tampered(async (s) => {
      for (let i = n; i > n - 3; i--) await s.audit.del(key(i));
    });
    expectBroken(dir, /not covered by a checkpoint|head says/);
  });
});
