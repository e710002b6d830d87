/**
 * Backup and restore with SoftHSM2: the source server's keys are sealed by a KEK inside
 * token "kms-src"; the backup (taken from the running server) is restored onto a SECOND
 * token "kms-dst" whose KEK is a different, newly generated, non-extractable key. A server
 * on the restored folder returns the same key bytes over mTLS for every object, and `kms
 * audit verify` passes with the destination token's audit key.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11Backend } from '../../src/hsm/pkcs11/pkcs11-backend.js';
import { LevelStore } from '../../src/store/leveldb/index.js';
import { createSoftHsmToken } from '../hsm/softhsm.js';
import { startTestKms } from '../support/kms.js';
import { createSymmetricKeyPayload, uniqueIdentifierOf } from '../../src/client/requests.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t } from '../../src/ttlv/index.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { keyBytes, kmsHere, populate, recordsOf, recoveryKeys } from './kit.js';

const src = createSoftHsmToken('kms-src');
// A second token in the same SoftHSM configuration (one library per process).
execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'kms-dst', '--so-pin', src.soPin, '--pin', src.pin], { env: { ...process.env, SOFTHSM2_CONF: src.conf }, stdio: 'pipe' });
const work = mkdtempSync(join(tmpdir(), 'kms-backup-hsm-'));
const srcDir = join(work, 'src');
const dstDir = join(work, 'dst');
const file = join(work, 'hsm.kbk');
const hsmOf = (tokenLabel: string) => ({ module: src.module, tokenLabel, pin: src.pin });
let keys: ReturnType<typeof recoveryKeys>;
const bytes = new Map<string, string>();
const previousPin = process.env.KMS_HSM_PIN;
let resident = '';

async function kekIds(dir: string): Promise<Set<string | undefined>> {
  const store = new LevelStore({ path: join(dir, 'db') });
  await store.open();
  const out = new Set<string | undefined>();
  try {
    const snap = await store.snapshot();
    for await (const r of snap.records()) if (r.sealedBody) out.add(r.kekId);
    await snap.close();
  } finally {
    await store.close();
  }
  return out;
}

async function tokenKeys(label: string): Promise<{ label: string | undefined; extractable: boolean; sensitive: boolean }[]> {
  const b = await Pkcs11Backend.open({ module: src.module, tokenLabel: label, pin: src.pin });
  try {
    return (await b.findKeys({ token: true })).map((k) => ({ label: k.label, extractable: k.extractable, sensitive: k.sensitive }));
  } finally {
    await b.close();
  }
}

beforeAll(async () => {
  process.env.KMS_HSM_PIN = src.pin; // the CLI reads the PIN from here, as an operator's would
  keys = recoveryKeys(work);
  const init = await kmsHere(['init', '--data-dir', srcDir, '--hsm-module', src.module, '--hsm-token-label', 'kms-src', '--recovery-key', keys.ecPub]);
  expect(init.code, init.stderr).toBe(0);
  const srv = await startTestKms({ hsm: hsmOf('kms-src') }, { dataDir: srcDir });
  try {
    const c = await srv.client();
    for (const uid of await populate(c, 8)) bytes.set(uid, await keyBytes(c, uid));
    // One HSM-resident key (non-extractable token key): carried as a reference only.
    resident = uniqueIdentifierOf(
      await new Session(c, V2_1).ok(
        Operation.Create,
        createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: 12, attributes: [t.bool(Tag.Extractable, false)] }),
      ),
    );
    // Taken from the running server, through its admin socket.
    const b = await kmsHere(['backup', '--out', file, '--data-dir', srcDir]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(/taken by the running server/);
    expect(b.stderr).toMatch(/warning: 1 object\(s\) are HSM-resident keys/);
  } finally {
    await srv.stop();
  }
}, 120_000);

afterAll(() => {
  if (previousPin === undefined) delete process.env.KMS_HSM_PIN;
  else process.env.KMS_HSM_PIN = previousPin;
  rmSync(work, { recursive: true, force: true });
  src.cleanup();
});

describe('restore onto a second token', () => {
  it('init wrote the token into kms.json, never the PIN, and made no master key', () => {
    const cfg = JSON.parse(readFileSync(join(srcDir, 'kms.json'), 'utf8')) as { hsm: Record<string, unknown> };
    expect(cfg.hsm).toEqual({ module: src.module, tokenLabel: 'kms-src' });
    expect(readFileSync(join(srcDir, 'kms.json'), 'utf8')).not.toContain(src.pin);
    expect(existsSync(join(srcDir, 'master.key'))).toBe(false);
  });

  it('a token that cannot be opened fails the restore after the check pass: nothing is left behind (exit 3)', async () => {
    const target = join(work, 'no-token');
    const r = await kmsHere(['restore', '--in', file, '--data-dir', target, '--recovery-key', keys.ecKey, '--hsm-module', src.module, '--hsm-token-label', 'no-such-token']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/restore \(verify\)/); // it got past the check pass
    expect(existsSync(target)).toBe(false);
    expect(readdirSync(work).filter((f) => f.includes('.restoring-'))).toEqual([]);
  });

  it("rewraps every key under the destination token's own KEK", async () => {
    const r = await kmsHere(['restore', '--in', file, '--data-dir', dstDir, '--recovery-key', keys.ecKey, '--hsm-module', src.module, '--hsm-token-label', 'kms-dst']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/warning: 1 object\(s\) are HSM-resident keys/);
    expect(existsSync(join(dstDir, 'master.key'))).toBe(false);
    expect((JSON.parse(readFileSync(join(dstDir, 'kms.json'), 'utf8')) as { hsm: unknown }).hsm).toEqual({ module: src.module, tokenLabel: 'kms-dst' });
    const [before, after] = [[...(await kekIds(srcDir))], [...(await kekIds(dstDir))]];
    expect(before).toHaveLength(1);
    expect(after).toHaveLength(1);
    expect(after[0]).toMatch(/^hsm:kms-kek-/);
    expect(after[0]).not.toBe(before[0]);
    // The destination's KEK lives in kms-dst only, sensitive and non-extractable.
    const dstKeys = await tokenKeys('kms-dst');
    const kek = dstKeys.find((k) => `hsm:${k.label}` === after[0]);
    expect(kek).toMatchObject({ sensitive: true, extractable: false });
    expect((await tokenKeys('kms-src')).some((k) => `hsm:${k.label}` === after[0])).toBe(false);
    expect([...(await recordsOf(dstDir)).entries()]).toEqual([...(await recordsOf(srcDir)).entries()]);
  });

  it('a server on the destination token returns the same key bytes for every object', async () => {
    const srv = await startTestKms({ hsm: hsmOf('kms-dst') }, { dataDir: dstDir });
    try {
      const c = await srv.client();
      let live = 0;
      for (const [uid, want] of bytes) {
        expect(await keyBytes(c, uid), uid).toBe(want);
        if (!want.startsWith('failed')) live++;
      }
      expect(live).toBeGreaterThanOrEqual(8);
      // The HSM-resident key's record came over; its value did not (Get is refused anyway).
      expect(await keyBytes(c, resident)).toMatch(/^failed:/);
    } finally {
      await srv.stop();
    }
  });

  it("kms audit verify passes with the destination token's audit key", async () => {
    const v = await kmsHere(['audit', 'verify', '--config', join(dstDir, 'kms.json')]);
    expect(v.stdout, v.stderr).toMatch(/^OK: \d+ entries, \d+ checkpoints \(audit key hsm:kms-audit-/);
    expect(v.stdout).toMatch(/restored: entries 1\.\.\d+ were imported/);
    expect(v.code).toBe(0);
  });

  it('the restored folder backs up (stopped, through its token) and verifies', async () => {
    const again = join(work, 'again.kbk');
    const b = await kmsHere(['backup', '--out', again, '--data-dir', dstDir]);
    expect(b.code, b.stderr).toBe(0);
    const v = await kmsHere(['backup', 'verify', again, '--recovery-key', keys.ecKey]);
    expect(v.stdout).toMatch(new RegExp(`^OK: .*: ${bytes.size + 1} objects`));
  });
});
