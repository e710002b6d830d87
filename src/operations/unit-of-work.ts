/**
 * One unit of work per batch item: the one place that writes what a request does, and the one
 * place that knows the durability rules.
 *
 * The dispatcher makes a `MessageWork` per request message and opens a `UnitOfWork` for each
 * batch item (`open`); the handler reaches it as `ctx.work` and never calls the audit trail or
 * `store.commit` itself. A unit collects:
 * - the store changes (`save`: puts of records at the revision they were read at, deletions),
 *   each group with how a revision conflict is met (`onConflict`; absent: refused);
 * - the audit record of the item (made here from the item's result, src/audit/request-audit.ts)
 *   and the records earlier items still owe;
 * - the undo journal: effects that reverse what the item did outside the store when its commit
 *   fails or it is abandoned (`onUndo`: a token key just generated in the HSM is destroyed);
 * - the after-commit effects: the key cache forgets replaced or destroyed bodies, `afterCommit`
 *   hooks, token keys retired once no record refers to them (`retireToken`), and the ID
 *   Placeholder the item set (it only stands if the item succeeds).
 *
 * Commit (`close`, called by the dispatcher with the handler's result):
 * 1. A failed item is abandoned: nothing it staged is written, its undo journal runs (newest
 *    first), and its record (the failure) is owed. The ID Placeholder is the handler's to set
 *    on failure (Check empties it when it denies).
 * 2. A successful item with no changes commits nothing now: its record is owed, and is written
 *    with the next item's commit or by `MessageWork.finish` before the response leaves, so the
 *    log keeps item order and a batch of reads costs one write.
 * 3. A successful item with changes commits ONE store commit through the store contract
 *    (`ObjectStore.commit(ops, { audit })`, src/store/object-store.ts; shared fsync by group
 *    commit in LevelDB, one transaction per group in a SQL store): its ops, the owed records and
 *    its own Success record, atomically. In a Batch Error Continuation Option Undo message the
 *    commit goes through the batch's journal (operations/batch-undo.ts), which remembers what it
 *    overwrote. A revision conflict (CONFLICT / NOT_FOUND) re-reads: groups with `onConflict`
 *    are recomputed (Get clearing Fresh retries while the object is still Fresh) and the commit
 *    is tried again, up to CONFLICT_RETRIES times; a stale group without it is refused with
 *    General Failure "the object was changed concurrently; retry the request". Any failed
 *    commit is then handled as in 1, the ID Placeholder goes back to what it was before the
 *    item, and the item answers with the mapped error: no record of its success exists (the
 *    record rode in the commit that failed).
 * 4. After the commit: the after-commit effects run; a token key is retired now, or in an Undo
 *    batch when the batch stands.
 *
 * Durability class (`MessageWork.deferSync`, issue 16 item 1, src/audit/read-durability.ts):
 * a change is always synced before the item's unit returns (the store syncs every commit with
 * ops). The message's last write (`finish`, records still owed) may use the deferred sync of
 * `audit.readSync: batched` only when every item was a read-only operation AND no item
 * committed a change (a first Get clearing Fresh, a use spending Usage Limits, an undo, a
 * refused message: all synced). `finish` fails closed: when the records cannot be written the
 * dispatcher answers every item General Failure "audit log unavailable".
 *
 * The unit speaks only the ObjectStore contract and the audit record builders: no KMIP request
 * handling, no store backend detail.
 */
import type { Logger } from 'pino';
import { KmipError } from '../kmip/errors.js';
import { ResultReason, ResultStatus } from '../kmip/generated/enums.gen.js';
import type { ResponseItem } from '../kmip/messages.js';
import type { StructureNode } from '../ttlv/node.js';
import type { ObjectRecord } from '../objects/managed-object.js';
import { StoreError, type ObjectStore, type StoreOp } from '../store/object-store.js';
import type { AuditTrail } from '../audit/trail.js';
import type { AuditEvent } from '../audit/record.js';
import { RequestRecords, type ItemStart, type RequestIdentity } from '../audit/request-audit.js';
import { isReadOnlyOperation } from '../audit/read-durability.js';
import type { KeyProtector } from '../hsm/key-protector.js';
import type { ResidentKeys } from '../hsm/resident.js';
import { BatchUndo, type MultipartSessions, type UndoWriter } from './batch-undo.js';
import { destroyToken } from './resident-tokens.js';

/** A record as it should be stored, and as it was read (absent: a new object). */
export interface RecordChange {
  readonly record: ObjectRecord;
  readonly previous?: ObjectRecord;
}

export interface StagedChanges {
  readonly changes: readonly RecordChange[];
  /** Whole records removed (at the revision they were read at). */
  readonly deletions?: readonly ObjectRecord[];
}

export interface SaveOptions {
  /**
   * A revision conflict on these changes at commit: re-read and return the changes to try
   * instead (empty: nothing to write any more), or throw the refusal (a KmipError).
   * Absent: the item is refused as changed concurrently.
   */
  readonly onConflict?: (cause: StoreError) => Promise<StagedChanges>;
}

/** How often one item's commit is retried after revision conflicts its `onConflict` resolved. */
export const CONFLICT_RETRIES = 8;

export interface WorkDeps {
  readonly store: ObjectStore;
  /** The audit trail; absent in unit tests that run without one (nothing is recorded). */
  readonly audit?: AuditTrail;
  readonly protector: Pick<KeyProtector, 'forget'>;
  readonly resident?: ResidentKeys;
  /** Metrics (src/http/metrics.ts): the time of each message's last audit write. */
  readonly metrics?: { auditAppended(seconds: number): void };
  readonly clock: () => number;
  /** The request's logger, made on first use. */
  readonly log: () => Logger;
}

/** Where the ID Placeholder lives (the context's batch state). */
export interface PlaceholderHolder {
  idPlaceholder?: string;
}

type Effect = () => void | Promise<void>;

interface Group extends StagedChanges {
  readonly onConflict?: SaveOptions['onConflict'];
}

function concurrent(cause: unknown): KmipError {
  return new KmipError(ResultReason.GeneralFailure, 'the object was changed concurrently; retry the request', { cause });
}

function isConflict(e: unknown): e is StoreError {
  return e instanceof StoreError && (e.code === 'CONFLICT' || e.code === 'NOT_FOUND');
}

function opsOf(groups: readonly Group[]): StoreOp[] {
  return groups.flatMap((g) => [
    ...g.changes.map(({ record, previous }) => ({ type: 'put' as const, record: { ...record, revision: (previous?.revision ?? 0) + 1 }, expectedRevision: previous?.revision ?? 0 })),
    ...(g.deletions ?? []).map((r) => ({ type: 'delete' as const, uid: r.uid, expectedRevision: r.revision })),
  ]);
}

/** The writes of one request message: its units of work, the records they still owe, the durability class. */
export class MessageWork implements UndoWriter {
  /** Records made but not yet written, in item order. */
  private owed: AuditEvent[] = [];
  /** Every item so far was a read-only operation and nothing was committed (see the file comment). */
  private readsOnly = true;
  private readonly records: RequestRecords;
  private unit: UnitOfWork | undefined;
  /** Present when the message asks for Batch Error Continuation Option Undo. */
  readonly undo: BatchUndo | undefined;
  /** Record changes committed by this message's items, in order (server-to-client events: src/notify). */
  readonly committed: RecordChange[] = [];

  constructor(
    readonly deps: WorkDeps,
    who: RequestIdentity,
    opts: { readonly undo?: boolean } = {},
  ) {
    this.records = new RequestRecords(who, deps.clock);
    this.undo = opts.undo ? new BatchUndo({ store: deps.store, protector: deps.protector, ...(deps.resident && { resident: deps.resident }), log: deps.log }) : undefined;
  }

  /** Open the unit of work of batch item `index` (the previous one must be closed). */
  open(index: number, operation: number, payload: StructureNode | undefined, batch: PlaceholderHolder): UnitOfWork {
    if (this.unit) throw new Error(`unit of work of item ${this.unit.item.index} is still open`);
    this.unit = new UnitOfWork(this, { index, operation, started: this.deps.clock(), requestPayload: payload }, batch);
    return this.unit;
  }

  /** The open item's unit (what a handler gets as `ctx.work`). */
  get current(): UnitOfWork {
    if (!this.unit) throw new Error('no batch item is open');
    return this.unit;
  }

  /** Written before the response goes: with sync, or (batched reads) synced within the window. */
  get deferSync(): boolean {
    return this.readsOnly && this.deps.audit?.readSync === 'batched';
  }

  /** A whole message refused before its items ran: one record per item (or one, unparsed). */
  refused(items: readonly ResponseItem[]): void {
    this.readsOnly = false;
    for (const r of items) this.owe(this.records.resultItem(undefined, r, undefined));
  }

  /** The batch has its results: an Undo batch is undone or settled (operations/batch-undo.ts). */
  finishBatch(items: readonly ResponseItem[], tooLarge: boolean): Promise<{ items: ResponseItem[]; undone: boolean }> | undefined {
    return this.undo?.finish(this, items, tooLarge);
  }

  /**
   * Write the records still owed (see `deferSync`) before the response goes. False when they
   * could not be written: the caller answers "audit log unavailable" (the trail logged why).
   */
  async finish(): Promise<boolean> {
    const audit = this.deps.audit;
    if (!audit) return true;
    const events = this.owed;
    this.owed = [];
    const t0 = performance.now();
    if (events.length > 0) {
      try {
        await this.deps.store.commit([], { audit: audit.appendsFor(events), ...(this.deferSync ? { deferSync: true } : {}) });
      } catch (e) {
        audit.failed(e);
        return false;
      }
      audit.committed(events);
    }
    this.deps.metrics?.auditAppended((performance.now() - t0) / 1000);
    return true;
  }

  // UndoWriter (operations/batch-undo.ts).
  async rollback(ops: readonly StoreOp[], undoneItems: readonly number[], message: string): Promise<void> {
    this.readsOnly = false;
    await this.write(ops, this.deps.audit ? [...this.owed, ...this.records.undone(undoneItems, message)] : [], false);
  }

  undoFailed(uids: readonly string[], message: string): void {
    this.readsOnly = false;
    this.owe(this.records.undoFailed(uids, message));
  }

  /** @internal (UnitOfWork) */
  owe(event: AuditEvent): void {
    if (this.deps.audit) this.owed.push(event);
  }

  /** @internal (UnitOfWork) */
  closed(unit: UnitOfWork, changed: boolean): void {
    if (this.unit === unit) this.unit = undefined;
    if (changed || !isReadOnlyOperation(unit.item.operation)) this.readsOnly = false;
  }

  /** @internal (UnitOfWork) The owed records, then the item's own (made by `own`). */
  itemRecords(own: (records: RequestRecords) => AuditEvent): AuditEvent[] {
    return this.deps.audit ? [...this.owed, own(this.records)] : [];
  }

  /** @internal (UnitOfWork) The record of an item that committed nothing. */
  resultRecord(item: ItemStart, result: ResponseItem, idPlaceholder: string | undefined): void {
    this.owe(this.records.resultItem(item, result, idPlaceholder));
  }

  /**
   * @internal One store commit: `ops` and `events` atomically (through the Undo batch's journal
   * when there is one). On success the owed records are written; on failure they are still owed.
   */
  async write(ops: readonly StoreOp[], events: readonly AuditEvent[], viaJournal = true): Promise<void> {
    const audit = this.deps.audit;
    const store = viaJournal && this.undo ? this.undo.journal : this.deps.store;
    await store.commit(ops, audit && events.length > 0 ? { audit: audit.appendsFor(events) } : undefined);
    this.owed = [];
    if (audit && events.length > 0) audit.committed(events);
  }

  /** @internal */
  get resident(): ResidentKeys | undefined {
    return this.deps.resident;
  }
}

/** The writes of one batch item (see the file comment). Handlers use it as `ctx.work`. */
export class UnitOfWork {
  private groups: Group[] = [];
  private readonly undoJournal: Effect[] = [];
  private readonly after: Effect[] = [];
  private readonly retired: { uid: string; hsmKey: string }[] = [];
  private readonly placeholderBefore: string | undefined;
  private done = false;

  constructor(
    private readonly message: MessageWork,
    readonly item: ItemStart,
    private readonly batch: PlaceholderHolder,
  ) {
    this.placeholderBefore = batch.idPlaceholder;
  }

  /** Stage records to write when the item succeeds (checks of what may be saved are the caller's: operations/service/save.ts `saveRecords`). */
  save(staged: StagedChanges, opts: SaveOptions = {}): void {
    this.assertOpen();
    this.groups.push({ changes: [...staged.changes], deletions: [...(staged.deletions ?? [])], ...(opts.onConflict && { onConflict: opts.onConflict }) });
  }

  /** Undo journal: run when this item's commit fails or the item fails (newest first). */
  onUndo(effect: Effect): void {
    this.assertOpen();
    this.undoJournal.push(effect);
  }

  /** Run once the item's changes are durable (or at once after the item, when it changed nothing). */
  afterCommit(effect: Effect): void {
    this.assertOpen();
    this.after.push(effect);
  }

  /**
   * An HSM token key no record will refer to once this item commits: destroyed after the commit
   * (in an Undo batch: once the batch stands, never when it is undone).
   */
  retireToken(uid: string, hsmKey: string): void {
    this.assertOpen();
    this.retired.push({ uid, hsmKey });
  }

  /** The multi-part state as this message may use it (an Undo batch closes what it opened on undo). */
  sessions(inner: MultipartSessions): MultipartSessions {
    return this.message.undo ? this.message.undo.sessions(inner) : inner;
  }

  /** Whether anything is staged. */
  get hasChanges(): boolean {
    return this.groups.some((g) => g.changes.length > 0 || (g.deletions?.length ?? 0) > 0);
  }

  /**
   * Commit or abandon, by the handler's `result` (see the file comment); returns the item's
   * answer: `result`, or the mapped error of a commit that failed (`mapError`: the dispatcher's
   * one error mapping).
   */
  async close(result: ResponseItem, mapError: (e: unknown) => ResponseItem): Promise<ResponseItem> {
    this.assertOpen();
    this.done = true;
    if (result.status !== ResultStatus.Success) {
      await this.abandon();
      this.message.resultRecord(this.item, result, this.batch.idPlaceholder);
      this.message.closed(this, false);
      return result;
    }
    let committed: boolean;
    try {
      committed = await this.commit(result);
    } catch (e) {
      // The placeholder the item set names what was not written.
      this.batch.idPlaceholder = this.placeholderBefore;
      await this.abandon();
      const failed = mapError(isConflict(e) ? concurrent(e) : e);
      this.message.resultRecord(this.item, failed, this.batch.idPlaceholder);
      this.message.closed(this, false);
      return failed;
    }
    if (!committed) this.message.resultRecord(this.item, result, this.batch.idPlaceholder);
    else for (const g of this.groups) this.message.committed.push(...g.changes);
    this.message.closed(this, committed);
    await this.afterEffects(committed);
    return result;
  }

  /** True when something was written; false when there was nothing to write. */
  private async commit(result: ResponseItem): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      if (!this.hasChanges) return false;
      const groups = this.groups;
      const touched = groups.flatMap((g) => [...g.changes, ...(g.deletions ?? []).map((record) => ({ record, previous: record }))]);
      try {
        await this.message.write(
          opsOf(groups),
          this.message.itemRecords((r) => r.committedItem(this.item, result, touched)),
        );
        return true;
      } catch (e) {
        if (!isConflict(e) || attempt >= CONFLICT_RETRIES) throw e;
        await this.rebase(e);
      }
    }
  }

  /** After a conflict: recompute the stale groups that say how, refuse when a stale one cannot. */
  private async rebase(cause: StoreError): Promise<void> {
    const store = this.message.deps.store;
    const next: Group[] = [];
    let resolved = false;
    for (const g of this.groups) {
      let stale = false;
      for (const c of g.changes) if (((await store.get(c.record.uid))?.revision ?? 0) !== (c.previous?.revision ?? 0)) stale = true;
      for (const d of g.deletions ?? []) if ((await store.get(d.uid))?.revision !== d.revision) stale = true;
      if (!stale) {
        next.push(g);
        continue;
      }
      if (!g.onConflict) throw concurrent(cause);
      next.push({ ...(await g.onConflict(cause)), onConflict: g.onConflict });
      resolved = true;
    }
    // The conflict was not on anything this item staged (an Undo batch's journal saw it): refuse.
    if (!resolved) throw concurrent(cause);
    this.groups = next;
  }

  /** Nothing of the item stands: run its undo journal. */
  private async abandon(): Promise<void> {
    this.groups = [];
    for (const effect of this.undoJournal.reverse()) {
      try {
        await effect();
      } catch (e) {
        this.message.deps.log().error({ err: e, item: this.item.index }, 'an undo step of a failed batch item failed');
      }
    }
  }

  private async afterEffects(committed: boolean): Promise<void> {
    const { protector, log } = this.message.deps;
    // A body destroyed or replaced must not live on in the key cache.
    if (committed && protector.forget) {
      for (const g of this.groups) {
        for (const c of g.changes) if (c.previous && c.record.sealedBody !== c.previous.sealedBody) protector.forget(c.record.uid);
        for (const r of g.deletions ?? []) protector.forget(r.uid);
      }
    }
    for (const effect of this.after) {
      try {
        await effect();
      } catch (e) {
        log().error({ err: e, item: this.item.index }, 'an after-commit step of a batch item failed');
      }
    }
    for (const t of this.retired) {
      if (this.message.undo) this.message.undo.destroyTokenAfterBatch(t.uid, t.hsmKey);
      else await destroyToken(this.message.resident, log(), t.uid, t.hsmKey);
    }
  }

  private assertOpen(): void {
    if (this.done) throw new Error(`the unit of work of batch item ${this.item.index} is closed`);
  }
}
