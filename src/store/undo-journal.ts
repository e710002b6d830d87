/**
 * A per-batch undo journal over any ObjectStore: the commits of one request message go
 * through `commit`, which remembers, for every uid the first time the batch writes it, the
 * record as it was before (absent for an object the batch created) and, after every commit,
 * the revision the batch left it at. `rollbackOps` turns that into one list of compensating
 * ops that puts each record back as it was (a created one deleted, a deleted one recreated,
 * a changed one rewritten with its earlier content), each under the revision the batch left:
 * so a change another client made in between is never overwritten — the rollback commit then
 * fails with CONFLICT, atomically, and nothing of it is written.
 *
 * Restored records get a new revision (the store always advances it), with the content of
 * before: a client that read the batch's intermediate state cannot write it back unnoticed.
 * The store knows nothing of KMIP; the batch semantics live in operations/batch-undo.ts.
 */
import type { ObjectRecord } from '../objects/managed-object.js';
import { StoreError, type CommitOptions, type ObjectStore, type StoreOp } from './object-store.js';

export interface JournalEntry {
  readonly uid: string;
  /** The record before the batch first wrote it; undefined: the batch created it. */
  readonly before: ObjectRecord | undefined;
  /** The record as the batch last wrote it; undefined: the batch deleted it. */
  after: ObjectRecord | undefined;
}

export class UndoJournal {
  private readonly entries = new Map<string, JournalEntry>();

  constructor(private readonly store: ObjectStore) {}

  /** Uids written so far, first-written order. */
  get written(): readonly JournalEntry[] {
    return [...this.entries.values()];
  }

  get isEmpty(): boolean {
    return this.entries.size === 0;
  }

  /**
   * `store.commit(ops, options)`, journaled. The prior state of a uid the batch has not
   * written yet is read first and must be at the op's expected revision (else CONFLICT, as
   * the store itself would answer); nothing is journaled unless the commit succeeds.
   */
  async commit(ops: readonly StoreOp[], options?: CommitOptions): Promise<void> {
    const firstSeen = new Map<string, ObjectRecord | undefined>();
    for (const op of ops) {
      const uid = op.type === 'put' ? op.record.uid : op.uid;
      if (this.entries.has(uid) || firstSeen.has(uid)) continue;
      const current = await this.store.get(uid);
      if ((current?.revision ?? 0) !== op.expectedRevision) {
        throw new StoreError('CONFLICT', `${uid}: expected revision ${op.expectedRevision}, found ${current?.revision ?? 0}`);
      }
      firstSeen.set(uid, current);
    }
    await this.store.commit(ops, options);
    for (const [uid, before] of firstSeen) this.entries.set(uid, { uid, before, after: before });
    for (const op of ops) {
      const e = this.entries.get(op.type === 'put' ? op.record.uid : op.uid)!;
      e.after = op.type === 'put' ? { ...op.record, revision: op.expectedRevision + 1 } : undefined;
    }
  }

  /** The ops that put every journaled record back, newest write undone first. */
  rollbackOps(): StoreOp[] {
    const ops: StoreOp[] = [];
    for (const e of [...this.entries.values()].reverse()) {
      const at = e.after?.revision ?? 0;
      if (e.before) ops.push({ type: 'put', record: e.before, expectedRevision: at });
      else if (e.after) ops.push({ type: 'delete', uid: e.uid, expectedRevision: at });
      // Created and deleted again within the batch: nothing to undo.
    }
    return ops;
  }
}
