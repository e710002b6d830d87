/**
 * The unit of work (src/operations/unit-of-work.ts) on a real LevelStore and a real audit trail:
 * when each item's change and record are written and synced, what a failed commit leaves, and
 * how a revision conflict is met. `pendingSync` at the moment a call resolves says whether a
 * write is still waiting for its disk sync (the store records it before resolving), so nothing
 * here depends on timing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Operation, ResultReason, ResultStatus, State } from '../../src/kmip/generated/enums.gen.js';
import { KmipError } from '../../src/kmip/errors.js';
import type { ResponseItem } from '../../src/kmip/messages.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { LevelStore } from '../../src/store/leveldb/index.js';
import { StoreError, type CommitOptions, type StoreOp } from '../../src/store/object-store.js';
import type { ObjectRecord } from '../../src/objects/managed-object.js';
import { AuditTrail } from '../../src/audit/trail.js';
import { SoftwareAuditKey } from '../../src/audit/audit-key.js';
import { decodeRecord, type OpRecord } from '../../src/audit/record.js';
import type { ReadSync } from '../../src/audit/read-durability.js';
import { CONFLICT_RETRIES, MessageWork, type PlaceholderHolder } from '../../src/operations/unit-of-work.js';
import { rec } from '../store/records.js';

const log = pino({ level: 'silent' });
const success = (operation: number, uid?: string): ResponseItem => ({
  operation,
  status: ResultStatus.Success,
  ...(uid !== undefined && { payload: { tag: Tag.ResponsePayload, type: 'Structure', value: [{ tag: Tag.UniqueIdentifier, type: 'TextString', value: uid }] } }),
});
const mapError = (e: unknown): ResponseItem =>
  e instanceof KmipError
    ? { status: ResultStatus.OperationFailed, reason: e.reason, message: e.message }
    : { status: ResultStatus.OperationFailed, reason: ResultReason.GeneralFailure, message: 'internal error' };

interface Seen {
  readonly ops: number;
  readonly audit: number;
  readonly deferSync: boolean;
  readonly pendingAtResolve: number;
}

describe('unit of work', () => {
  let dir: string;
  let store: LevelStore;
  let seen: Seen[];
  /** Make the next commit that carries ops fail with this error (once). */
  let failNext: Error | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kms-uow-'));
    // The longest window: a deferred write is never synced by the timer before the assertions look.
    store = new LevelStore({ path: dir, syncWindowMs: 1000 });
    await store.open();
    seen = [];
    failNext = undefined;
    const commit = store.commit.bind(store);
    store.commit = async (ops: readonly StoreOp[], options?: CommitOptions) => {
      if (failNext && ops.length > 0) {
        const e = failNext;
        failNext = undefined;
        throw e;
      }
      await commit(ops, options);
      seen.push({ ops: ops.length, audit: options?.audit?.length ?? 0, deferSync: options?.deferSync === true, pendingAtResolve: store.pendingSync });
    };
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function message(readSync: ReadSync, opts: { undo?: boolean } = {}): MessageWork {
    const audit = new AuditTrail({ store, key: SoftwareAuditKey.fromMasterKey(randomBytes(32)), log, readSync, checkpointEvery: 1_000_000 });
    return new MessageWork({ store, audit, protector: {}, clock: Date.now, log: () => log }, { connectionId: 'c1', requestNo: 1, client: 'alice' }, opts);
  }

  async function records(): Promise<OpRecord[]> {
    return (await store.audit.read(1, 1000)).map((e) => decodeRecord(e.bytes)).filter((r): r is OpRecord => r.kind === 'op');
  }

  async function put(uid: string): Promise<ObjectRecord> {
    await store.commit([{ type: 'put', record: rec(uid), expectedRevision: 0 }]);
    seen.length = 0;
    return (await store.get(uid))!;
  }

  it('a change by a read-only operation (a first Get clearing Fresh) is synced before the item closes, even with readSync batched', async () => {
    const before = await put('k1');
    const work = message('batched');
    const unit = work.open(0, Operation.Get, undefined, {});
    unit.save({ changes: [{ record: { ...before, state: State.Active }, previous: before }] });
    const synced = store.writes.synced;
    const r = await unit.close(success(Operation.Get, 'k1'), mapError);
    expect(r.status).toBe(ResultStatus.Success);
    // One commit: the change and the item's record, synced when it resolved.
    expect(seen).toEqual([{ ops: 1, audit: 1, deferSync: false, pendingAtResolve: 0 }]);
    expect(store.writes.synced).toBe(synced + 1);
    expect((await store.get('k1'))?.revision).toBe(before.revision + 1);
    expect((await records()).map((x) => [x.op, x.uids, x.status])).toEqual([['Get', ['k1'], 'Success']]);
    // The message changed state: nothing it writes later may skip the sync.
    expect(work.deferSync).toBe(false);
    const next = work.open(1, Operation.Get, undefined, {});
    await next.close(success(Operation.Get, 'k1'), mapError);
    expect(await work.finish()).toBe(true);
    expect(seen[1]).toEqual({ ops: 0, audit: 1, deferSync: false, pendingAtResolve: 0 });
  });

  it('a read-only item under batched: its record is in the log when finish resolves (before the reply), its sync deferred', async () => {
    await put('k1');
    const work = message('batched');
    const unit = work.open(0, Operation.Get, undefined, {});
    await unit.close(success(Operation.Get, 'k1'), mapError);
    // Owed, not yet written: it goes with the message's last write.
    expect(seen).toEqual([]);
    expect(work.deferSync).toBe(true);
    const unsynced = store.writes.unsynced;
    expect(await work.finish()).toBe(true);
    expect(seen).toEqual([{ ops: 0, audit: 1, deferSync: true, pendingAtResolve: 1 }]);
    expect(store.writes.unsynced).toBe(unsynced + 1);
    expect((await records()).map((x) => [x.op, x.uids, x.status])).toEqual([['Get', ['k1'], 'Success']]);
  });

  it('the same read under readSync always waits for the sync; a failed state change is not a read', async () => {
    const work = message('always');
    await work.open(0, Operation.Get, undefined, {}).close(success(Operation.Get, 'k1'), mapError);
    expect(work.deferSync).toBe(false);
    expect(await work.finish()).toBe(true);
    expect(seen).toEqual([{ ops: 0, audit: 1, deferSync: false, pendingAtResolve: 0 }]);

    const w2 = message('batched');
    const failed: ResponseItem = { operation: Operation.Activate, status: ResultStatus.OperationFailed, reason: ResultReason.PermissionDenied, message: 'no' };
    await w2.open(0, Operation.Activate, undefined, {}).close(failed, mapError);
    expect(w2.deferSync).toBe(false);
  });

  it('a failed commit runs the undo journal (newest first), puts the ID Placeholder back, and leaves no record of success', async () => {
    const work = message('batched');
    const batch: PlaceholderHolder = { idPlaceholder: 'earlier' };
    const unit = work.open(0, Operation.Create, undefined, batch);
    const undone: string[] = [];
    const after: string[] = [];
    unit.onUndo(() => void undone.push('token 1'));
    unit.save({ changes: [{ record: rec('new-1') }] });
    unit.onUndo(() => void undone.push('token 2'));
    unit.afterCommit(() => void after.push('effect'));
    batch.idPlaceholder = 'new-1';
    failNext = new StoreError('IO', 'disk gone');
    const r = await unit.close(success(Operation.Create, 'new-1'), mapError);
    expect(r).toMatchObject({ status: ResultStatus.OperationFailed, reason: ResultReason.GeneralFailure, message: 'internal error' });
    expect(undone).toEqual(['token 2', 'token 1']);
    expect(after).toEqual([]);
    expect(batch.idPlaceholder).toBe('earlier');
    expect(await store.get('new-1')).toBeUndefined();
    expect(await work.finish()).toBe(true);
    // The item's record says it failed; no Success record for it exists.
    const recs = await records();
    expect(recs.map((x) => [x.op, x.status, x.message])).toEqual([['Create', 'OperationFailed', 'internal error']]);
    // A failed Create is no read: its record was synced.
    expect(seen.at(-1)).toEqual({ ops: 0, audit: 1, deferSync: false, pendingAtResolve: 0 });
  });

  it('an item that fails after staging: nothing it staged is written, its undo journal runs, no after-commit effect', async () => {
    const work = message('always');
    const batch: PlaceholderHolder = { idPlaceholder: 'earlier' };
    const unit = work.open(0, Operation.Create, undefined, batch);
    const undone: string[] = [];
    const after: string[] = [];
    unit.save({ changes: [{ record: rec('never') }] });
    // A failing handler's own placeholder decision stands (Check empties it when it denies).
    batch.idPlaceholder = undefined;
    unit.onUndo(() => void undone.push('token'));
    unit.afterCommit(() => void after.push('effect'));
    const failed: ResponseItem = { operation: Operation.Create, status: ResultStatus.OperationFailed, reason: ResultReason.InvalidField, message: 'bad' };
    expect(await unit.close(failed, mapError)).toBe(failed);
    expect(undone).toEqual(['token']);
    expect(after).toEqual([]);
    expect(seen).toEqual([]);
    expect(await store.get('never')).toBeUndefined();
    expect(batch.idPlaceholder).toBeUndefined();
    // The unit is closed: staging more is a programming error.
    expect(() => unit.save({ changes: [{ record: rec('late') }] })).toThrow(/closed/);
  });

  it('after-commit effects run once the change is in the store', async () => {
    const work = message('always');
    const unit = work.open(0, Operation.Create, undefined, {});
    let stored: ObjectRecord | undefined;
    unit.save({ changes: [{ record: rec('n1') }] });
    unit.afterCommit(async () => {
      stored = await store.get('n1');
    });
    await unit.close(success(Operation.Create, 'n1'), mapError);
    expect(stored?.revision).toBe(1);
  });

  it('a conflict on changes without onConflict is refused as today: General Failure, changed concurrently, nothing written', async () => {
    const stale = await put('k1');
    await store.commit([{ type: 'put', record: { ...stale, state: State.Active }, expectedRevision: stale.revision }]);
    seen.length = 0;
    const work = message('always');
    const unit = work.open(0, Operation.Activate, undefined, {});
    const undone: string[] = [];
    unit.onUndo(() => void undone.push('undo'));
    unit.save({ changes: [{ record: { ...stale, state: State.Deactivated }, previous: stale }] });
    const r = await unit.close(success(Operation.Activate, 'k1'), mapError);
    expect(r).toMatchObject({ status: ResultStatus.OperationFailed, reason: ResultReason.GeneralFailure, message: 'the object was changed concurrently; retry the request' });
    expect(undone).toEqual(['undo']);
    expect((await store.get('k1'))?.state).toBe(State.Active);
    expect(seen).toEqual([]);
  });

  it('a conflict with onConflict is retried on what is stored now; an empty answer writes nothing and the item stays a read', async () => {
    const stale = await put('k1');
    const now = { ...stale, attributes: new Map(stale.attributes) };
    await store.commit([{ type: 'put', record: now, expectedRevision: stale.revision }]);
    seen.length = 0;
    const work = message('batched');
    const unit = work.open(0, Operation.Get, undefined, {});
    let asked = 0;
    unit.save(
      { changes: [{ record: { ...stale, state: State.Active }, previous: stale }] },
      {
        onConflict: async () => {
          asked++;
          const current = (await store.get('k1'))!;
          return { changes: [{ record: { ...current, state: State.Active }, previous: current }] };
        },
      },
    );
    expect((await unit.close(success(Operation.Get, 'k1'), mapError)).status).toBe(ResultStatus.Success);
    expect(asked).toBe(1);
    const k1 = (await store.get('k1'))!;
    expect([k1.state, k1.revision]).toEqual([State.Active, 3]);
    expect(seen).toEqual([{ ops: 1, audit: 1, deferSync: false, pendingAtResolve: 0 }]);

    // Another request already made the change: nothing is left to write, and the Get is a read.
    const w2 = message('batched');
    const u2 = w2.open(0, Operation.Get, undefined, {});
    u2.save({ changes: [{ record: { ...stale, state: State.Active }, previous: stale }] }, { onConflict: async () => ({ changes: [] }) });
    expect((await u2.close(success(Operation.Get, 'k1'), mapError)).status).toBe(ResultStatus.Success);
    expect((await store.get('k1'))?.revision).toBe(3);
    expect(w2.deferSync).toBe(true);
  });

  it('retries are bounded (CONFLICT_RETRIES), and onConflict may refuse with its own reason', async () => {
    const stale = await put('k1');
    await store.commit([{ type: 'put', record: stale, expectedRevision: stale.revision }]);
    const work = message('always');
    const unit = work.open(0, Operation.Get, undefined, {});
    let asked = 0;
    unit.save({ changes: [{ record: stale, previous: stale }] }, { onConflict: async () => (asked++, { changes: [{ record: stale, previous: stale }] }) });
    const r = await unit.close(success(Operation.Get, 'k1'), mapError);
    expect(r.message).toBe('the object was changed concurrently; retry the request');
    expect(asked).toBe(CONFLICT_RETRIES);

    const u2 = work.open(1, Operation.Import, undefined, {});
    u2.save(
      { changes: [{ record: rec('k1') }] },
      {
        onConflict: async () => {
          throw new KmipError(ResultReason.ObjectAlreadyExists, 'exists');
        },
      },
    );
    expect(await u2.close(success(Operation.Import, 'k1'), mapError)).toMatchObject({ reason: ResultReason.ObjectAlreadyExists, message: 'exists' });
  });

  it('records keep item order: earlier reads ride in the next commit, before the change', async () => {
    const work = message('batched');
    await work.open(0, Operation.Locate, undefined, {}).close(success(Operation.Locate), mapError);
    const unit = work.open(1, Operation.Create, undefined, {});
    unit.save({ changes: [{ record: rec('c1') }] });
    await unit.close(success(Operation.Create, 'c1'), mapError);
    expect(seen).toEqual([{ ops: 1, audit: 2, deferSync: false, pendingAtResolve: 0 }]);
    expect(await work.finish()).toBe(true);
    expect((await records()).map((x) => [x.ref, x.op])).toEqual([
      ['c1/1/0', 'Locate'],
      ['c1/1/1', 'Create'],
    ]);
  });
});
