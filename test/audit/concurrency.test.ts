/**
 * Under concurrent load (group commits mixing records and checkpoints) the log stays one
 * unbroken chain, every entry is covered by a checkpoint after shutdown, and every request
 * has its record.
 */
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createSymmetricKeyPayload, getPayload, uniqueIdentifierOf } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { SoftwareAuditKey } from '../../src/audit/audit-key.js';
import { verifyAuditLog } from '../../src/audit/verify.js';
import { LevelStore } from '../../src/store/leveldb/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { readLog } from './helpers.js';

let srv: TestKms;
afterAll(async () => srv?.dispose());

it('16 clients, creates and gets interleaved, checkpoints every 3 entries: verifies, one record per request', async () => {
  srv = await startTestKms({ audit: { checkpointEvery: 3 } });
  const clients = await Promise.all(Array.from({ length: 16 }, async () => new Session(await srv.client('alice'), V2_1)));
  await Promise.all(
    clients.map(async (s) => {
      for (let i = 0; i < 8; i++) {
        const uid = uniqueIdentifierOf(await s.ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: 4 })));
        await s.ok(Operation.Get, getPayload(uid));
      }
    }),
  );
  await srv.stop();
  const { records } = await readLog(srv.dataDir);
  expect(records.filter((r) => r.kind === 'op')).toHaveLength(16 * 8 * 2);
  const store = new LevelStore({ path: join(srv.dataDir, 'db') });
  await store.open();
  try {
    const result = await verifyAuditLog(store.audit, SoftwareAuditKey.fromMasterKeyFile(join(srv.dataDir, 'master.key')));
    expect(result.failure).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.checkpoints).toBeGreaterThan(10);
  } finally {
    await store.close();
  }
});
