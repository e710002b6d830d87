/**
 * Batch Error Continuation Option Undo: KMIP 1.4 §6.13 and Table 366 ("Batch items that had
 * been processed have been undone and their responses are returned with Undone result
 * status"), KMIP 2.1 §9.6 and §11.5 Table 434 (items not processed are not returned).
 *
 * One `BatchUndo` per request message that asks for Undo, held by the message's units of work
 * (operations/unit-of-work.ts). Items run in order and each item's unit commits as usual,
 * durable and audited, but through the batch's UndoJournal (src/store/undo-journal.ts), which
 * keeps the prior state of every record the batch writes. When an item fails (or the reply
 * exceeds the Maximum Response Size), `rollback` puts every record back in ONE atomic, durable
 * commit under the revisions the batch left, together with one audit record per undone item
 * (status OperationUndone), written by the unit of work (`UndoWriter`). Then:
 *
 * - HSM token keys of objects the batch created are destroyed (no record refers to them any
 *   more); a token key the batch destroyed was never destroyed: Destroy defers that
 *   (`UnitOfWork.retireToken`) until the batch stands;
 * - multi-part operations the batch opened are closed. A multi-part operation that existed
 *   before cannot be rewound, so continuing one is refused in an Undo batch unless it is the
 *   batch's last item (nothing after it can fail);
 * - the key cache forgets the touched objects.
 *
 * Concurrency: there is no isolation. Another client may see the batch's intermediate state;
 * if it (or a KEK rotation) CHANGES a record the batch wrote before the rollback, the rollback
 * is refused as a whole (no other write is ever overwritten): the earlier items keep their
 * Success, the failed item's message says the batch was not undone, the audit log has a
 * BatchUndo OperationFailed record, and deferred effects run as in a batch that stands.
 *
 * Durability: a crash between an item's commit and the end of the batch leaves the committed
 * items in place (their Success records are in the audit log, with no undo record after them);
 * nothing was acknowledged to the client.
 */
import type { Logger } from 'pino';
import { ResultReason, ResultStatus } from '../kmip/generated/enums.gen.js';
import { KmipError } from '../kmip/errors.js';
import type { ResponseItem } from '../kmip/messages.js';
import { UndoJournal } from '../store/undo-journal.js';
import { StoreError, type ObjectStore, type StoreOp } from '../store/object-store.js';
import type { MultipartStore } from '../crypto/multipart.js';
import type { KeyProtector } from '../hsm/key-protector.js';
import type { ResidentKeys } from '../hsm/resident.js';
import { destroyToken } from './resident-tokens.js';

/** The part of the multi-part state the operations use. */
export type MultipartSessions = Pick<MultipartStore<unknown>, 'open' | 'get' | 'close' | 'hold'>;

/** What the rollback needs besides the journal: the message's unit of work writes its commit and audit records. */
export interface UndoWriter {
  /** Commit the rollback `ops` with one OperationUndone record per undone item (and any records still owed); throws when not written. */
  rollback(ops: readonly StoreOp[], undoneItems: readonly number[], message: string): Promise<void>;
  /** The rollback could not be written: a BatchUndo OperationFailed record (written with the message's last records). */
  undoFailed(uids: readonly string[], message: string): void;
}

export interface BatchUndoDeps {
  readonly store: ObjectStore;
  readonly protector: Pick<KeyProtector, 'forget'>;
  readonly resident?: ResidentKeys;
  readonly log: () => Logger;
}

interface TokenDestroy {
  readonly uid: string;
  readonly hsmKey: string;
}

export class BatchUndo {
  readonly journal: UndoJournal;
  /** Token keys whose destruction waits until the batch stands. */
  private readonly deferredTokens: TokenDestroy[] = [];
  /** In-memory effects to reverse on undo (multi-part operations opened). */
  private readonly compensations: (() => void)[] = [];
  /** True while the current item is the batch's last: no later failure can ask for an undo. */
  lastItem = false;

  constructor(private readonly deps: BatchUndoDeps) {
    this.journal = new UndoJournal(deps.store);
  }

  /** Destroy an object's token key once the batch stands (never, when it is undone). */
  destroyTokenAfterBatch(uid: string, hsmKey: string): void {
    this.deferredTokens.push({ uid, hsmKey });
  }

  /** The multi-part state as an Undo batch may use it (see the file comment). */
  sessions(inner: MultipartSessions): MultipartSessions {
    return {
      open: (owner, operation, uid, state, bytes) => {
        const cv = inner.open(owner, operation, uid, state, bytes);
        this.compensations.push(() => inner.close(cv));
        return cv;
      },
      get: (owner, operation, cv) => {
        if (!this.lastItem) {
          throw new KmipError(ResultReason.FeatureNotSupported, 'a multi-part operation cannot be continued in an Undo batch except by its last item: its state cannot be rolled back');
        }
        return inner.get(owner, operation, cv);
      },
      close: (cv) => inner.close(cv),
      hold: (cv, bytes) => inner.hold(cv, bytes),
    };
  }

  /**
   * The batch has its results: undo it when `items` ends with a failure or `tooLarge`, else
   * let it stand. Returns the items to answer with, and whether the batch was undone.
   */
  async finish(writer: UndoWriter, items: readonly ResponseItem[], tooLarge: boolean): Promise<{ items: ResponseItem[]; undone: boolean }> {
    const failedAt = items.findIndex((it) => it.status !== ResultStatus.Success);
    if (failedAt < 0 && !tooLarge) {
      await this.settle();
      return { items: [...items], undone: false };
    }
    const undone = failedAt < 0 ? items.length : failedAt;
    // The first item failed before writing anything: nothing to undo.
    if (undone === 0 && this.journal.isEmpty && this.compensations.length === 0) return { items: [...items], undone: false };
    const cause = failedAt < 0 ? 'the response exceeded the Maximum Response Size' : `batch item ${failedAt} failed`;
    const why = await this.rollback(writer, undone, cause);
    if (why === undefined) {
      return { items: items.map((it, i) => (i < undone ? { ...it, status: ResultStatus.OperationUndone } : it)), undone: true };
    }
    await this.settle();
    if (failedAt < 0) return { items: [...items], undone: false };
    const failed = items[failedAt]!;
    const note = `${failed.message ?? 'failed'}; the earlier batch items were NOT undone: ${why}`;
    return { items: items.map((it, i) => (i === failedAt ? { ...failed, message: note } : it)), undone: false };
  }

  /**
   * Undo everything the batch wrote, reporting the first `undone` items as undone in the audit
   * log; returns undefined when done, else why nothing was undone.
   */
  private async rollback(writer: UndoWriter, undone: number, cause: string): Promise<string | undefined> {
    const ops = this.journal.rollbackOps();
    const written = this.journal.written;
    const { log, resident, protector } = this.deps;
    try {
      await writer.rollback(ops, [...Array(undone).keys()], `undone: ${cause}`);
    } catch (e) {
      const conflict = e instanceof StoreError && (e.code === 'CONFLICT' || e.code === 'NOT_FOUND');
      const why = conflict ? 'an object it changed was changed by another request since' : 'the undo could not be written';
      log().warn({ err: e, uids: written.map((w) => w.uid) }, 'Undo batch could not be rolled back');
      writer.undoFailed(
        written.map((w) => w.uid),
        `batch not undone (${cause}): ${why}`,
      );
      return why;
    }
    for (const c of this.compensations.reverse()) c();
    const created = new Set(written.filter((w) => w.before === undefined).map((w) => w.uid));
    const tokens: TokenDestroy[] = [
      ...written.flatMap((w) => (w.before === undefined && w.after?.hsmKey !== undefined ? [{ uid: w.uid, hsmKey: w.after.hsmKey }] : [])),
      ...this.deferredTokens.filter((t) => created.has(t.uid)),
    ];
    for (const t of tokens) await destroyToken(resident, log(), t.uid, t.hsmKey);
    if (protector.forget) for (const w of written) protector.forget(w.uid);
    log().info({ uids: written.map((w) => w.uid), items: undone }, 'Undo batch rolled back');
    return undefined;
  }

  /** The batch stands: run what was waiting for that. */
  private async settle(): Promise<void> {
    for (const t of this.deferredTokens) await destroyToken(this.deps.resident, this.deps.log(), t.uid, t.hsmKey);
  }
}
