/**
 * Backup and restore with the software backend, end to end: `kms init` makes the folder
 * (an RSA recovery key and 2-of-3 shares), a real server serves clients over mTLS, `kms
 * backup` takes a backup of the RUNNING server through its admin socket while three
 * clients keep creating keys, `kms backup verify` checks it, `kms restore` fills a new
 * folder with a new master key, and a server started on the restored folder returns the
 * same key bytes (Get over mTLS), attributes and state for every object; `kms audit
 * verify` passes on it, before and after the restored server has run. Also: the
 * snapshot is consistent (the objects are exactly those whose Create/Register is in the
 * backed-up audit log), and the refusals (non-empty target, tampered file, wrong key,
 * too few shares) leave nothing behind.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeRecord } from '../../src/audit/record.js';
import { LevelStore } from '../../src/store/leveldb/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { createAes, ensureBuilt, keyBytes, kmsAsync, kmsHere, kmsSync, populate, recordsOf, recoveryKeys } from './kit.js';

const work = mkdtempSync(join(tmpdir(), 'kms-backup-e2e-'));
const dataDir = join(work, 'data');
const sharesDir = join(work, 'shares');
const backupFile = join(work, 'running.kbk');
const restored = join(work, 'restored');
let keys: ReturnType<typeof recoveryKeys>;
let srv: TestKms | undefined;
let initial: string[] = [];
/** Every uid a writer got acknowledged, during the backup included. */
const acked: string[] = [];
let backupOut: { code: number; stdout: string; stderr: string };

beforeAll(async () => {
  ensureBuilt();
  keys = recoveryKeys(work);
  const init = kmsSync(['init', '--data-dir', dataDir, '--recovery-key', keys.rsaPub, '--shares', '3', '--threshold', '2', '--shares-out', sharesDir]);
  expect(init.stderr).toBe('');
  expect(init.code).toBe(0);
  srv = await startTestKms({ audit: { checkpointEvery: 7 } }, { dataDir });
  const c = await srv.client();
  initial = await populate(c);

  // Three writers keep creating keys while the backup is taken.
  let stop = false;
  const writers = await Promise.all([srv.client(), srv.client('alice'), srv.client('bob')]);
  const loops = writers.map(async (w) => {
    const s = new Session(w, V2_1);
    while (!stop) acked.push(await createAes(s));
  });
  while (acked.length < 10) await new Promise((r) => setTimeout(r, 10));
  backupOut = await kmsAsync(['backup', '--out', backupFile, '--data-dir', dataDir]);
  const duringBackup = acked.length;
  while (acked.length < duringBackup + 10) await new Promise((r) => setTimeout(r, 10));
  stop = true;
  await Promise.all(loops);
  await srv.stop();
}, 120_000);

afterAll(async () => {
  await srv?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('kms init', async () => {
  it('made the folder: master key 0600, config without secrets, recovery keys, certificates, share files 0600', async () => {
    expect(statSync(join(dataDir, 'master.key')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dataDir, 'kms.json'), 'utf8'))).toEqual({ dataDir });
    const rec = JSON.parse(readFileSync(join(dataDir, 'recovery.json'), 'utf8')) as { recipients: { kind: string; shares?: unknown }[] };
    expect(rec.recipients.map((r) => r.kind)).toEqual(['rsa-oaep-sha256', 'ecies-p256']);
    expect(rec.recipients[1]!.shares).toMatchObject({ threshold: 2, total: 3 });
    expect(JSON.stringify(rec)).not.toMatch(/PRIVATE/);
    expect(existsSync(join(dataDir, 'certs', 'ca.pem'))).toBe(true);
    expect(readdirSync(sharesDir).sort()).toEqual(['share-1-of-3.json', 'share-2-of-3.json', 'share-3-of-3.json']);
    for (const f of readdirSync(sharesDir)) expect(statSync(join(sharesDir, f)).mode & 0o777).toBe(0o600);
  });

  it('refuses an initialised folder (4), bad usage (2), and leaves a failed init without traces', async () => {
    const again = await kmsHere(['init', '--data-dir', dataDir, '--recovery-key', keys.rsaPub]);
    expect(again.code).toBe(4);
    expect(again.stderr).toMatch(/not empty/);
    const fresh = join(work, 'fresh');
    expect((await kmsHere(['init', '--data-dir', fresh])).code).toBe(2); // no recovery setup
    expect((await kmsHere(['init', '--data-dir', fresh, '--shares', '3', '--threshold', '4', '--shares-out', join(work, 's2')])).code).toBe(2);
    expect((await kmsHere(['init', '--data-dir', fresh, '--shares', '3', '--threshold', '2', '--shares-out', join(fresh, 'inside')])).code).toBe(2);
    // A weak RSA key is refused.
    const weak = join(work, 'weak.pub');
    writeFileSync(weak, generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }));
    expect((await kmsHere(['init', '--data-dir', fresh, '--recovery-key', weak])).code).toBe(2);
    expect(existsSync(fresh)).toBe(false);
    expect((await kmsHere(['init', '--help'])).stdout).toMatch(/--shares-out/);
  });
});

describe('backup of a running server while clients write', async () => {
  it('was taken by the server itself, with progress on stderr', async () => {
    expect(backupOut.stderr).toMatch(/taken by the running server/);
    expect(backupOut.code).toBe(0);
    expect(backupOut.stdout).toMatch(/^backup [0-9a-f]{32}: \d+ objects, \d+ client registry entries, \d+ audit entries, \d+ bytes/);
    expect(statSync(backupFile).mode & 0o777).toBe(0o600);
  });

  it('verifies with the RSA recovery key and with 2 of 3 shares; 1 share, a stranger key: refused (4)', async () => {
    const v = await kmsHere(['backup', 'verify', backupFile, '--recovery-key', keys.rsaKey]);
    expect(v.stdout, v.stderr).toMatch(/^OK: backup [0-9a-f]{32} of .*: \d+ objects, \d+ client registry entries, \d+ audit entries .* every chunk authenticated/);
    expect(v.code).toBe(0);
    const two = await kmsHere(['backup', 'verify', backupFile, '--share', join(sharesDir, 'share-3-of-3.json'), '--share', join(sharesDir, 'share-1-of-3.json')]);
    expect(two.code).toBe(0);
    const one = await kmsHere(['backup', 'verify', backupFile, '--share', join(sharesDir, 'share-2-of-3.json')]);
    expect(one.code).toBe(4);
    expect(one.stderr).toMatch(/1 distinct share\(s\) given, 2 of 3 are needed/);
    const stranger = await kmsHere(['backup', 'verify', backupFile, '--recovery-key', keys.ecKey]);
    expect(stranger.code).toBe(4);
    expect(stranger.stderr).toMatch(/not a recipient/);
  });
});

describe('restore', async () => {
  let original: Map<string, string>;
  let after: Map<string, string>;
  beforeAll(async () => {
    const r = kmsSync(['restore', '--in', backupFile, '--data-dir', restored, '--share', join(sharesDir, 'share-1-of-3.json'), '--share', join(sharesDir, 'share-2-of-3.json')]);
    expect(r.stderr).toMatch(/restore \(verify\): objects \d+\/\d+/);
    expect(r.stderr).toMatch(/restore \(write\): audit \d+\/\d+/);
    expect(r.code, r.stderr).toBe(0);
    original = await recordsOf(dataDir);
    after = await recordsOf(restored);
  });

  it('is a consistent snapshot: the objects are exactly those whose Create/Register is in the restored log', async () => {
    const store = new LevelStore({ path: join(restored, 'db') });
    await store.open();
    const created = new Set<string>();
    const backups: unknown[] = [];
    try {
      for (const e of await store.audit.read(1, 1_000_000)) {
        const r = decodeRecord(e.bytes);
        if (r.kind === 'op' && r.op === 'Backup') backups.push({ client: r.client, status: r.status });
        if (r.kind === 'op' && (r.op === 'Create' || r.op === 'Register') && r.status === 'Success') for (const u of r.uids ?? []) created.add(u);
      }
    } finally {
      await store.close();
    }
    expect([...after.keys()].sort()).toEqual([...created].sort());
    // The backup is itself in the log it carries: who took it.
    expect(backups).toEqual([{ client: 'local-operator', status: 'Success' }]);
    for (const u of initial) expect(after.has(u)).toBe(true);
    // Writers kept going after the backup: the original has more.
    expect(original.size).toBeGreaterThan(after.size);
    expect(acked.filter((u) => after.has(u)).length).toBeGreaterThanOrEqual(10);
  });

  it('every object has the same type, owner, state and attributes (in order) as in the original', async () => {
    for (const [uid, rec] of after) expect(rec, uid).toBe(original.get(uid));
  });

  it('a new master key seals everything: no sealed body or key file is shared with the original', async () => {
    expect(readFileSync(join(restored, 'master.key')).equals(readFileSync(join(dataDir, 'master.key')))).toBe(false);
    const store = new LevelStore({ path: join(restored, 'db') });
    await store.open();
    const kekIds = new Set<string | undefined>();
    try {
      const snap = await store.snapshot();
      for await (const r of snap.records()) if (r.sealedBody) kekIds.add(r.kekId);
      await snap.close();
    } finally {
      await store.close();
    }
    expect(kekIds.size).toBe(1);
    expect([...kekIds][0]).toMatch(/^sw:/);
  });

  it('kms audit verify passes on the restored folder, through the restore anchor', async () => {
    const v = await kmsHere(['audit', 'verify', '--data-dir', restored]);
    expect(v.stdout, v.stderr).toMatch(/^OK: \d+ entries/);
    expect(v.stdout).toMatch(/restored: entries 1\.\.\d+ were imported from backup [0-9a-f]{32}/);
    expect(v.code).toBe(0);
    // The old folder's verify still passes too (its key, its chain).
    expect((await kmsHere(['audit', 'verify', '--data-dir', dataDir])).code).toBe(0);
  });

  it('a server on the restored folder returns the same key bytes over mTLS for every object, and keeps a verifiable log', async () => {
    const orig = await startTestKms({}, { dataDir });
    const copy = await startTestKms({}, { dataDir: restored });
    try {
      const [a, b] = await Promise.all([orig.client(), copy.client()]);
      const [aa, ba] = await Promise.all([orig.client('alice'), copy.client('alice')]);
      let compared = 0;
      for (const uid of after.keys()) {
        // Keys created by alice are alice's: ask as their owner.
        const owner = after.get(uid)!.includes(Buffer.from('alice').toString('hex')) ? [aa, ba] : [a, b];
        const want = await keyBytes(owner[0]!, uid);
        expect(await keyBytes(owner[1]!, uid), uid).toBe(want);
        if (!want.startsWith('failed')) compared++;
      }
      expect(compared).toBeGreaterThan(10);
      // The admin socket: only the server's user can reach it, and it does one thing.
      const sock = join(restored, 'admin', 'kms.sock');
      expect(statSync(sock).mode & 0o777).toBe(0o600);
      expect(statSync(join(restored, 'admin')).mode & 0o777).toBe(0o700);
      const answer = await new Promise<string>((resolve, reject) => {
        let got = '';
        const s = createConnection(sock, () => s.write('{"op":"delete-everything"}\n'));
        s.on('data', (d) => (got += String(d)));
        s.on('end', () => resolve(got));
        s.on('error', reject);
      });
      expect(JSON.parse(answer)).toEqual({ ok: false, error: 'unknown request' });
      await createAes(new Session(b, V2_1), 'after-restore');
    } finally {
      await orig.stop();
      await copy.stop();
    }
    expect(existsSync(join(restored, 'admin', 'kms.sock'))).toBe(false); // removed at shutdown
    const v = await kmsHere(['audit', 'verify', '--data-dir', restored]);
    expect(v.code, v.stdout).toBe(0);
    expect(v.stdout).toMatch(/restored: /);
  });
});

describe('restore refusals leave nothing behind', async () => {
  const noStaging = () => expect(readdirSync(work).filter((f) => f.includes('.restoring-'))).toEqual([]);

  it('a non-empty target: exit 4, untouched', async () => {
    const target = join(work, 'occupied');
    mkdirSync(target);
    writeFileSync(join(target, 'something'), 'x');
    const r = await kmsHere(['restore', '--in', backupFile, '--data-dir', target, '--recovery-key', keys.rsaKey]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/not empty/);
    expect(readdirSync(target)).toEqual(['something']);
    noStaging();
  });

  it('a flipped byte (middle of the file) or a truncated file: exit 1, no target, no staging folder', async () => {
    const bytes = readFileSync(backupFile);
    const flipped = Buffer.from(bytes);
    flipped[Math.floor(bytes.length / 2)]! ^= 0x01;
    const bad = join(work, 'flipped.kbk');
    writeFileSync(bad, flipped);
    const target = join(work, 'never');
    const r = await kmsHere(['restore', '--in', bad, '--data-dir', target, '--recovery-key', keys.rsaKey]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/fails authentication/);
    const cut = join(work, 'cut.kbk');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    const t = await kmsHere(['restore', '--in', cut, '--data-dir', target, '--recovery-key', keys.rsaKey]);
    expect(t.code).toBe(1);
    expect(existsSync(target)).toBe(false);
    expect((await kmsHere(['backup', 'verify', bad, '--recovery-key', keys.rsaKey])).code).toBe(1);
    noStaging();
  });

  it('a wrong key: exit 4; an empty existing target is accepted by a good restore', async () => {
    const target = join(work, 'empty-target');
    mkdirSync(target);
    expect((await kmsHere(['restore', '--in', backupFile, '--data-dir', target, '--recovery-key', keys.ecKey])).code).toBe(4);
    expect(readdirSync(target)).toEqual([]);
    expect((await kmsHere(['restore', '--in', backupFile, '--data-dir', target, '--recovery-key', keys.rsaKey])).code).toBe(0);
    expect(readdirSync(target).sort()).toEqual(['certs', 'custody.json', 'db', 'kms.json', 'master.key', 'recovery.json']);
    noStaging();
  });
});

describe('backup of a stopped folder', async () => {
  it('reads the folder directly, and restores to the same objects', async () => {
    const out = join(work, 'stopped.kbk');
    const b = await kmsHere(['backup', '--out', out, '--data-dir', restored]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/backup: objects \d+\/\d+/);
    expect((await kmsHere(['backup', '--out', out, '--data-dir', restored])).code).toBe(2); // exists
    const again = join(work, 'restored-twice');
    // The restored folder carries the recovery setup: the same RSA key opens its backups.
    expect((await kmsHere(['restore', '--in', out, '--data-dir', again, '--recovery-key', keys.rsaKey])).code).toBe(0);
    const a = await recordsOf(restored);
    const c = await recordsOf(again);
    expect([...c.entries()]).toEqual([...a.entries()]);
    // Two restores deep: the older anchor is now an imported checkpoint, vouched for by the new one.
    const v = await kmsHere(['audit', 'verify', '--data-dir', again]);
    expect(v.code, v.stdout).toBe(0);
  });
});
