/**
 * With the HSM audit key, the latest checkpoint is also anchored in the token: a private data
 * object (kms-anchor-<audit key label>) rewritten at each checkpoint. A trail cut back to a
 * checkpoint, with the anchor file removed as well, still fails `kms audit verify --config`
 * (SoftHSM2), because the token holds the later checkpoint; the untouched trail verifies and
 * names the token object it checked against.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSymmetricKeyPayload } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { AUDIT_KEY_LABEL_PREFIX, anchorObjectLabel } from '../../src/audit/audit-key.js';
import { sha256 } from '../../src/audit/record.js';
import { Pkcs11Backend } from '../../src/hsm/pkcs11/pkcs11-backend.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { createSoftHsmToken } from '../hsm/softhsm.js';
import { ensureBuilt, kms, readLog } from './helpers.js';

const token = createSoftHsmToken('kms-anchor');
const hsm = { module: token.module, tokenLabel: token.label, pin: token.pin };
let srv: TestKms;
const scratch: string[] = [];
let lastSeq = 0;
let checkpointSeqs: number[] = [];

beforeAll(async () => {
  ensureBuilt();
  srv = await startTestKms({ hsm, audit: { checkpointEvery: 3 } });
  const s = new Session(await srv.client('alice'), V2_1);
  for (let i = 0; i < 8; i++) await s.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: 4 }));
  await srv.stop();
  const { records } = await readLog(srv.dataDir);
  lastSeq = records.length;
  checkpointSeqs = records.filter((r) => r.kind === 'checkpoint').map((r) => r.seq);
});
afterAll(async () => {
  await srv?.dispose();
  for (const d of scratch) rmSync(d, { recursive: true, force: true });
  for (const d of scratch) rmSync(`${d}.audit-anchor.jsonl`, { force: true });
  token.cleanup();
});

/** A config for `dir` (the token section, no PIN in the file: it comes from the environment). */
function configFor(dir: string): string {
  const file = join(dir, 'kms.json');
  writeFileSync(file, JSON.stringify({ dataDir: dir, hsm }));
  return file;
}

describe('audit anchor in the HSM token', () => {
  it('the token holds one private data object with the latest checkpoint, under the audit key', async () => {
    const b = await Pkcs11Backend.open(hsm);
    try {
      const [auditKey] = (await b.findKeys({ token: true })).filter((k) => k.label?.startsWith(AUDIT_KEY_LABEL_PREFIX));
      const held = await b.readDataObjects(anchorObjectLabel(auditKey!.label!));
      expect(held).toHaveLength(1);
      const line = JSON.parse(held[0]!.toString('utf8')) as { seq: number; keyId: string };
      expect(line.seq).toBe(lastSeq);
      expect(checkpointSeqs).toContain(line.seq);
      expect(line.keyId).toBe(`hsm:${auditKey!.label}`);
    } finally {
      await b.close();
    }
  });

  it('the untouched trail verifies against the anchor file and the token object', () => {
    const r = kms('audit', 'verify', '--config', configFor(srv.dataDir));
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^OK: /);
    expect(r.stdout).toMatch(new RegExp(`token object kms-anchor-kms-audit-[0-9a-f]+ \\(entry ${lastSeq}\\)`));
    expect(r.stdout).toMatch(new RegExp(`reaches the latest anchored entry ${lastSeq} `));
  });

  it('cut back to a checkpoint and the anchor file removed: the token still says TRUNCATED', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-hsm-cut-'));
    scratch.push(dir);
    cpSync(srv.dataDir, dir, { recursive: true });
    const at = checkpointSeqs[1]!;
    const db = new ClassicLevel<string, string>(join(dir, 'db'), { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    await db.open();
    const audit = db.sublevel<string, Buffer>('a', { keyEncoding: 'utf8', valueEncoding: 'buffer' });
    const key = (seq: number) => seq.toString(16).padStart(16, '0');
    const kept = await audit.get(key(at));
    for (let s = at + 1; s <= lastSeq; s++) await audit.del(key(s));
    await db.sublevel<string, string>('m', { keyEncoding: 'utf8', valueEncoding: 'utf8' }).put('audit-head', `${at} ${sha256(kept!).toString('hex')}`);
    await db.close();
    const config = configFor(dir);
    // The chain and every checkpoint MAC (under the HSM key) still verify on their own.
    const alone = kms('audit', 'verify', '--config', config, '--no-anchor');
    expect(alone.code, alone.stdout).toBe(0);
    const r = kms('audit', 'verify', '--config', config);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^TRUNCATED: the trail ends at entry ${at}, but token object kms-anchor-kms-audit-[0-9a-f]+ line 1 anchors checkpoint entry ${lastSeq} `));

    // The attacker serves the cut folder on the same token until the trail is longer than before:
    // the token's object is never overwritten by the rewritten trail, so verify still fails.
    const log: string[] = [];
    const again = await startTestKms({ hsm, audit: { checkpointEvery: 3 } }, { dataDir: dir, captureLog: log });
    try {
      const s = new Session(await again.client('alice'), V2_1);
      for (let i = 0; i < lastSeq; i++) await s.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: 4 }));
    } finally {
      await again.stop();
    }
    expect((await readLog(dir)).records.length).toBeGreaterThan(lastSeq);
    expect(log.join('')).toContain('AUDIT TRAIL CUT BACK');
    rmSync(`${dir}.audit-anchor.jsonl`, { force: true });
    const after = kms('audit', 'verify', '--config', config);
    expect(after.code, after.stdout).toBe(1);
    expect(after.stdout).toMatch(new RegExp(`^REWRITTEN: entry ${lastSeq} is not the checkpoint token object kms-anchor-kms-audit-[0-9a-f]+ line 1 anchors`));
  });
});
