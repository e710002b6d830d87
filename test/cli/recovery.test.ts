/**
 * `kms recovery add|list|remove` on the folder a plain `kms serve` (npm start) makes, which
 * has no recovery keys: `kms backup` is refused until one is added, then works, and the
 * backup opens with the added RSA key and with the custodians' shares. Remove refuses the
 * last key and an unknown id.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSymmetricKeyPayload } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { startTestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { ensureBuilt, kms } from '../audit/helpers.js';

const root = mkdtempSync(join(tmpdir(), 'kms-recovery-'));
const dir = join(root, 'data');
const sharesOut = join(root, 'shares');
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPub = join(root, 'rsa.pub');
const rsaKey = join(root, 'rsa.key');

beforeAll(async () => {
  ensureBuilt();
  writeFileSync(rsaPub, rsa.publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(rsaKey, rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const srv = await startTestKms({}, { dataDir: dir });
  const s = new Session(await srv.client(), V2_1);
  for (let i = 0; i < 3; i++) await s.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: 12 }));
  await srv.stop();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('kms recovery', () => {
  let rsaId: string;
  let sharedId: string;

  it('a folder made by kms serve cannot be backed up until a recovery key is added', () => {
    const none = kms('recovery', 'list', '--data-dir', dir);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toMatch(/no recovery keys/);
    const refused = kms('backup', '--out', join(root, 'early.kbk'), '--data-dir', dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/kms recovery add/);
  });

  it('add takes a public key and a new shared key (shares written outside the folder); list shows both', () => {
    const a = kms('recovery', 'add', '--data-dir', dir, '--recovery-key', rsaPub);
    expect(a.code, a.stderr).toBe(0);
    rsaId = /added recovery key ([0-9a-f]{32}) \(rsa-oaep-sha256\)/.exec(a.stdout)![1]!;
    const again = kms('recovery', 'add', '--data-dir', dir, '--recovery-key', rsaPub);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already set up/);
    const inside = kms('recovery', 'add', '--data-dir', dir, '--shares', '3', '--threshold', '2', '--shares-out', join(dir, 'shares'));
    expect(inside.code).toBe(2);
    const b = kms('recovery', 'add', '--data-dir', dir, '--shares', '3', '--threshold', '2', '--shares-out', sharesOut);
    expect(b.code, b.stderr).toBe(0);
    sharedId = /added recovery key ([0-9a-f]{32}) \(ecies-p256, split into 3 shares, any 2 restore/.exec(b.stdout)![1]!;
    expect(readdirSync(sharesOut).sort()).toEqual(['share-1-of-3.json', 'share-2-of-3.json', 'share-3-of-3.json']);
    expect(statSync(join(sharesOut, 'share-1-of-3.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'recovery.json')).mode & 0o777).toBe(0o600);
    const l = kms('recovery', 'list', '--data-dir', dir);
    expect(l.stdout.trim().split('\n')).toEqual([`${rsaId}  rsa-oaep-sha256`, expect.stringMatching(new RegExp(`^${sharedId}  ecies-p256  shares: any 2 of 3`))]);
  });

  it('then kms backup works, and the backup opens with the RSA key and with two shares', () => {
    const out = join(root, 'b.kbk');
    const b = kms('backup', '--out', out, '--data-dir', dir);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toMatch(/3 objects/);
    const v1 = kms('backup', 'verify', out, '--recovery-key', rsaKey);
    expect(v1.code, v1.stderr).toBe(0);
    const v2 = kms('backup', 'verify', out, '--share', join(sharesOut, 'share-1-of-3.json'), '--share', join(sharesOut, 'share-3-of-3.json'));
    expect(v2.code, v2.stderr).toBe(0);
  });

  it('remove drops a key by id; an unknown id is not found and the last key stays', () => {
    const r = kms('recovery', 'remove', rsaId, '--data-dir', dir);
    expect(r.code, r.stderr).toBe(0);
    expect(kms('recovery', 'list', '--data-dir', dir).stdout).not.toContain(rsaId);
    expect(kms('recovery', 'remove', rsaId, '--data-dir', dir).code).toBe(5);
    const last = kms('recovery', 'remove', sharedId, '--data-dir', dir);
    expect(last.code).toBe(4);
    expect(last.stderr).toMatch(/last recovery key/);
    expect(kms('recovery', 'list', '--data-dir', dir).stdout).toContain(sharedId);
  });
});
