/**
 * KEK custody per data folder (src/folder/custody.ts, docs/custody.md) with real SoftHSM2
 * tokens: a start refused on a locked folder makes nothing in the token; two folders on one
 * token each record (and use) their own KEK and audit key; rotate-kek --destroy-old on one
 * destroys only its own retired KEKs; a configured protector other than the folder's is
 * refused with exit 6 (software vs HSM, another token); a folder without a custody record
 * adopts only the KEK its own data names; a readable config holding the PIN is warned about.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSymmetricKeyPayload, getPayload, keyMaterialOf, uniqueIdentifierOf } from '../../src/client/index.js';
import { DEFAULT_CONFIG, type KmsConfig } from '../../src/config/config.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { readCustody, type HsmCustody } from '../../src/folder/custody.js';
import { FOLDER_FILES } from '../../src/folder/layout.js';
import { Pkcs11Backend } from '../../src/hsm/pkcs11/pkcs11-backend.js';
import { startKms } from '../../src/server/bootstrap.js';
import { LevelStore } from '../../src/store/leveldb/index.js';
import { CERTS, startTestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { ensureBuilt, KMS } from '../audit/helpers.js';
import { createSoftHsmToken } from './softhsm.js';

const token = createSoftHsmToken('kms-custody');
execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'kms-custody-b', '--so-pin', token.soPin, '--pin', token.pin], {
  env: { ...process.env, SOFTHSM2_CONF: token.conf },
  stdio: 'pipe',
});
const hsmA = { module: token.module, tokenLabel: token.label, pin: token.pin };
const hsmB = { module: token.module, tokenLabel: 'kms-custody-b', pin: token.pin };
const root = mkdtempSync(join(tmpdir(), 'kms-custody-'));
const f1 = join(root, 'f1');
const f2 = join(root, 'f2');
const keys = new Map<string, { dir: string; hex: string }>();

async function tokenKeys(hsm: typeof hsmA): Promise<{ label: string; id: string }[]> {
  const b = await Pkcs11Backend.open(hsm);
  try {
    return (await b.findKeys({ token: true })).map((k) => ({ label: k.label ?? '', id: k.id })).sort((a, b) => a.label.localeCompare(b.label));
  } finally {
    await b.close();
  }
}

/** Start on `dir` with `hsm`, make one key (remembered), stop. */
async function startAndCreate(dir: string, hsm: typeof hsmA | undefined): Promise<string> {
  const srv = await startTestKms(hsm ? { hsm } : {}, { dataDir: dir });
  try {
    const s = new Session(await srv.client(), V2_1);
    const uid = uniqueIdentifierOf(await s.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: 12 })));
    keys.set(uid, { dir, hex: Buffer.from(keyMaterialOf(await s.ok(Operation.Get, getPayload(uid)))).toString('hex') });
    return uid;
  } finally {
    await srv.stop();
  }
}

/** Start on `dir` and read every remembered key of that folder: bytes as first read. */
async function readsBack(dir: string, hsm: typeof hsmA): Promise<void> {
  const srv = await startTestKms({ hsm }, { dataDir: dir });
  try {
    const s = new Session(await srv.client(), V2_1);
    const mine = [...keys].filter(([, v]) => v.dir === dir);
    expect(mine.length).toBeGreaterThan(0);
    for (const [uid, v] of mine) expect(Buffer.from(keyMaterialOf(await s.ok(Operation.Get, getPayload(uid)))).toString('hex'), uid).toBe(v.hex);
  } finally {
    await srv.stop();
  }
}

/** `kms serve` on `dir` with env; it must refuse to start (a start that succeeds is killed after the timeout and fails the test). */
function serve(dir: string, env: Record<string, string>): { code: number | null; stderr: string } {
  const r = spawnSync(
    process.execPath,
    [KMS, 'serve', '--data-dir', dir, '--port', '0', '--cert', join(CERTS, 'server.pem'), '--key', join(CERTS, 'server.key'), '--ca', join(CERTS, 'ca.pem')],
    {
      timeout: 30_000,
      env: { ...process.env, KMS_CONFIG: '', KMS_LOG_LEVEL: 'error', ...env },
    },
  );
  return { code: r.status, stderr: r.stderr.toString() };
}

const hsmEnv = (h: typeof hsmA) => ({ KMS_HSM_MODULE: h.module, KMS_HSM_TOKEN_LABEL: h.tokenLabel, KMS_HSM_PIN: h.pin });

beforeAll(() => ensureBuilt());
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  token.cleanup();
});

describe('KEK custody per data folder', () => {
  it('a start refused because the folder is locked makes nothing in the token', async () => {
    const dir = join(root, 'locked');
    mkdirSync(dir, { recursive: true });
    const holder = new LevelStore({ path: join(dir, 'db') });
    await holder.open();
    try {
      await expect(startTestKms({ hsm: hsmA }, { dataDir: dir })).rejects.toThrow(/in use|lock/i);
    } finally {
      await holder.close();
    }
    expect(await tokenKeys(hsmA)).toEqual([]);
  });

  it('two folders on one token each record and use their own KEK and audit key (label and CKA_ID)', async () => {
    await startAndCreate(f1, hsmA);
    await startAndCreate(f2, hsmA);
    const c1 = readCustody(f1)!.protector as HsmCustody;
    const c2 = readCustody(f2)!.protector as HsmCustody;
    expect(c1.kind).toBe('hsm');
    expect(c1.token.label).toBe('kms-custody');
    expect(c1.keks).toHaveLength(1);
    expect(c1.keks[0]!.label).not.toBe(c2.keks[0]!.label);
    expect(c1.keks[0]!.id).not.toBe(c2.keks[0]!.id);
    expect(c1.auditKey.label).not.toBe(c2.auditKey.label);
    // What the folders recorded is exactly what the token holds: 2 KEKs, 2 audit keys.
    const onToken = await tokenKeys(hsmA);
    expect(onToken).toHaveLength(4);
    for (const k of [c1.keks[0]!, c2.keks[0]!, c1.auditKey, c2.auditKey]) expect(onToken).toContainEqual({ label: k.label, id: k.id });
  });

  it('rotate-kek --destroy-old on one folder destroys only its own retired KEK; the other folder keeps reading', async () => {
    const config = join(root, 'f1.json');
    writeFileSync(config, JSON.stringify({ dataDir: f1, hsm: hsmA }));
    const old1 = (readCustody(f1)!.protector as HsmCustody).keks[0]!;
    const kek2 = (readCustody(f2)!.protector as HsmCustody).keks[0]!;
    const r = spawnSync(process.execPath, [KMS, 'hsm', 'rotate-kek', '--config', config, '--destroy-old'], { timeout: 60_000, env: { ...process.env, KMS_CONFIG: '' } });
    expect(r.status, r.stderr.toString()).toBe(0);
    expect(r.stdout.toString()).toContain(`destroyed: hsm:${old1.label}`);
    const after = await tokenKeys(hsmA);
    expect(after).toContainEqual({ label: kek2.label, id: kek2.id });
    expect(after.map((k) => k.label)).not.toContain(old1.label);
    const c1 = readCustody(f1)!.protector as HsmCustody;
    expect(c1.keks.map((k) => [k.label, k.state])).toEqual([
      [old1.label, 'destroyed'],
      [expect.stringMatching(/^kms-kek-/), 'current'],
    ]);
    await readsBack(f2, hsmA);
    await readsBack(f1, hsmA);
  });

  it('refuses (exit 6) a protector other than the folder is sealed under: HSM on a software folder, software on an HSM folder, another token', async () => {
    const sw = join(root, 'sw');
    await startAndCreate(sw, undefined);
    const before = await tokenKeys(hsmB);
    const a = serve(sw, hsmEnv(hsmB));
    expect(a.code, a.stderr).toBe(6);
    expect(a.stderr).toMatch(/is sealed under the software master key \(sw:[0-9a-f]+\), but the configuration gives PKCS#11 token "kms-custody-b"/);
    expect(a.stderr).toMatch(/kms protector migrate/);
    const b = serve(f1, {});
    expect(b.code, b.stderr).toBe(6);
    expect(b.stderr).toMatch(/is sealed under KEK kms-kek-[0-9a-f]+ in PKCS#11 token "kms-custody" \(serial [0-9a-f]+\), but the configuration gives the software master key/);
    const c = serve(f1, hsmEnv(hsmB));
    expect(c.code, c.stderr).toBe(6);
    expect(c.stderr).toMatch(/but the configuration gives PKCS#11 token "kms-custody-b" \(serial [0-9a-f]+\)/);
    // Nothing was made in the other token by the refused starts, and the software folder made no master key anew.
    expect(await tokenKeys(hsmB)).toEqual(before);
    // kms audit verify with the wrong protector says why, instead of a broken chain.
    const v = spawnSync(process.execPath, [KMS, 'audit', 'verify', '--data-dir', f1], { timeout: 60_000, env: { ...process.env, KMS_CONFIG: '' } });
    expect(v.status).toBe(3);
    expect(v.stderr.toString()).toMatch(/is sealed under KEK/);
  });

  it('a folder made before custody records adopts only the KEK its own records name, never another kms-kek-* on the token', async () => {
    const recorded = readCustody(f2)!.protector as HsmCustody;
    rmSync(join(f2, FOLDER_FILES.custody)); // as an older version left it
    // The token holds f1's KEK too: older versions refused ("2 candidate KEKs") or took whichever was there.
    expect((await tokenKeys(hsmA)).filter((k) => k.label.startsWith('kms-kek-')).length).toBeGreaterThan(1);
    await readsBack(f2, hsmA);
    const c = readCustody(f2)!;
    expect(c.origin).toMatch(/^adopted .*sealed records name kms-kek-[0-9a-f]+ \(1\); the newest audit checkpoint names kms-audit-/);
    const p = c.protector as HsmCustody;
    expect(p.keks.map((k) => ({ label: k.label, id: k.id, state: k.state }))).toEqual([{ label: recorded.keks[0]!.label, id: recorded.keks[0]!.id, state: 'current' }]);
    expect({ label: p.auditKey.label, id: p.auditKey.id }).toEqual({ label: recorded.auditKey.label, id: recorded.auditKey.id });
  });

  it('rotate-kek --destroy-old never destroys an adopted KEK (an older version may have shared it with another folder)', async () => {
    const adopted = (readCustody(f2)!.protector as HsmCustody).keks[0]!;
    const config = join(root, 'f2.json');
    writeFileSync(config, JSON.stringify({ dataDir: f2, hsm: hsmA }));
    const r = spawnSync(process.execPath, [KMS, 'hsm', 'rotate-kek', '--config', config, '--destroy-old'], { timeout: 60_000, env: { ...process.env, KMS_CONFIG: '' } });
    expect(r.status, r.stderr.toString()).toBe(0);
    expect(r.stdout.toString()).toMatch(new RegExp(`kept \\(.*adopted from before custody records.*\\): hsm:${adopted.label}`));
    expect(await tokenKeys(hsmA)).toContainEqual({ label: adopted.label, id: adopted.id });
    expect((readCustody(f2)!.protector as HsmCustody).keks.map((k) => k.state)).toEqual(['retired', 'current']);
    await readsBack(f2, hsmA);
  });

  it('warns when the config file holding the PIN is readable by group or others', async () => {
    const dir = join(root, 'pin');
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    const file = join(root, 'pin.json');
    writeFileSync(file, JSON.stringify({ hsm: hsmA }));
    const config: KmsConfig = { ...DEFAULT_CONFIG, port: 0, dataDir: dir, cert: join(CERTS, 'server.pem'), key: join(CERTS, 'server.key'), ca: join(CERTS, 'ca.pem'), hsm: hsmA };
    for (const mode of [0o644, 0o600]) {
      chmodSync(file, mode);
      lines.length = 0;
      const kms = await startKms(config, { log, configFile: file });
      await kms.close();
      const warned = lines.map((l) => JSON.parse(l) as { msg: string; file?: string }).filter((l) => /holds the HSM PIN/.test(l.msg));
      if (mode === 0o644) expect(warned.map((w) => [w.file, w.msg])).toEqual([[file, 'the config file holds the HSM PIN and is readable by everyone: chmod 600 it']]);
      else expect(warned).toEqual([]);
    }
    expect(JSON.parse(readFileSync(join(dir, FOLDER_FILES.custody), 'utf8')).protector.kind).toBe('hsm');
  });
});
