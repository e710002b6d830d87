/**
 * DataFolder.open() (src/folder/data-folder.ts) on real folders, a real LevelDB store and a
 * real SoftHSM2 token: the layout it opens, the lock taken before any key is made, a protector
 * that is not the recorded one refused, and the close order (the trail's shutdown checkpoint
 * and its anchors, in the file and in the token, before the store, before the token).
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { anchorFileOf } from '../../src/audit/anchor-config.js';
import { parseAnchorText, readAnchorFile } from '../../src/audit/anchor.js';
import { decodeRecord } from '../../src/audit/record.js';
import { CustodyError, custodyPath, readCustody, writeCustody as writeCustodyRecord } from '../../src/folder/custody.js';
import { DataFolder } from '../../src/folder/data-folder.js';
import { FolderError } from '../../src/folder/errors.js';
import { folderLayout } from '../../src/folder/layout.js';
import { recipientFromPem } from '../../src/backup/recovery.js';
import { writeRecoverySetup } from '../../src/folder/recovery-setup.js';
import { createSoftHsmToken } from '../hsm/softhsm.js';

const root = mkdtempSync(join(tmpdir(), 'kms-folder-'));
const token = createSoftHsmToken('kms-folder');
const hsm = { module: token.module, tokenLabel: token.label, pin: token.pin };
let n = 0;
const fresh = () => join(root, `f${++n}`);
const quiet = pino({ level: 'silent' });

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  token.cleanup();
});

async function refusal(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a refusal');
}

describe('the layout', () => {
  it('names every file of the folder once, absolute; the default anchor file is outside it, as the audit layer says', () => {
    const l = folderLayout('some/rel/dir');
    const dir = resolve('some/rel/dir');
    expect(l.dir).toBe(dir);
    expect([l.db, l.custody, l.masterKey, l.kekMarker, l.config, l.recovery, l.certs, l.adminSocket]).toEqual([
      join(dir, 'db'),
      join(dir, 'custody.json'),
      join(dir, 'master.key'),
      join(dir, 'hsm-kek.json'),
      join(dir, 'kms.json'),
      join(dir, 'recovery.json'),
      join(dir, 'certs'),
      join(dir, 'admin', 'kms.sock'),
    ]);
    expect(l.auditAnchor.startsWith(dir + '/')).toBe(false);
    expect(l.auditAnchor).toBe(anchorFileOf({ dataDir: 'some/rel/dir' }).file);
    expect(custodyPath('some/rel/dir')).toBe(l.custody);
  });

  it('a new software folder holds its store, master key (0600) and custody record, and the keys it records are the ones opened', async () => {
    const dir = fresh();
    const f = await DataFolder.open({ dataDir: dir, keys: 'create' });
    const kekId = f.protector.kekId;
    const auditKeyId = f.auditKey.id;
    expect(f.keys!.how).toBe('new');
    await f.close();
    const l = folderLayout(dir);
    expect(readdirSync(dir).sort()).toEqual(['custody.json', 'db', 'master.key']);
    expect(statSync(l.masterKey).mode & 0o777).toBe(0o600);
    expect(readCustody(dir)!.protector).toEqual({ kind: 'software', kekId, auditKeyId });
    // Opened again: the same keys, recorded.
    const again = await DataFolder.open({ dataDir: dir });
    expect([again.protector.kekId, again.auditKey.id, again.keys!.how]).toEqual([kekId, auditKeyId, 'recorded']);
    await again.close();
  });

  it('a folder without keys is not given new ones unless asked (keys: open), and read-only readers never make a database', async () => {
    const dir = fresh();
    const e = await refusal(DataFolder.open({ dataDir: dir, mustExist: true }));
    expect(e).toBeInstanceOf(FolderError);
    expect((e as FolderError).code).toBe('NO_DATABASE');
    expect(existsSync(dir)).toBe(false);
    const ro = await refusal(DataFolder.open({ dataDir: dir, store: 'read-only', keys: 'none' }));
    expect((ro as FolderError).code).toBe('NO_DATABASE');
    expect(existsSync(dir)).toBe(false);
    // A store but no keys yet: 'open' refuses and makes none.
    const bare = await DataFolder.open({ dataDir: dir, keys: 'none' });
    await bare.close();
    const none = await refusal(DataFolder.open({ dataDir: dir, keys: 'open' }));
    expect(none).toBeInstanceOf(CustodyError);
    expect((none as CustodyError).code).toBe('MISSING_KEY');
    expect(existsSync(folderLayout(dir).masterKey)).toBe(false);
    expect(existsSync(folderLayout(dir).custody)).toBe(false);
  });

  it('the recovery setup: required means refused before anything is opened; read back as written', async () => {
    const dir = fresh();
    const holder = await DataFolder.open({ dataDir: dir, keys: 'create' });
    // Another process holds the lock, but the missing recovery setup is what is reported.
    const e = await refusal(DataFolder.open({ dataDir: dir, requireRecovery: true }));
    expect((e as FolderError).code).toBe('NO_RECOVERY');
    expect(() => holder.recovery()).toThrow(/does not exist/);
    const pub = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' });
    const r = recipientFromPem(pub);
    writeRecoverySetup(holder.layout.recovery, [r]);
    expect(holder.recovery().recipients).toEqual([r]);
    expect(statSync(holder.layout.recovery).mode & 0o777).toBe(0o600);
    await holder.close();
  });
});

describe('the lock comes first', () => {
  it('a folder another opener holds is refused (IN_USE) and nothing is made: no master key, no custody record', async () => {
    const dir = fresh();
    const holder = await DataFolder.open({ dataDir: dir, keys: 'none' });
    const e = await refusal(DataFolder.open({ dataDir: dir, keys: 'create', inUse: ': ask the server' }));
    expect(e).toBeInstanceOf(FolderError);
    expect((e as FolderError).code).toBe('IN_USE');
    expect(e.message).toMatch(/in use by a running server .*: ask the server$/);
    const hsmTry = await refusal(DataFolder.open({ dataDir: dir, keys: 'create', hsm }));
    expect((hsmTry as FolderError).code).toBe('IN_USE');
    const l = folderLayout(dir);
    expect(existsSync(l.masterKey)).toBe(false);
    expect(existsSync(l.custody)).toBe(false);
    // Read-only readers are refused too (LevelDB's lock is the folder's).
    expect(((await refusal(DataFolder.open({ dataDir: dir, store: 'read-only', keys: 'none' }))) as FolderError).code).toBe('IN_USE');
    await holder.close();
    const next = await DataFolder.open({ dataDir: dir, keys: 'create' });
    expect(next.keys!.how).toBe('new');
    await next.close();
  });
});

describe('a protector that is not the recorded one', () => {
  it('a software folder opened with a token is refused (MISMATCH), and its lock is given back', async () => {
    const dir = fresh();
    const made = await DataFolder.open({ dataDir: dir, keys: 'create' });
    const kekId = made.protector.kekId;
    await made.close();
    const e = await refusal(DataFolder.open({ dataDir: dir, keys: 'create', hsm }));
    expect(e).toBeInstanceOf(CustodyError);
    expect((e as CustodyError).code).toBe('MISMATCH');
    expect(e.message).toMatch(/sealed under the software master key/);
    expect(readCustody(dir)!.protector.kind).toBe('software');
    const ok = await DataFolder.open({ dataDir: dir });
    expect(ok.protector.kekId).toBe(kekId);
    await ok.close();
  });

  it('another master key in the file is refused (MISMATCH); a token folder opened without the token too', async () => {
    const dir = fresh();
    await (await DataFolder.open({ dataDir: dir, keys: 'create' })).close();
    const l = folderLayout(dir);
    const original = readFileSync(l.masterKey);
    writeFileSync(l.masterKey, randomBytes(32), { mode: 0o600 });
    const e = await refusal(DataFolder.open({ dataDir: dir }));
    expect((e as CustodyError).code).toBe('MISMATCH');
    writeFileSync(l.masterKey, original, { mode: 0o600 });
    await (await DataFolder.open({ dataDir: dir })).close();

    const hdir = fresh();
    await (await DataFolder.open({ dataDir: hdir, keys: 'create', hsm })).close();
    const sw = await refusal(DataFolder.open({ dataDir: hdir, keys: 'create' }));
    expect((sw as CustodyError).code).toBe('MISMATCH');
    expect(existsSync(folderLayout(hdir).masterKey)).toBe(false);
  });
});

describe('a protector migration in progress', () => {
  it('refuses the folder (MIGRATING) unless the opener finishes or reads it (allowMigrating)', async () => {
    const dir = fresh();
    await (await DataFolder.open({ dataDir: dir, keys: 'create' })).close();
    const c = readCustody(dir)!;
    const to = {
      kind: 'hsm' as const,
      module: token.module,
      token: { label: token.label, serial: '0', manufacturer: 'x', model: 'y' },
      keks: [{ label: 'kms-kek-test', id: '00', made: false, since: c.created, state: 'current' as const }],
      auditKey: { label: 'kms-audit-test', id: '01', made: false },
    };
    writeCustodyRecord(dir, { ...c, migration: { id: 'm1', started: c.created, to, phase: 'rewrap' } });
    const e = await refusal(DataFolder.open({ dataDir: dir }));
    expect((e as CustodyError).code).toBe('MIGRATING');
    expect(e.message).toMatch(/kms protector migrate/);
    const reader = await DataFolder.open({ dataDir: dir, allowMigrating: true });
    expect(reader.protector.kekId).toBe((c.protector as { kekId: string }).kekId);
    await reader.close();
  });
});

describe('close', () => {
  it('closes the trail (shutdown checkpoint and anchors in the file and the token) before the store, and the store before the token', async () => {
    const dir = fresh();
    const f = await DataFolder.open({ dataDir: dir, keys: 'create', hsm });
    const trail = await f.openTrail({ log: quiet, checkpointEvery: 1000 });
    await trail.commitAlone([{ kind: 'op', time: new Date().toISOString(), ref: 'test/1', client: 'test', op: 'Test', status: 'Success' }]);
    const order: string[] = [];
    const track = (name: string, o: { close(): Promise<void> }) => {
      const close = o.close.bind(o);
      o.close = async () => {
        order.push(`${name}:start`);
        await close();
        order.push(`${name}:end`);
      };
    };
    track('trail', trail);
    track('store', f.store);
    track('protector', f.keys!.protector);
    await Promise.all([f.close(), f.close()]); // twice: one close
    expect(order).toEqual(['trail:start', 'trail:end', 'store:start', 'store:end', 'protector:start', 'protector:end']);

    // What the trail wrote before the token closed: its shutdown checkpoint, anchored in the
    // default anchor file and in the token's anchor object.
    const again = await DataFolder.open({ dataDir: dir, hsm });
    try {
      const head = again.store.audit.head().seq;
      const last = decodeRecord((await again.store.audit.read(head, 1))[0]!.bytes);
      expect(last.kind).toBe('checkpoint');
      const fileSeqs = readAnchorFile(again.layout.auditAnchor).lines.map((l) => l.line.seq);
      expect(Math.max(...fileSeqs)).toBe(head);
      const slot = again.auditKey.anchorSlot!;
      const inToken = (await slot.read()).flatMap((v) => parseAnchorText(v, slot.description).lines).map((l) => l.line.seq);
      expect(Math.max(...inToken)).toBe(head);
    } finally {
      await again.close();
    }
  });

  it('a folder opened without keys closes its store only, and hands out no keys', async () => {
    const dir = fresh();
    mkdirSync(dir);
    const f = await DataFolder.open({ dataDir: dir, keys: 'none' });
    expect(f.keys).toBeUndefined();
    expect(() => f.protector).toThrow(/without its keys/);
    await f.close();
    // The lock is free again.
    await (await DataFolder.open({ dataDir: dir, keys: 'none' })).close();
  });
});
