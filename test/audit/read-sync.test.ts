/**
 * Read durability (issue 16 item 1, src/audit/read-durability.ts): with audit.readSync
 * "batched" a read-only request's audit record is written before its response but does not
 * wait for a disk sync; a request that changes state always does. Observed on the real server's
 * LevelStore by wrapping `commit`: at the moment each commit resolves, `pendingSync` says whether
 * entries written without sync are still waiting (the writer records them before resolving, and
 * a synced batch clears them), so nothing here depends on timing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { activatePayload, createSymmetricKeyPayload, expectSuccess, getPayload, parseResponse, requestMessage, uniqueIdentifierOf } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { decodeRecord, type OpRecord } from '../../src/audit/record.js';
import { DEFAULT_READ_SYNC, isReadOnlyOperation } from '../../src/audit/read-durability.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { LevelStore } from '../../src/store/leveldb/index.js';
import type { CommitOptions, StoreOp } from '../../src/store/object-store.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { rec } from '../store/records.js';
import { V2_1 } from '../support/kmip-session.js';

interface Resolved {
  readonly ops: number;
  readonly audit: number;
  readonly deferSync: boolean;
  /** store.pendingSync when the commit resolved: > 0 means it did not wait for a sync. */
  readonly pendingAtResolve: number;
}

/** Record every commit of a running server's store as it resolves. */
function watch(store: LevelStore): Resolved[] {
  const seen: Resolved[] = [];
  const commit = store.commit.bind(store);
  store.commit = (ops: readonly StoreOp[], options?: CommitOptions) =>
    commit(ops, options).then(() => {
      seen.push({ ops: ops.length, audit: options?.audit?.length ?? 0, deferSync: options?.deferSync === true, pendingAtResolve: store.pendingSync });
    });
  return seen;
}

const create = () => ({ operation: Operation.Create, payload: createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: 4 }) });

async function opsSince(srv: TestKms, seq: number): Promise<OpRecord[]> {
  const entries = await srv.kms.services.store.audit.read(seq + 1, 1000);
  return entries.map((e) => decodeRecord(e.bytes)).filter((r): r is OpRecord => r.kind === 'op');
}

describe('audit.readSync batched', () => {
  let srv: TestKms;
  let store: LevelStore;
  let seen: Resolved[];
  beforeAll(async () => {
    // The longest window: the timer never syncs before the assertions look (they do not rely on it).
    srv = await startTestKms({ audit: { readSync: 'batched', readSyncWindowMs: 1000 } });
    store = srv.kms.store as LevelStore;
    seen = watch(store);
  });
  afterAll(async () => srv?.dispose());

  it('a Get is answered with its record written but not synced; Create, the first Get (Fresh) and Activate wait for the sync', async () => {
    const c = await srv.client();
    const send = async (batch: { operation: number; payload: ReturnType<typeof getPayload> }[]) => parseResponse(await c.send(requestMessage({ version: V2_1, batch })));

    seen.length = 0;
    const uid = uniqueIdentifierOf(expectSuccess((await send([create()])).items[0]!));
    // Create: its change and its record in one synced commit.
    expect(seen).toEqual([{ ops: 1, audit: 1, deferSync: false, pendingAtResolve: 0 }]);

    // The first Get clears Fresh: a change, synced with its record; nothing is left to write after it.
    seen.length = 0;
    expectSuccess((await send([{ operation: Operation.Get, payload: getPayload(uid) }])).items[0]!);
    expect(seen).toEqual([{ ops: 1, audit: 1, deferSync: false, pendingAtResolve: 0 }]);

    // A second Get changes nothing: its record is written without sync and the response does not wait.
    seen.length = 0;
    const syncedBefore = store.writes.synced;
    const unsyncedBefore = store.writes.unsynced;
    const head = store.audit.head().seq;
    expectSuccess((await send([{ operation: Operation.Get, payload: getPayload(uid) }])).items[0]!);
    expect(seen).toEqual([{ ops: 0, audit: 1, deferSync: true, pendingAtResolve: 1 }]);
    expect(store.writes.unsynced).toBe(unsyncedBefore + 1);
    expect(store.writes.synced).toBe(syncedBefore);
    // … and it is in the log, in the chain, before the response left.
    const written = await opsSince(srv, head);
    expect(written.map((r) => [r.op, r.uids, r.status])).toEqual([['Get', [uid], 'Success']]);

    // Activate: a change; its synced batch also makes the pending read record durable.
    seen.length = 0;
    expectSuccess((await send([{ operation: Operation.Activate, payload: activatePayload(uid) }])).items[0]!);
    expect(seen).toEqual([{ ops: 1, audit: 1, deferSync: false, pendingAtResolve: 0 }]);
    expect(store.pendingSync).toBe(0);
    expect(store.writes.synced).toBe(syncedBefore + 1);

    // A failed state change (Activate again: wrong state) is not a read: its record is synced.
    seen.length = 0;
    const again = (await send([{ operation: Operation.Activate, payload: activatePayload(uid) }])).items[0]!;
    expect(again.status).toBe(ResultStatus.OperationFailed);
    expect(seen).toEqual([{ ops: 0, audit: 1, deferSync: false, pendingAtResolve: 0 }]);

    // A read batched with a change: the whole request is durable before its response.
    seen.length = 0;
    const r = await send([{ operation: Operation.Get, payload: getPayload(uid) }, create()]);
    r.items.forEach((it) => expectSuccess(it));
    expect(seen.every((s) => !s.deferSync && s.pendingAtResolve === 0)).toBe(true);
    // Only reads, several items, one failing (a failed read is still a read): batched.
    seen.length = 0;
    const reads = await send([
      { operation: Operation.Get, payload: getPayload(uid) },
      { operation: Operation.Get, payload: getPayload('no-such-object') },
    ]);
    expect(reads.items[1]!.status).toBe(ResultStatus.OperationFailed);
    expect(seen).toEqual([{ ops: 0, audit: 2, deferSync: true, pendingAtResolve: 2 }]);
  });

  it('a deferred record is synced by the store on its own (window timer), and at close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-readsync-'));
    try {
      const s = new LevelStore({ path: dir, syncWindowMs: 5 });
      await s.open();
      const entry = (tag: string) => ({ seal: (seq: number) => ({ bytes: Buffer.from(`${tag}-${seq}`), link: Buffer.from([seq]) }) });
      await s.commit([], { audit: [entry('a')], deferSync: true });
      expect(s.pendingSync).toBe(1);
      const synced0 = s.writes.synced; // the new folder's schema write
      expect(s.writes.unsynced).toBe(1);
      await vi.waitFor(() => expect(s.pendingSync).toBe(0), { timeout: 10_000, interval: 5 });
      expect(s.writes.synced).toBe(synced0 + 1);
      // Deferral is ignored for a commit that carries ops: a change is always synced.
      await s.commit([{ type: 'put', record: rec('k1'), expectedRevision: 0 }], { audit: [entry('c')], deferSync: true });
      expect(s.pendingSync).toBe(0);
      expect(s.writes).toEqual({ synced: synced0 + 2, unsynced: 1 });
      // A deferred entry still pending at close is synced by the close.
      await s.commit([], { audit: [entry('b')], deferSync: true });
      expect(s.pendingSync).toBe(1);
      await s.close();
      expect(s.writes.synced).toBe(synced0 + 3);
      const again = new LevelStore({ path: dir });
      await again.open();
      expect((await again.audit.read(1, 10)).map((e) => Buffer.from(e.bytes).toString())).toEqual(['a-1', 'c-2', 'b-3']);
      expect(again.audit.head().seq).toBe(3);
      await again.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('audit.readSync always', () => {
  let srv: TestKms;
  afterAll(async () => srv?.dispose());

  it('every request waits for its synced record, reads included', async () => {
    srv = await startTestKms({ audit: { readSync: 'always' } });
    const store = srv.kms.store as LevelStore;
    const seen = watch(store);
    const c = await srv.client();
    const uid = uniqueIdentifierOf(expectSuccess(parseResponse(await c.send(requestMessage({ version: V2_1, batch: [create()] }))).items[0]!));
    for (let i = 0; i < 3; i++) expectSuccess(parseResponse(await c.send(requestMessage({ version: V2_1, batch: [{ operation: Operation.Get, payload: getPayload(uid) }] }))).items[0]!);
    expect(seen.length).toBe(4);
    expect(seen.every((s) => !s.deferSync && s.pendingAtResolve === 0)).toBe(true);
    expect(store.writes.unsynced).toBe(0);
  });
});

describe('configuration', () => {
  it('audit.readSync and audit.readSyncWindowMs from the file or KMS_AUDIT_READ_SYNC(_WINDOW_MS); bad values are refused', () => {
    expect(DEFAULT_READ_SYNC).toBe('batched');
    expect(loadConfig({ env: {} }).audit?.readSync).toBeUndefined();
    const cfg = loadConfig({ env: { KMS_AUDIT_READ_SYNC: 'always', KMS_AUDIT_READ_SYNC_WINDOW_MS: '20' } });
    expect(cfg.audit).toMatchObject({ readSync: 'always', readSyncWindowMs: 20 });
    expect(() => loadConfig({ env: { KMS_AUDIT_READ_SYNC: 'sometimes' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { KMS_AUDIT_READ_SYNC_WINDOW_MS: '0' } })).toThrow(/1 to 1000/);
    expect(() => loadConfig({ env: { KMS_AUDIT_READ_SYNC_WINDOW_MS: '5000' } })).toThrow(/1 to 1000/);
  });

  it('the read-only class: reads and crypto that change nothing; never a state change', () => {
    for (const op of [
      Operation.Get,
      Operation.GetAttributes,
      Operation.GetAttributeList,
      Operation.Locate,
      Operation.Query,
      Operation.DiscoverVersions,
      Operation.Encrypt,
      Operation.MACVerify,
      Operation.RNGRetrieve,
    ]) {
      expect(isReadOnlyOperation(op)).toBe(true);
    }
    for (const op of [
      Operation.Create,
      Operation.Activate,
      Operation.Revoke,
      Operation.Destroy,
      Operation.GetUsageAllocation,
      Operation.Check,
      Operation.RNGSeed,
      Operation.Export,
      Operation.ModifyAttribute,
      undefined,
    ]) {
      expect(isReadOnlyOperation(op)).toBe(false);
    }
  });
});
