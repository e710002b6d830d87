/**
 * Batches: one record per item, in item order, whether an item commits state (its record
 * rides in its commit, together with the records of read-only items before it) or not
 * (written together before the response). Whole-message refusals are recorded per item.
 * And `audit.log: true` copies each record to the log stream for a SIEM.
 */
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSymmetricKeyPayload, getPayload, parseResponse, requestMessage } from '../../src/client/index.js';
import { AsynchronousIndicator, BatchErrorContinuationOption, CryptographicAlgorithm, Operation, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { decodeRecord, type OpRecord } from '../../src/audit/record.js';
import { SoftwareAuditKey } from '../../src/audit/audit-key.js';
import { AuditTrail } from '../../src/audit/trail.js';
import { MemoryStore } from '../../src/store/memory.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { V2_1 } from '../support/kmip-session.js';

let srv: TestKms;
beforeAll(async () => {
  srv = await startTestKms();
});
afterAll(async () => srv?.dispose());

const create = () => ({ operation: Operation.Create, payload: createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: 4 }) });

async function opsSince(seq: number): Promise<OpRecord[]> {
  const entries = await srv.kms.services.store.audit.read(seq + 1, 1000);
  return entries.map((e) => decodeRecord(e.bytes)).filter((r): r is OpRecord => r.kind === 'op');
}

describe('audit records of batches', () => {
  it('Get (fails, nothing to read yet) + Create + Get by ID Placeholder: three records in item order', async () => {
    const client = await srv.client('alice');
    const head = srv.kms.services.store.audit.head().seq;
    const res = parseResponse(
      await client.send(
        requestMessage({
          version: V2_1,
          batchErrorContinuationOption: BatchErrorContinuationOption.Continue,
          batch: [{ operation: Operation.Get, payload: getPayload('no-such-object') }, create(), { operation: Operation.Get, payload: getPayload() }],
        }),
      ),
    );
    expect(res.items.map((i) => i.status)).toEqual([ResultStatus.OperationFailed, ResultStatus.Success, ResultStatus.Success]);
    const recs = await opsSince(head);
    expect(recs.map((r) => [r.op, r.status, r.ref.split('/')[2]])).toEqual([
      ['Get', 'OperationFailed', '0'],
      ['Create', 'Success', '1'],
      ['Get', 'Success', '2'],
    ]);
    expect(recs[2]!.uids).toEqual(recs[1]!.uids);
    // The first Get's record rode in the Create's commit: consecutive entries, same request.
    expect(new Set(recs.map((r) => r.ref.split('/').slice(0, 2).join('/'))).size).toBe(1);
  });

  it('a message refused as a whole (asynchronous required in an Undo batch) gets one record per item', async () => {
    const client = await srv.client('bob');
    const head = srv.kms.services.store.audit.head().seq;
    const res = parseResponse(
      await client.send(
        requestMessage({
          version: V2_1,
          asynchronousIndicator: AsynchronousIndicator.Mandatory,
          batchErrorContinuationOption: BatchErrorContinuationOption.Undo,
          batch: [create(), create()],
        }),
      ),
    );
    expect(res.items.every((i) => i.status === ResultStatus.OperationFailed)).toBe(true);
    const recs = await opsSince(head);
    expect(recs.map((r) => [r.client, r.op, r.reason])).toEqual([
      ['bob', 'Create', 'FeatureNotSupported'],
      ['bob', 'Create', 'FeatureNotSupported'],
    ]);
  });

  it('an undone Undo batch: the items as they ran, then OperationUndone records in the rollback commit', async () => {
    const client = await srv.client('bob');
    const head = srv.kms.services.store.audit.head().seq;
    const res = parseResponse(
      await client.send(
        requestMessage({
          version: V2_1,
          batchErrorContinuationOption: BatchErrorContinuationOption.Undo,
          batch: [create(), { operation: Operation.Get, payload: getPayload('no-such-object') }],
        }),
      ),
    );
    expect(res.items.map((i) => i.status)).toEqual([ResultStatus.OperationUndone, ResultStatus.OperationFailed]);
    const recs = await opsSince(head);
    expect(recs.map((r) => [r.client, r.op, r.status])).toEqual([
      ['bob', 'Create', 'Success'],
      ['bob', 'Get', 'OperationFailed'],
      ['bob', 'Create', 'OperationUndone'],
    ]);
  });
});

describe('audit.log: records on the log stream', () => {
  it('each durable record is also logged, and every checkpoint is', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _e, cb) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        cb();
      },
    });
    const store = new MemoryStore();
    await store.open();
    const trail = new AuditTrail({ store, key: SoftwareAuditKey.fromMasterKey(Buffer.alloc(32, 7)), log: pino({ level: 'info' }, sink), logRecords: true, checkpointEvery: 2 });
    const event = { kind: 'op' as const, time: new Date(0).toISOString(), ref: 'c/1/0', client: 'alice', op: 'Get', uids: ['u1'], status: 'Success' };
    await trail.commitAlone([event, { ...event, ref: 'c/2/0' }]);
    await trail.close();
    const parsed = lines.map((l) => JSON.parse(l) as { msg: string; audit?: unknown; auditCheckpoint?: { covers: number } });
    expect(parsed.filter((p) => p.msg === 'audit').map((p) => p.audit)).toEqual([event, { ...event, ref: 'c/2/0' }]);
    expect(parsed.filter((p) => p.msg === 'audit checkpoint').map((p) => p.auditCheckpoint!.covers)).toEqual([2]);
    expect(store.audit.head().seq).toBe(3);
  });
});
