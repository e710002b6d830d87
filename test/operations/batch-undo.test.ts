/**
 * Batch Error Continuation Option Undo (KMIP 1.4 §6.13 / Table 366, KMIP 2.1 §11.5 Table 434),
 * end to end over mTLS against a real LevelDB store: a failing item rolls back every earlier one
 * (created objects gone from records and indexes, changed records exactly as before), earlier
 * items answer Operation Undone with their payloads, later items are not run; a batch that
 * succeeds stands; a concurrent change is never overwritten; the audit chain still verifies.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, createSymmetricKeyPayload, parseResponse, requestMessage, type KmipClient, type ResponseItem } from '../../src/client/index.js';
import { BatchErrorContinuationOption, BlockCipherMode, CryptographicAlgorithm, Operation, PaddingMethod, ResultReason, ResultStatus, State } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask as M } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import type { KmipVersion } from '../../src/kmip/spec-types.js';
import type { ObjectRecord } from '../../src/objects/managed-object.js';
import { encodeRecord } from '../../src/store/record-codec.js';
import { indexText, LevelStore, type StoreOp } from '../../src/store/index.js';
import { decodeRecord, type OpRecord } from '../../src/audit/record.js';
import { verifyAuditLog } from '../../src/audit/verify.js';
import { buildReport } from '../../src/audit/report.js';
import { SoftwareAuditKey } from '../../src/audit/audit-key.js';
import { t, type StructureNode, type TtlvNode } from '../../src/ttlv/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { attrs, ok, uidNode, uidOf, V1_4, V2_1 } from './object-kit.js';
import { cipherPayload } from './crypto-kit.js';

let srv: TestKms;
let c: KmipClient;
let other: KmipClient;

beforeAll(async () => {
  srv = await startTestKms();
  [c, other] = await Promise.all([srv.client(), srv.client()]);
});
afterAll(async () => srv?.dispose());

type Item = readonly [operation: number, payload: readonly TtlvNode[] | StructureNode];

async function undoBatch(version: KmipVersion, items: readonly Item[], opts: { maximumResponseSize?: number } = {}): Promise<readonly ResponseItem[]> {
  const msg = requestMessage({
    version,
    batchErrorContinuationOption: BatchErrorContinuationOption.Undo,
    ...opts,
    batch: items.map(([operation, payload], i) => ({ operation, payload, uniqueBatchItemId: new Uint8Array([i + 1]) })),
  });
  return parseResponse(await c.send(msg)).items;
}

const name = (v: string) => attr.name(v);
const createKey = (version: KmipVersion, extra: TtlvNode[] = []) =>
  createSymmetricKeyPayload(version, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: M.Encrypt, attributes: extra });

async function newKey(version: KmipVersion, extra: TtlvNode[] = []): Promise<string> {
  const p = parseResponse(await c.send(requestMessage({ version, batch: [{ operation: Operation.Create, payload: createKey(version, extra) }] })));
  expect(p.items[0]!.status, p.items[0]!.message).toBe(ResultStatus.Success);
  return uidOf(p.items[0]!.payload!);
}

async function record(uid: string): Promise<ObjectRecord | undefined> {
  return srv.kms.services.store.get(uid);
}

/** A record's content, revision aside: "exactly as before". */
const content = (r: ObjectRecord | undefined) => r && Buffer.from(encodeRecord({ ...r, revision: 1 })).toString('hex');

const statuses = (items: readonly ResponseItem[]) => items.map((i) => i.status);

async function locateByName(version: KmipVersion, n: string): Promise<string[]> {
  const p = await ok(c, version, Operation.Locate, [attrs(version, [name(n)])]);
  return p.value.filter((x) => x.tag === Tag.UniqueIdentifier).map((x) => (x as { value: string }).value);
}

async function auditSince(seq: number): Promise<OpRecord[]> {
  const entries = await srv.kms.services.store.audit.read(seq + 1, 1000);
  return entries.map((e) => decodeRecord(e.bytes)).filter((r): r is OpRecord => r.kind === 'op');
}

describe('Undo: a failing item rolls the batch back', () => {
  it('1.4: Create + Activate + Add Attribute, then a failing Get: the new object is gone, the changed one is as before', async () => {
    const base = await newKey(V1_4, [name('undo-base-14')]);
    const before = await record(base);
    const count = await srv.kms.services.store.count();
    const items = await undoBatch(V1_4, [
      [Operation.Create, createKey(V1_4, [name('undo-new-14')])],
      [Operation.Activate, [uidNode(base)]],
      [Operation.AddAttribute, [uidNode(base), t.struct(Tag.Attribute, [t.text(Tag.AttributeName, 'x-undo'), t.text(Tag.AttributeValue, 'v')])]],
      [Operation.Get, [uidNode('no-such-object')]],
      [Operation.Activate, [uidNode(base)]],
    ]);
    // The items before the failure are undone and keep their payloads; the one after is not run.
    expect(statuses(items)).toEqual([ResultStatus.OperationUndone, ResultStatus.OperationUndone, ResultStatus.OperationUndone, ResultStatus.OperationFailed]);
    expect(items[3]!.reason).toBe(ResultReason.ItemNotFound);
    expect(items.map((i) => Buffer.from(i.uniqueBatchItemId ?? []).toString('hex'))).toEqual(['01', '02', '03', '04']);
    const created = uidOf(items[0]!.payload!);
    expect(uidOf(items[1]!.payload!)).toBe(base);

    expect(await record(created)).toBeUndefined();
    expect(await locateByName(V1_4, 'undo-new-14')).toEqual([]);
    expect(await srv.kms.services.store.find({ field: 'Name', equals: indexText('undo-new-14') })).toEqual([]);
    const get = parseResponse(await c.send(requestMessage({ version: V1_4, batch: [{ operation: Operation.Get, payload: [uidNode(created)] }] }))).items[0]!;
    expect(get.reason).toBe(ResultReason.ItemNotFound);
    expect(await srv.kms.services.store.count()).toBe(count);

    const after = await record(base);
    expect(content(after)).toBe(content(before));
    expect(after!.state).toBe(State.PreActive);
    expect(after!.attributes.has('x-undo')).toBe(false);
    expect(after!.revision).toBeGreaterThan(before!.revision);
    expect(await locateByName(V1_4, 'undo-base-14')).toEqual([base]);
  });

  it('2.1 (BL-M-2-21): Activate + Check + a failing Check: Activate undone, a later Get Attributes shows Pre-Active', async () => {
    const uid = await newKey(V2_1);
    const check = (mask: number): Item => [Operation.Check, [uidNode(uid), t.int(Tag.CryptographicUsageMask, mask)]];
    const items = await undoBatch(V2_1, [[Operation.Activate, [uidNode(uid)]], check(M.Encrypt), check(M.Decrypt)]);
    expect(statuses(items)).toEqual([ResultStatus.OperationUndone, ResultStatus.OperationUndone, ResultStatus.OperationFailed]);
    expect(items[2]!.reason).toBe(ResultReason.IncompatibleCryptographicUsageMask);
    expect(uidOf(items[0]!.payload!)).toBe(uid);
    expect(uidOf(items[1]!.payload!)).toBe(uid);
    const p = await ok(c, V2_1, Operation.GetAttributes, [uidNode(uid), t.enum(Tag.AttributeReference, Tag.State)]);
    const a = p.value.find((x) => x.tag === Tag.Attributes) as StructureNode;
    expect(a.value.find((x) => x.tag === Tag.State)).toMatchObject({ value: State.PreActive });
    expect((await record(uid))!.attributes.has('ActivationDate')).toBe(false);
  });

  it('2.1: Add, Modify and Delete Attribute are undone, with their index entries', async () => {
    const uid = await newKey(V2_1, [name('undo-attrs-old'), attr.objectGroup('undo-g1')]);
    const before = await record(uid);
    const wrap = (tag: number, n: TtlvNode) => t.struct(tag, [n]);
    const items = await undoBatch(V2_1, [
      [Operation.AddAttribute, [uidNode(uid), wrap(Tag.NewAttribute, attr.objectGroup('undo-g2'))]],
      [Operation.ModifyAttribute, [uidNode(uid), wrap(Tag.CurrentAttribute, name('undo-attrs-old')), wrap(Tag.NewAttribute, name('undo-attrs-new'))]],
      [Operation.DeleteAttribute, [uidNode(uid), wrap(Tag.CurrentAttribute, attr.objectGroup('undo-g1'))]],
      [Operation.Check, [uidNode(uid), t.int(Tag.CryptographicUsageMask, M.Decrypt)]],
    ]);
    expect(statuses(items)).toEqual([ResultStatus.OperationUndone, ResultStatus.OperationUndone, ResultStatus.OperationUndone, ResultStatus.OperationFailed]);
    expect(content(await record(uid))).toBe(content(before));
    const find = (field: string, v: string) => srv.kms.services.store.find({ field, equals: indexText(v) });
    expect(await find('ObjectGroup', 'undo-g1')).toEqual([uid]);
    expect(await find('ObjectGroup', 'undo-g2')).toEqual([]);
    expect(await locateByName(V2_1, 'undo-attrs-new')).toEqual([]);
    expect(await locateByName(V2_1, 'undo-attrs-old')).toEqual([uid]);
  });

  it('Re-key (a new object; the old key loses its Name and gains links) is undone across both records', async () => {
    const old = await newKey(V2_1, [name('undo-rekey')]);
    await ok(c, V2_1, Operation.Activate, [uidNode(old)]);
    const before = await record(old);
    const items = await undoBatch(V2_1, [
      [Operation.ReKey, [uidNode(old)]],
      [Operation.Check, [uidNode(old), t.int(Tag.CryptographicUsageMask, M.Decrypt)]],
    ]);
    expect(statuses(items)).toEqual([ResultStatus.OperationUndone, ResultStatus.OperationFailed]);
    const fresh = uidOf(items[0]!.payload!);
    expect(fresh).not.toBe(old);
    expect(await record(fresh)).toBeUndefined();
    expect(content(await record(old))).toBe(content(before));
    expect(await locateByName(V2_1, 'undo-rekey')).toEqual([old]);
  });

  it('a failing first item: nothing to undo, the item fails, nothing after it runs', async () => {
    const uid = await newKey(V2_1);
    const items = await undoBatch(V2_1, [
      [Operation.Get, [uidNode('no-such-object')]],
      [Operation.Activate, [uidNode(uid)]],
    ]);
    expect(statuses(items)).toEqual([ResultStatus.OperationFailed]);
    expect((await record(uid))!.state).toBe(State.PreActive);
  });

  it('an oversized reply (Maximum Response Size) undoes the batch: the item that passes the size ends it, Response Too Large, nothing stays', async () => {
    // The Create's answer alone passes 100 bytes: the batch ends there (the Activate is not run).
    const items = await undoBatch(
      V2_1,
      [
        [Operation.Create, createKey(V2_1, [name('undo-too-large')])],
        [Operation.Activate, []],
      ],
      { maximumResponseSize: 100 },
    );
    expect(items.map((i) => [i.operation, i.reason])).toEqual([[Operation.Create, ResultReason.ResponseTooLarge]]);
    expect(items[0]!.message).toMatch(/undone/);
    expect(await locateByName(V2_1, 'undo-too-large')).toEqual([]);
  });

  it('a multi-part Encrypt opened by an undone item is closed again; continuing one is refused before the last item', async () => {
    const key = await newKey(V2_1);
    await ok(c, V2_1, Operation.Activate, [uidNode(key)]);
    const params = { mode: BlockCipherMode.CBC, padding: PaddingMethod.PKCS5 };
    const init = (data: Uint8Array): Item => [Operation.Encrypt, cipherPayload({ uid: key, params, data, iv: new Uint8Array(16), init: true })];
    const items = await undoBatch(V2_1, [init(new Uint8Array(16)), [Operation.Get, [uidNode('no-such-object')]]]);
    expect(statuses(items)).toEqual([ResultStatus.OperationUndone, ResultStatus.OperationFailed]);
    const cv = items[0]!.payload!.value.find((x) => x.tag === Tag.CorrelationValue) as { value: Uint8Array };
    expect(cv).toBeDefined();
    const next = parseResponse(
      await c.send(requestMessage({ version: V2_1, batch: [{ operation: Operation.Encrypt, payload: cipherPayload({ data: new Uint8Array(16), correlation: cv.value, final: true }) }] })),
    ).items[0]!;
    expect(next.reason).toBe(ResultReason.InvalidCorrelationValue);

    // An operation opened outside the batch: continuing it is refused unless it is the last item.
    const open = await ok(c, V2_1, Operation.Encrypt, cipherPayload({ uid: key, params, data: new Uint8Array(16), iv: new Uint8Array(16), init: true }));
    const cv2 = (open.value.find((x) => x.tag === Tag.CorrelationValue) as { value: Uint8Array }).value;
    const part = (final: boolean): Item => [Operation.Encrypt, cipherPayload({ data: new Uint8Array(16), correlation: cv2, ...(final ? { final } : {}) })];
    const refused = await undoBatch(V2_1, [part(false), [Operation.Check, [uidNode(key)]]]);
    expect(refused[0]!.reason).toBe(ResultReason.FeatureNotSupported);
    const last = await undoBatch(V2_1, [[Operation.Check, [uidNode(key)]], part(true)]);
    expect(statuses(last)).toEqual([ResultStatus.Success, ResultStatus.Success]);
  });
});

describe('Undo: a batch that succeeds stands', () => {
  it('Create + Activate (ID Placeholder) + Get Attributes: all Success, the object exists and is Active', async () => {
    const items = await undoBatch(V2_1, [
      [Operation.Create, createKey(V2_1, [name('undo-stands')])],
      [Operation.Activate, []],
      [Operation.GetAttributes, [t.enum(Tag.AttributeReference, Tag.State)]],
    ]);
    expect(statuses(items)).toEqual([ResultStatus.Success, ResultStatus.Success, ResultStatus.Success]);
    const uid = uidOf(items[0]!.payload!);
    expect((await record(uid))!.state).toBe(State.Active);
    expect(await locateByName(V2_1, 'undo-stands')).toEqual([uid]);
  });
});

describe('Undo: concurrency', () => {
  it('a change another client made in between is not overwritten: nothing is undone and the answer says so', async () => {
    const uid = await newKey(V2_1);
    const store = srv.kms.services.store;
    const realCommit = store.commit.bind(store);
    let injected = false;
    // Right after the batch's Activate is durable, a second client changes the same object
    // through the server (a real request on its own connection), then the batch goes on.
    store.commit = async (ops: readonly StoreOp[], options) => {
      await realCommit(ops, options);
      const touchesUid = ops.some((o) => o.type === 'put' && o.record.uid === uid && o.record.state === State.Active);
      if (!injected && touchesUid) {
        injected = true;
        const r = parseResponse(
          await other.send(
            requestMessage({ version: V2_1, batch: [{ operation: Operation.AddAttribute, payload: [uidNode(uid), t.struct(Tag.NewAttribute, [attr.objectGroup('undo-concurrent')])] }] }),
          ),
        );
        expect(r.items[0]!.status).toBe(ResultStatus.Success);
      }
    };
    let items: readonly ResponseItem[];
    try {
      const head = store.audit.head().seq;
      items = await undoBatch(V2_1, [
        [Operation.Activate, [uidNode(uid)]],
        [Operation.Check, [uidNode(uid), t.int(Tag.CryptographicUsageMask, M.Decrypt)]],
      ]);
      expect(injected).toBe(true);
      expect(statuses(items)).toEqual([ResultStatus.Success, ResultStatus.OperationFailed]);
      expect(items[1]!.reason).toBe(ResultReason.IncompatibleCryptographicUsageMask);
      expect(items[1]!.message).toMatch(/NOT undone/);
      const recs = await auditSince(head);
      expect(recs.find((r) => r.op === 'BatchUndo')).toMatchObject({ status: 'OperationFailed', uids: [uid] });
      expect(recs.some((r) => r.status === 'OperationUndone')).toBe(false);
    } finally {
      store.commit = realCommit;
    }
    // Both changes are there: the batch's Activate and the other client's Object Group.
    const r = await record(uid);
    expect(r!.state).toBe(State.Active);
    expect(r!.attributes.get('ObjectGroup')).toHaveLength(1);
    expect(await store.find({ field: 'ObjectGroup', equals: indexText('undo-concurrent') })).toEqual([uid]);
  });
});

describe('Undo: the audit trail', () => {
  it('records each item as it ran, then one OperationUndone record per undone item; the chain verifies; the rollback is on disk', async () => {
    const uid = await newKey(V2_1);
    const head = srv.kms.services.store.audit.head().seq;
    const items = await undoBatch(V2_1, [
      [Operation.Create, createKey(V2_1)],
      [Operation.Activate, [uidNode(uid)]],
      [Operation.Check, [uidNode(uid), t.int(Tag.CryptographicUsageMask, M.Decrypt)]],
    ]);
    const created = uidOf(items[0]!.payload!);
    const recs = await auditSince(head);
    expect(recs.map((r) => [r.op, r.status, r.ref.split('/')[2]])).toEqual([
      ['Create', 'Success', '0'],
      ['Activate', 'Success', '1'],
      ['Check', 'OperationFailed', '2'],
      ['Create', 'OperationUndone', '0'],
      ['Activate', 'OperationUndone', '1'],
    ]);
    expect(recs[3]!.uids).toEqual([created]);
    expect(recs[4]!.uids).toEqual([uid]);
    expect(recs[3]!.message).toMatch(/batch item 2 failed/);
    // `kms audit report`: the undone Create is one use that did not stand, of an object now gone.
    const [report] = await buildReport(srv.kms.services.store, { key: created });
    expect(report!.objectType).toBeUndefined();
    expect(report!.uses).toEqual([expect.objectContaining({ operation: 'Create', count: 1, failed: 1 })]);

    const dataDir = srv.dataDir;
    await srv.stop();
    const store = new LevelStore({ path: join(dataDir, 'db') });
    await store.open();
    try {
      const result = await verifyAuditLog(store.audit, SoftwareAuditKey.fromMasterKeyFile(join(dataDir, 'master.key')));
      expect(result).toMatchObject({ ok: true });
      // The rollback was durable before the answer: after the restart of the store it is there.
      expect(await store.get(created)).toBeUndefined();
      expect((await store.get(uid))?.state).toBe(State.PreActive);
    } finally {
      await store.close();
    }
  });
});
