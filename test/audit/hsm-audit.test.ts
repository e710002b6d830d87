/**
 * With the HSM protector, checkpoints are MAC'd by an HMAC key generated inside the token:
 * sensitive and non-extractable (label kms-audit-*). `kms audit verify --config` opens the
 * token to check them; a forged checkpoint fails, and a data folder checked with the wrong
 * key (the software one) fails too.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSymmetricKeyPayload } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { AUDIT_KEY_LABEL_PREFIX } from '../../src/audit/audit-key.js';
import { decodeRecord, encodeRecord, type AuditRecord } from '../../src/audit/record.js';
import { Pkcs11Backend } from '../../src/hsm/pkcs11/pkcs11-backend.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { createSoftHsmToken } from '../hsm/softhsm.js';
import { ensureBuilt, kms } from './helpers.js';

const token = createSoftHsmToken('kms-audit');
let srv: TestKms;
let config: string;

beforeAll(async () => {
  ensureBuilt();
  const hsm = { module: token.module, tokenLabel: token.label, pin: token.pin };
  srv = await startTestKms({ hsm, audit: { checkpointEvery: 3 } });
  const s = new Session(await srv.client('alice'), V2_1);
  for (let i = 0; i < 4; i++) await s.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: 4 }));
  await srv.stop();
  config = join(srv.dataDir, 'kms.json');
  writeFileSync(config, JSON.stringify({ dataDir: srv.dataDir, hsm }));
});
afterAll(async () => {
  await srv?.dispose();
  token.cleanup();
});

describe('audit checkpoints under an HSM key', () => {
  it('the audit key lives in the token, sensitive and non-extractable', async () => {
    const b = await Pkcs11Backend.open({ module: token.module, tokenLabel: token.label, pin: token.pin });
    try {
      const keys = (await b.findKeys({ token: true })).filter((k) => k.label?.startsWith(AUDIT_KEY_LABEL_PREFIX));
      expect(keys).toHaveLength(1);
      expect(keys[0]).toMatchObject({ type: 'GENERIC_SECRET', sensitive: true, extractable: false });
    } finally {
      await b.close();
    }
  });

  it('verify opens the token and checks every checkpoint; a forged checkpoint MAC fails', async () => {
    const ok = kms('audit', 'verify', '--config', config);
    expect(ok.stdout, ok.stderr).toMatch(/^OK: \d+ entries, [2-9]\d* checkpoints \(audit key hsm:kms-audit-/);
    expect(ok.code).toBe(0);

    const db = new ClassicLevel<string, string>(join(srv.dataDir, 'db'), { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    const audit = db.sublevel<string, Buffer>('a', { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    await db.open();
    const entries = (await audit.iterator().all()).map(([k, v]) => [k, decodeRecord(v) as unknown as Record<string, unknown>] as const);
    const [k, cp] = entries.find(([, e]) => e.kind === 'checkpoint')!;
    await audit.put(k, encodeRecord({ ...cp, mac: '00'.repeat(32) } as unknown as AuditRecord));
    await db.close();
    const bad = kms('audit', 'verify', '--config', config);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(new RegExp(`position ${cp.seq as number} .*checkpoint MAC does not verify`));
  });
});
