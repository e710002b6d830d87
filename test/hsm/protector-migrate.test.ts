/**
 * `kms protector migrate` with real SoftHSM2 tokens (src/folder/protector-migration.ts, docs/custody.md):
 * a software folder moved offline to a token after an interrupted first attempt (resumed);
 * a running software server moved online while a client keeps reading; a folder moved from
 * one token to another. After each: every key reads back with its bytes under the new KEK,
 * `kms audit verify` with the new configuration passes, and the old configuration is refused.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSymmetricKeyPayload, getPayload, keyMaterialOf, uniqueIdentifierOf } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { openFolderKeys, readCustody, type HsmCustody } from '../../src/folder/custody.js';
import type { KeyProtector } from '../../src/hsm/key-protector.js';
import { migrateProtector } from '../../src/folder/protector-migration.js';
import { kekUsage } from '../../src/folder/kek-rotation.js';
import { LevelStore } from '../../src/store/leveldb/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { ensureBuilt, KMS } from '../audit/helpers.js';
import { createSoftHsmToken } from './softhsm.js';

const token = createSoftHsmToken('kms-mig-1');
execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'kms-mig-2', '--so-pin', token.soPin, '--pin', token.pin], {
  env: { ...process.env, SOFTHSM2_CONF: token.conf },
  stdio: 'pipe',
});
const hsm1 = { module: token.module, tokenLabel: token.label, pin: token.pin };
const hsm2 = { module: token.module, tokenLabel: 'kms-mig-2', pin: token.pin };
const root = mkdtempSync(join(tmpdir(), 'kms-migrate-'));

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [KMS, ...args], { timeout: 120_000, env: { ...process.env, KMS_CONFIG: '' } });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Not spawnSync: the server under test runs in this process and must keep serving meanwhile. */
function cliAsync(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KMS, ...args], { env: { ...process.env, KMS_CONFIG: '' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function configFile(name: string, o: object): string {
  const f = join(root, name);
  writeFileSync(f, JSON.stringify(o), { mode: 0o600 });
  return f;
}

async function fill(srv: TestKms, n: number): Promise<Map<string, string>> {
  const s = new Session(await srv.client(), V2_1);
  const keys = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const uid = uniqueIdentifierOf(await s.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: 12 })));
    keys.set(uid, Buffer.from(keyMaterialOf(await s.ok(Operation.Get, getPayload(uid)))).toString('hex'));
  }
  return keys;
}

async function readsBack(srv: TestKms, keys: Map<string, string>): Promise<void> {
  const s = new Session(await srv.client(), V2_1);
  for (const [uid, hex] of keys) expect(Buffer.from(keyMaterialOf(await s.ok(Operation.Get, getPayload(uid)))).toString('hex'), uid).toBe(hex);
}

async function usage(dir: string): Promise<string[]> {
  const store = new LevelStore({ path: join(dir, 'db') });
  await store.open();
  try {
    return [...(await kekUsage(store)).keys()];
  } finally {
    await store.close();
  }
}

beforeAll(() => ensureBuilt());
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  token.cleanup();
});

describe('kms protector migrate', () => {
  const dir = join(root, 'offline');
  let keys: Map<string, string>;

  it('an interrupted migration from the software master key refuses starts, and running it again finishes it offline', async () => {
    const srv = await startTestKms({ audit: { checkpointEvery: 7 } }, { dataDir: dir });
    keys = await fill(srv, 30);
    await srv.stop();

    // First attempt: the old protector fails after 10 bodies (as a crash or an I/O error would).
    const store = new LevelStore({ path: join(dir, 'db') });
    await store.open();
    const old = await openFolderKeys({ dataDir: dir, store, create: false });
    let opened = 0;
    const flaky: KeyProtector = {
      kekId: old.protector.kekId,
      description: old.protector.description,
      seal: (u, p) => old.protector.seal(u, p),
      open: (u, s, k) => (++opened > 10 ? Promise.reject(new Error('simulated failure')) : old.protector.open(u, s, k)),
      close: () => old.protector.close(),
    };
    await expect(migrateProtector({ dataDir: dir, store, protector: flaky, auditKey: old.auditKey, to: hsm1 })).rejects.toThrow(/simulated failure/);
    await old.close();
    await store.close();
    const mid = readCustody(dir)!;
    expect(mid.protector.kind).toBe('software');
    expect(mid.migration?.phase).toBe('rewrap');
    // Rewraps commit a page at a time: the failed page left every body under the old key, whole.
    expect(await usage(dir)).toEqual([mid.protector.kind === 'software' ? mid.protector.kekId : '']);
    // The target keys were recorded (label, id), then made in the token.
    expect(mid.migration!.to.keks[0]!.made).toBe(true);
    expect(mid.migration!.to.auditKey.made).toBe(true);

    // A server is refused meanwhile, with either configuration.
    await expect(startTestKms({}, { dataDir: dir })).rejects.toMatchObject({ code: 'MIGRATING' });
    await expect(startTestKms({ hsm: hsm1 }, { dataDir: dir })).rejects.toMatchObject({ code: 'MIGRATING' });

    const target = configFile('target1.json', { dataDir: dir, hsm: hsm1 });
    const r = cli('protector', 'migrate', '--config', target);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/protector migrated \(resumed\): the software master key \(sw:[0-9a-f]+\) -> KEK kms-kek-[0-9a-f]+ in PKCS#11 token "kms-mig-1"/);
    const done = readCustody(dir)!;
    expect(done.migration).toBeUndefined();
    expect(done.protector.kind).toBe('hsm');
    expect(done.history?.map((h) => h.protector.kind)).toEqual(['software']);
    expect(await usage(dir)).toEqual([`hsm:${(done.protector as HsmCustody).keks[0]!.label}`]);

    const v = cli('audit', 'verify', '--config', target);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/^OK: \d+ entries, \d+ checkpoints \(audit key hsm:kms-audit-[0-9a-f]+\)/);
    expect(v.stdout).toMatch(/migrated: the anchor at entry \d+ .* vouches for the [1-9]\d* checkpoint\(s\) made under the earlier audit key/);

    const srv2 = await startTestKms({ hsm: hsm1 }, { dataDir: dir });
    await readsBack(srv2, keys);
    await srv2.stop();
    await expect(startTestKms({}, { dataDir: dir })).rejects.toMatchObject({ code: 'MISMATCH' });
  });

  it('moves a folder from one token to another; the audit log still verifies; the old token is refused', async () => {
    const from = configFile('from1.json', { dataDir: dir, hsm: hsm1 });
    const target = configFile('target2.json', { dataDir: dir, hsm: hsm2 });
    const r = cli('protector', 'migrate', '--config', target, '--from-config', from);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/-> KEK kms-kek-[0-9a-f]+ in PKCS#11 token "kms-mig-2"/);
    const v = cli('audit', 'verify', '--config', target);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    const srv = await startTestKms({ hsm: hsm2 }, { dataDir: dir });
    await readsBack(srv, keys);
    await srv.stop();
    await expect(startTestKms({ hsm: hsm1 }, { dataDir: dir })).rejects.toMatchObject({ code: 'MISMATCH' });
    expect(readCustody(dir)!.history?.map((h) => h.protector.kind)).toEqual(['software', 'hsm']);
  });

  it('migrates a running server from the software master key through its admin socket while a client keeps reading, then to another token', async () => {
    const live = join(root, 'online');
    let srv = await startTestKms({ audit: { checkpointEvery: 5 } }, { dataDir: live });
    const mine = await fill(srv, 25);
    const target = configFile('online.json', { dataDir: live, hsm: hsm1 });
    let stop = false;
    const failures: string[] = [];
    let reads = 0;
    const reader = (async () => {
      const s = new Session(await srv.client(), V2_1);
      const uids = [...mine.keys()];
      while (!stop) {
        const uid = uids[reads++ % uids.length]!;
        const g = await s.call(Operation.Get, getPayload(uid));
        if (g.status !== ResultStatus.Success || Buffer.from(keyMaterialOf(g.payload)).toString('hex') !== mine.get(uid)) failures.push(`${uid}: ${g.message ?? 'other bytes'}`);
        if (reads % 4 === 0) {
          const c = await s.call(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: 12 }));
          if (c.status !== ResultStatus.Success) failures.push(`Create: ${c.message}`);
        }
      }
    })();
    const r = await cliAsync('protector', 'migrate', '--config', target);
    await new Promise((res) => setTimeout(res, 200));
    stop = true;
    await reader;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/protector migrated by the running server: the software master key/);
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    expect(srv.kms.services.protector.kekId).toMatch(/^hsm:kms-kek-/);
    expect([...(await kekUsage(srv.kms.services.store)).keys()]).toEqual([srv.kms.services.protector.kekId]);
    await srv.stop();
    const v = cli('audit', 'verify', '--config', target);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(/migrated: the anchor/);
    srv = await startTestKms({ hsm: hsm1 }, { dataDir: live });
    await readsBack(srv, mine);

    // And online again, from this token to the other one.
    const target2 = configFile('online2.json', { dataDir: live, hsm: hsm2 });
    const r2 = await cliAsync('protector', 'migrate', '--config', target2);
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stdout).toMatch(/protector migrated by the running server: KEK kms-kek-[0-9a-f]+ in PKCS#11 token "kms-mig-1" .* -> KEK kms-kek-[0-9a-f]+ in PKCS#11 token "kms-mig-2"/);
    await readsBack(srv, mine);
    await srv.stop();
    const v2 = cli('audit', 'verify', '--config', target2);
    expect(v2.code, v2.stdout + v2.stderr).toBe(0);
    srv = await startTestKms({ hsm: hsm2 }, { dataDir: live });
    await readsBack(srv, mine);
    await srv.stop();
  });
});
