/**
 * The unit of work's undo journal on a real SoftHSM2 token: a Create or Create Key Pair whose
 * commit fails (the store refuses the write) answers with the mapped error, stores no record,
 * leaves no audit record of success, and removes the token key it generated; the next request
 * is served as usual.
 */
import { describe, expect, it, vi } from 'vitest';
import { attr, parseResponse, requestMessage, type KmipClient } from '../../src/client/index.js';
import { CryptographicAlgorithm, ObjectType, Operation, ResultReason, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask as M } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { Pkcs11Backend } from '../../src/hsm/pkcs11/pkcs11-backend.js';
import { StoreError, type CommitOptions, type StoreOp } from '../../src/store/object-store.js';
import { decodeRecord, type OpRecord } from '../../src/audit/record.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import type { TestKms } from '../support/kms.js';
import { attrs, ok, V2_1 } from '../operations/object-kit.js';
import { keyPairPayload } from '../operations/asymmetric-kit.js';
import { useHsmTestKms } from './hsm-kms.js';

let srv: TestKms;
let c: KmipClient;
const { hsm } = useHsmTestKms('kms-uow-fail', (server, client) => {
  srv = server;
  c = client;
});

const notExtractable = t.bool(Tag.Extractable, false);
const createResident: readonly TtlvNode[] = [
  t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
  attrs(V2_1, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(256), attr.cryptographicUsageMask(M.Encrypt | M.Decrypt), notExtractable]),
];

async function tokenHasLabel(label: string | undefined): Promise<boolean> {
  expect(label).toMatch(/^kms-obj-/);
  const b = await Pkcs11Backend.open(hsm);
  try {
    return (await b.findKeys({ label, token: true })).length > 0;
  } finally {
    await b.close();
  }
}

/** Run `operation` while the store refuses the next write that carries ops; returns the item and the token labels generated. */
async function withFailingCommit(operation: number, payload: readonly TtlvNode[]) {
  const store = srv.kms.services.store;
  const backend = srv.kms.services.resident!.backend;
  // Spies keep the real implementation: the token keys are really generated.
  const gen = vi.spyOn(backend, 'generateKey');
  const genPair = vi.spyOn(backend, 'generateKeyPair');
  const commit = store.commit;
  let refused = 0;
  store.commit = async (ops: readonly StoreOp[], options?: CommitOptions) => {
    if (ops.length > 0 && refused === 0) {
      refused++;
      throw new StoreError('IO', 'the disk is gone');
    }
    return commit.call(store, ops, options);
  };
  const head = store.audit.head().seq;
  const count = await store.count();
  try {
    const msg = requestMessage({ version: V2_1, batch: [{ operation, payload }] });
    const item = parseResponse(await c.send(msg)).items[0]!;
    const recs = (await store.audit.read(head + 1, 100)).map((e) => decodeRecord(e.bytes)).filter((r): r is OpRecord => r.kind === 'op');
    const labels = [...gen.mock.calls.map((a) => a[0].label), ...genPair.mock.calls.map((a) => a[0].label)];
    return { item, labels, refused, recs, countAfter: await store.count(), count };
  } finally {
    store.commit = commit;
    gen.mockRestore();
    genPair.mockRestore();
  }
}

describe('a failed commit runs the unit of work undo journal', () => {
  it('Create: General Failure, no record, the audit log says it failed, the new token key is destroyed', async () => {
    const r = await withFailingCommit(Operation.Create, createResident);
    expect(r.refused).toBe(1);
    expect(r.item.status).toBe(ResultStatus.OperationFailed);
    expect(r.item.reason).toBe(ResultReason.GeneralFailure);
    expect(r.countAfter).toBe(r.count);
    expect(r.labels).toHaveLength(1);
    expect(await tokenHasLabel(r.labels[0])).toBe(false);
    expect(r.recs.map((x) => [x.op, x.status])).toEqual([['Create', 'OperationFailed']]);
    // Served as usual afterwards: the key is made, in the token.
    await ok(c, V2_1, Operation.Create, createResident);
  });

  it('Create Key Pair: the generated token key of the pair is destroyed too', async () => {
    const payload = keyPairPayload(
      V2_1,
      [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)],
      [attr.cryptographicUsageMask(M.Sign), notExtractable],
      [attr.cryptographicUsageMask(M.Verify)],
    );
    const r = await withFailingCommit(Operation.CreateKeyPair, payload);
    expect(r.item.status).toBe(ResultStatus.OperationFailed);
    expect(r.countAfter).toBe(r.count);
    expect(r.labels).toHaveLength(1);
    expect(await tokenHasLabel(r.labels[0])).toBe(false);
    expect(r.recs.map((x) => [x.op, x.status])).toEqual([['CreateKeyPair', 'OperationFailed']]);
  });
});
