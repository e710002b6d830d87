/**
 * A state change and its audit record are one commit: if the record cannot be written the
 * object is not stored, the client gets General Failure "audit log unavailable", and the
 * server says so in its log (fail closed). And the reverse: a commit that fails leaves no
 * record of a success. Checked at the store contract (memory and LevelDB) and end to end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSymmetricKeyPayload, getPayload, locatePayload, attr } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation, ResultReason, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { MemoryStore } from '../../src/store/memory.js';
import { LevelStore } from '../../src/store/leveldb/index.js';
import type { AuditAppend, ObjectStore } from '../../src/store/object-store.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { rec as sampleRecord } from '../store/records.js';

const ok: AuditAppend = { seal: (seq, prev) => ({ bytes: Buffer.from(`entry ${seq} after ${Buffer.from(prev).toString('hex')}`), link: Buffer.from([seq]) }) };
const broken: AuditAppend = {
  seal: () => {
    throw new Error('audit sink down');
  },
};

for (const [name, make] of [
  ['MemoryStore', async () => ({ store: new MemoryStore() as ObjectStore, done: async () => undefined })],
  [
    'LevelStore',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'kms-audit-store-'));
      return { store: new LevelStore({ path: dir }) as ObjectStore, done: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  ],
] as const) {
  describe(`${name}: audit entries commit with the ops, or not at all`, () => {
    it('a failing audit entry rejects the commit: no record, no entry; a conflicting commit writes no entry', async () => {
      const { store, done } = await make();
      await store.open();
      try {
        const rec = sampleRecord('u-1');
        await expect(store.commit([{ type: 'put', record: rec, expectedRevision: 0 }], { audit: [ok, broken] })).rejects.toThrow(/audit sink down/);
        expect(await store.get('u-1')).toBeUndefined();
        expect(store.audit.head().seq).toBe(0);
        await store.commit([{ type: 'put', record: rec, expectedRevision: 0 }], { audit: [ok] });
        expect(store.audit.head().seq).toBe(1);
        await expect(store.commit([{ type: 'put', record: rec, expectedRevision: 0 }], { audit: [ok] })).rejects.toMatchObject({ code: 'CONFLICT' });
        expect(store.audit.head().seq).toBe(1);
        await store.commit([], { audit: [ok, ok] });
        const entries = await store.audit.read(1, 10);
        expect(entries.map((e) => e.seq)).toEqual([1, 2, 3]);
        expect(Buffer.from(entries[2]!.bytes).toString()).toBe('entry 3 after 02');
        expect(await store.count()).toBe(1);
      } finally {
        await store.close();
        await done();
      }
    });
  });
}

describe('end to end: fail closed', () => {
  let srv: TestKms;
  let alice: Session;
  beforeAll(async () => {
    srv = await startTestKms();
    alice = new Session(await srv.client('alice'), V2_1);
  });
  afterAll(async () => srv?.dispose());

  const createPayload = (name: string) => createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: CryptographicUsageMask.Encrypt, name });

  it('Create whose audit record cannot be written: General Failure, nothing stored, an error in the server log', async () => {
    const trail = srv.kms.services.audit!;
    const errors = vi.spyOn(srv.kms.services.log, 'error');
    const before = await srv.kms.services.store.count();
    const spy = vi.spyOn(trail, 'appendsFor').mockImplementation((events) => events.map(() => broken));
    try {
      const r = await alice.call(Operation.Create, createPayload('never-stored'));
      expect(r.status).toBe(ResultStatus.OperationFailed);
      expect(r.reason).toBe(ResultReason.GeneralFailure);
      expect(r.message).toBe('audit log unavailable');
      expect(await srv.kms.services.store.count()).toBe(before);
      // A read-only operation is refused too: its record cannot be written either.
      const g = await alice.call(Operation.Locate, locatePayload(V2_1, [attr.name('never-stored')]));
      expect(g.message).toBe('audit log unavailable');
      expect(errors.mock.calls.some((c) => String(c[1]).includes('AUDIT LOG UNAVAILABLE'))).toBe(true);
    } finally {
      spy.mockRestore();
      errors.mockRestore();
    }
    // Healthy again: the same request succeeds, and its record is in the log.
    const headBefore = srv.kms.services.store.audit.head().seq;
    const uid = await alice.ok(Operation.Create, createPayload('stored'));
    expect(uid).toBeDefined();
    expect(await srv.kms.services.store.count()).toBe(before + 1);
    expect(srv.kms.services.store.audit.head().seq).toBeGreaterThan(headBefore);
    const g = await alice.call(Operation.Get, getPayload('no-such-uid'));
    expect(g.status).toBe(ResultStatus.OperationFailed);
    expect(g.message).not.toBe('audit log unavailable');
  });
});
