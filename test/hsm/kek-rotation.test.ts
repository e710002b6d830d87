/**
 * KEK rotation with a real SoftHSM2 token: `rotateKek` while clients keep creating, reading
 * and changing keys over mTLS; then every key reads back with the same bytes, every record is
 * sealed under the new KEK, the old KEK can be destroyed, and a restart finds the new KEK by
 * the data folder's marker. Then the offline `kms hsm rotate-kek --destroy-old` and
 * `kms hsm status` on the stopped folder, and the audit chain still verifies.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activatePayload, createSymmetricKeyPayload, getPayload, keyMaterialOf, uniqueIdentifierOf } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { KEK_LABEL_PREFIX } from '../../src/hsm/hsm-protector.js';
import { decodeRecord, type OpRecord } from '../../src/audit/record.js';
import { kekUsage, rotateKek } from '../../src/folder/kek-rotation.js';
import { readKekMarker } from '../../src/folder/kek-marker.js';
import { Pkcs11Backend } from '../../src/hsm/pkcs11/pkcs11-backend.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { ensureBuilt, kms, KMS } from '../audit/helpers.js';
import { spawn } from 'node:child_process';
import { createSoftHsmToken } from './softhsm.js';

const token = createSoftHsmToken('kms-rotate');
const hsm = { module: token.module, tokenLabel: token.label, pin: token.pin };
let srv: TestKms;
/** uid → key bytes as first read. */
const keys = new Map<string, string>();

async function createKey(s: Session): Promise<string> {
  const uid = uniqueIdentifierOf(await s.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: 12 })));
  keys.set(uid, Buffer.from(keyMaterialOf(await s.ok(Operation.Get, getPayload(uid)))).toString('hex'));
  return uid;
}

async function tokenKeks(): Promise<string[]> {
  const b = await Pkcs11Backend.open(hsm);
  try {
    return (await b.findKeys({ token: true }))
      .map((k) => k.label ?? '')
      .filter((l) => l.startsWith(KEK_LABEL_PREFIX))
      .sort();
  } finally {
    await b.close();
  }
}

async function expectAllKeysRead(s: Session): Promise<void> {
  for (const [uid, hex] of keys) expect(Buffer.from(keyMaterialOf(await s.ok(Operation.Get, getPayload(uid)))).toString('hex'), uid).toBe(hex);
}

beforeAll(async () => {
  ensureBuilt();
  srv = await startTestKms({ hsm, audit: { checkpointEvery: 50 } });
  const s = new Session(await srv.client(), V2_1);
  for (let i = 0; i < 60; i++) await createKey(s);
});
afterAll(async () => {
  await srv?.dispose();
  token.cleanup();
});

describe('KEK rotation while the server serves', () => {
  it('rewraps every object under a new KEK during a mixed load; no read fails and every key keeps its bytes', async () => {
    const before = srv.kms.services.protector.kekId;
    let stop = false;
    const failures: string[] = [];
    let ops = 0;
    const worker = async (n: number) => {
      const s = new Session(await srv.client(), V2_1);
      const mine: string[] = [];
      while (!stop) {
        const uids = [...keys.keys()];
        const uid = uids[(ops * 7 + n) % uids.length]!;
        const r = await s.call(Operation.Get, getPayload(uid));
        if (r.status !== ResultStatus.Success) failures.push(`Get ${uid}: ${r.message}`);
        else if (Buffer.from(keyMaterialOf(r.payload)).toString('hex') !== keys.get(uid)) failures.push(`Get ${uid}: different bytes`);
        if (ops % 5 === n) mine.push(await createKey(s));
        if (mine.length && ops % 9 === n) {
          const a = await s.call(Operation.Activate, activatePayload(mine.pop()));
          // A write racing the rewrap of the same object may be told to retry; nothing else may fail.
          if (a.status !== ResultStatus.Success && !/changed concurrently/.test(a.message ?? '')) failures.push(`Activate: ${a.message}`);
        }
        ops++;
      }
    };
    const load = [0, 1, 2].map(worker);
    await new Promise((r) => setTimeout(r, 300));
    const countBefore = keys.size;
    const r = await rotateKek({ store: srv.kms.services.store, protector: srv.kms.services.protector, dataDir: srv.dataDir, audit: srv.kms.services.audit });
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(load);

    expect(failures).toEqual([]);
    expect(ops).toBeGreaterThan(20);
    expect(keys.size).toBeGreaterThan(countBefore); // keys were created during the rotation too
    expect(r.previous).toBe(before);
    expect(r.current).not.toBe(before);
    expect(srv.kms.services.protector.kekId).toBe(r.current);
    expect(r.rewrapped).toBeGreaterThanOrEqual(60);
    expect(readKekMarker(srv.dataDir)?.label).toBe(r.current.slice('hsm:'.length));
    // Every stored body is under the new KEK now.
    expect([...(await kekUsage(srv.kms.services.store)).keys()]).toEqual([r.current]);
    await expectAllKeysRead(new Session(await srv.client(), V2_1));
  });

  it('a second rotation with destroyOld removes the retired KEKs from the token; keys still read', async () => {
    const r = await rotateKek({
      store: srv.kms.services.store,
      protector: srv.kms.services.protector,
      dataDir: srv.dataDir,
      audit: srv.kms.services.audit,
      destroyOld: true,
      label: 'kms-kek-second',
      actor: 'operator (test)',
    });
    expect(r.current).toBe('hsm:kms-kek-second');
    // Audited: a Started and a Success record of one rotation (same ref), by the actor.
    const store = srv.kms.services.store;
    const entries = await store.audit.read(Math.max(1, store.audit.head().seq - 400), 1000);
    const rot = entries.map((e) => decodeRecord(e.bytes)).filter((x): x is OpRecord => x.kind === 'op' && x.op === 'RotateKEK' && x.client === 'operator (test)');
    expect(rot.map((x) => x.status)).toEqual(['Started', 'Success']);
    expect(rot[0]!.ref).toBe(rot[1]!.ref);
    expect(rot[0]!.ref).toMatch(/^admin\/rotate-kek\/\d+$/);
    expect(rot[1]!.message).toMatch(/^rewrapped \d+ objects under hsm:kms-kek-second in \d+ passes; destroyed /);
    expect(rot[1]!.ms).toBeGreaterThanOrEqual(rot[0]!.ms ?? 0);
    expect(r.destroyed).toHaveLength(2);
    expect(await tokenKeks()).toEqual(['kms-kek-second']);
    await expectAllKeysRead(new Session(await srv.client(), V2_1));
  });

  it('a restart finds the current KEK by the marker (two KEKs on the token would otherwise be ambiguous)', async () => {
    await srv.stop();
    srv = await startTestKms({ hsm }, { dataDir: srv.dataDir });
    expect(srv.kms.services.protector.kekId).toBe('hsm:kms-kek-second');
    await expectAllKeysRead(new Session(await srv.client(), V2_1));
  });
});

describe('kms hsm rotate-kek against the running server', () => {
  it('rotates through the admin socket while a client keeps reading; the server keeps serving every key', async () => {
    const config = join(srv.dataDir, 'kms-online.json');
    writeFileSync(config, JSON.stringify({ dataDir: srv.dataDir, hsm }));
    const before = srv.kms.services.protector.kekId;
    let stop = false;
    const failures: string[] = [];
    let reads = 0;
    const reader = (async () => {
      const s = new Session(await srv.client(), V2_1);
      const uids = [...keys.keys()];
      while (!stop) {
        const uid = uids[reads++ % uids.length]!;
        const r = await s.call(Operation.Get, getPayload(uid));
        if (r.status !== ResultStatus.Success || Buffer.from(keyMaterialOf(r.payload)).toString('hex') !== keys.get(uid)) failures.push(uid);
      }
    })();
    // Not spawnSync: the server runs in this process and must keep serving meanwhile.
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [KMS, 'hsm', 'rotate-kek', '--config', config], { env: { ...process.env, KMS_CONFIG: '' } });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    stop = true;
    await reader;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`KEK rotated by the running server: ${before} -> hsm:kms-kek-[0-9a-f]{8}; ${keys.size} objects rewrapped`));
    expect(srv.kms.services.protector.kekId).not.toBe(before);
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThan(0);
    expect([...(await kekUsage(srv.kms.services.store)).keys()]).toEqual([srv.kms.services.protector.kekId]);
  });
});

describe('kms hsm on a stopped data folder', () => {
  let config: string;
  beforeAll(async () => {
    await srv.stop();
    config = join(srv.dataDir, 'kms.json');
    writeFileSync(config, JSON.stringify({ dataDir: srv.dataDir, hsm }));
  });

  it('status lists the current KEK and how many objects it seals', () => {
    const r = kms('hsm', 'status', '--config', config);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/current KEK: hsm:kms-kek-[0-9a-f]{8}\n/);
    expect(r.stdout).toMatch(new RegExp(`\\* hsm:kms-kek-[0-9a-f]{8}\\s+${keys.size} objects`));
  });

  it('rotate-kek --destroy-old rewraps everything, leaves one KEK, and the audit chain still verifies', async () => {
    const current = readKekMarker(srv.dataDir)!.label;
    const r = kms('hsm', 'rotate-kek', '--config', config, '--destroy-old');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`${keys.size} objects rewrapped`));
    expect(r.stderr).toMatch(/pass 1: \d+\/\d+ objects scanned/);
    const left = await tokenKeks();
    expect(left).toHaveLength(1);
    expect(left[0]).not.toBe(current);
    const v = kms('audit', 'verify', '--config', config);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    srv = await startTestKms({ hsm }, { dataDir: srv.dataDir });
    expect(srv.kms.services.protector.kekId).toBe(`hsm:${left[0]}`);
    await expectAllKeysRead(new Session(await srv.client(), V2_1));
    await srv.stop();
  });

  it('refuses while hsm.kekLabel pins the KEK, and without an HSM (exit 2)', () => {
    const pinned = join(srv.dataDir, 'pinned.json');
    writeFileSync(pinned, JSON.stringify({ dataDir: srv.dataDir, hsm: { ...hsm, kekLabel: 'kms-kek-second' } }));
    const a = kms('hsm', 'rotate-kek', '--config', pinned);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/pins the KEK/);
    const b = kms('hsm', 'rotate-kek', '--data-dir', srv.dataDir);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/software master key/);
  });
});
