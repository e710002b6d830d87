/**
 * Asynchronous operations: the table of pending results that Poll and Cancel read, and the
 * batch runner the dispatcher hands an eligible item to when the client allows an asynchronous
 * answer. KMIP 1.4 §6.7 (Asynchronous Indicator, a Boolean), §6.8 (Asynchronous Correlation
 * Value), §6.9 (Result Status Operation Pending), §4.27 Cancel, §4.28 Poll; KMIP 2.1 §6.1.5
 * Cancel, §6.1.36 Poll, §9.x (Asynchronous Indicator Mandatory / Optional / Prohibited). See
 * docs/async-and-s2c.md.
 *
 * When does an item go asynchronous?
 * - 1.x Asynchronous Indicator True, 2.x Optional: an item whose operation is in
 *   `async.operations` (default DEFAULT_ASYNC_OPERATIONS: key-pair generation, certification,
 *   derivation, split keys, Locate and the cryptographic operations) that has not finished
 *   within `async.pendingAfterMs` is answered Operation Pending with an Asynchronous Correlation
 *   Value and keeps running. 0 = every such item is answered Pending at once.
 * - 2.x Mandatory: every item except Poll and Cancel is answered Pending at once, whatever its
 *   operation.
 * - Every later item of the same batch is then answered Pending too (its own correlation value)
 *   and runs after it, in order, in the background (the ID Placeholder carries as before); an item
 *   not run because an earlier one failed under Batch Error Continuation Option Stop (or was
 *   canceled) polls as Operation Failed. Poll and Cancel items after a pending item are answered
 *   at once (their responses are never asynchronous; they touch no object, so order is moot).
 * - Never: Batch Error Continuation Option Undo (its rollback needs the whole batch; with
 *   Mandatory the message is refused, Feature Not Supported), and Prohibited / no indicator.
 *
 * Limits (docs/limits.md): results held (pending or finished and not yet polled) per identity
 * `async.maxPendingPerIdentity` and in total `async.maxPending`. With no room, an Optional item
 * simply stays synchronous (the client said it can take a Pending answer, not that it needs one);
 * a Mandatory item is refused: Server Limit Exceeded (2.x). A finished result not polled within
 * `async.resultTtlMs` is forgotten (logged).
 *
 * Durability: a pending item commits through the same saveRecords path as any item, and its
 * audit records are made durable before its result becomes pollable; the Pending answer itself is
 * audited (status OperationPending, the correlation value in the message) before it is sent. The
 * table lives in memory on this node: a restart (or crash) forgets every correlation value, so a
 * Poll then answers the unknown-value reason, and the operation itself either committed (its
 * object and audit record exist) or did not.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { CancellationResult, Operation, ResultReason, ResultStatus } from '../kmip/generated/enums.gen.js';
import { enumValueFromName } from '../kmip/registry.js';
import type { ResponseItem } from '../kmip/messages.js';
import { AUDIT_UNAVAILABLE } from '../audit/trail.js';
import type { StructureNode } from '../ttlv/node.js';

export { ASYNC_ENV_KEYS, DEFAULT_ASYNC_CONFIG, DEFAULT_ASYNC_OPERATIONS, parseAsyncConfig, type AsyncConfig } from '../config/async.js';
import type { AsyncConfig } from '../config/async.js';

type EntryState = 'queued' | 'running' | 'done';

interface Entry {
  readonly key: string;
  readonly owner: string;
  readonly operation: number;
  state: EntryState;
  canceled: boolean;
  result?: ResponseItem;
  expiry?: NodeJS.Timeout;
}

/** What Poll finds. */
export type PollOutcome = { readonly kind: 'unknown' } | { readonly kind: 'pending' } | { readonly kind: 'done'; readonly result: ResponseItem };

/**
 * The pending results of this node (in memory). Each belongs to the identity whose request made
 * it: another identity's value reads as unknown.
 */
export class AsyncRequests {
  private readonly entries = new Map<string, Entry>();
  private readonly perOwner = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  readonly operations: ReadonlySet<number>;

  constructor(
    readonly config: AsyncConfig,
    private readonly log: Logger,
  ) {
    this.operations = new Set(config.operations.map((n) => enumValueFromName('Operation', n)!));
  }

  /** Results held now (pending or finished, not yet polled), in total or for one identity. */
  held(owner?: string): number {
    return owner === undefined ? this.entries.size : (this.perOwner.get(owner) ?? 0);
  }

  /** Whether `n` more results fit for `owner`. */
  room(owner: string, n: number): boolean {
    return this.held(owner) + n <= this.config.maxPendingPerIdentity && this.entries.size + n <= this.config.maxPending;
  }

  add(owner: string, operation: number, state: EntryState): { readonly value: Uint8Array; readonly entry: Entry } {
    const value = randomBytes(16);
    const entry: Entry = { key: value.toString('hex'), owner, operation, state, canceled: false };
    this.entries.set(entry.key, entry);
    this.perOwner.set(owner, this.held(owner) + 1);
    return { value, entry };
  }

  private remove(e: Entry): void {
    if (this.entries.get(e.key) !== e) return;
    this.entries.delete(e.key);
    if (e.expiry) clearTimeout(e.expiry);
    const n = this.held(e.owner) - 1;
    if (n > 0) this.perOwner.set(e.owner, n);
    else this.perOwner.delete(e.owner);
  }

  /** The item finished: its result is pollable until polled once or `resultTtlMs` passes. */
  complete(e: Entry, result: ResponseItem): void {
    e.state = 'done';
    e.result = result;
    if (this.entries.get(e.key) !== e) return;
    e.expiry = setTimeout(() => {
      this.log.info({ owner: e.owner, operation: e.operation, correlation: e.key }, 'asynchronous result not polled within async.resultTtlMs; forgotten');
      this.remove(e);
    }, this.config.resultTtlMs);
    e.expiry.unref();
  }

  private find(owner: string, value: Uint8Array): Entry | undefined {
    const e = this.entries.get(Buffer.from(value).toString('hex'));
    return e && e.owner === owner ? e : undefined;
  }

  /** Poll: a finished result is handed over once and forgotten. */
  poll(owner: string, value: Uint8Array): PollOutcome {
    const e = this.find(owner, value);
    if (!e) return { kind: 'unknown' };
    if (e.state !== 'done' || !e.result) return { kind: 'pending' };
    this.remove(e);
    return { kind: 'done', result: e.result };
  }

  /**
   * Cancel (1.4 §4.27 and the Cancellation Result table): not started yet → Canceled (it will not
   * run; the value is forgotten); running → Unable to Cancel (a running operation is not
   * abortable here; it completes and stays pollable); finished → Completed or Failed (still
   * pollable); unknown, already polled, expired or another identity's → Unavailable.
   */
  cancel(owner: string, value: Uint8Array): number {
    const e = this.find(owner, value);
    if (!e) return CancellationResult.Unavailable;
    if (e.state === 'queued') {
      e.canceled = true;
      this.remove(e);
      return CancellationResult.Canceled;
    }
    if (e.state === 'running') return CancellationResult.UnableToCancel;
    return e.result?.status === ResultStatus.Success ? CancellationResult.Completed : CancellationResult.Failed;
  }

  /** Keep track of a background run (awaited by `drain`). */
  track(p: Promise<void>): void {
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
  }

  /** Wait for the background runs (server shutdown: before the store closes). */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  close(): void {
    for (const e of this.entries.values()) if (e.expiry) clearTimeout(e.expiry);
  }
}

/**
 * Where an item that may outlive its message runs: a unit of work and audit records of its own
 * (a MessageWork, made by the dispatcher) and a context over it.
 */
/** What this module reads of a request's context (operations/context.ts OperationContext has it). */
export interface AsyncContext {
  readonly principal: { readonly id: string };
  readonly log: Logger;
}

export interface ItemScope {
  readonly ctx: AsyncContext;
  /** Run batch item `index` here (unit of work opened and closed); never throws. */
  run(index: number): Promise<ResponseItem>;
  /** Make the scope's audit records durable; false when they cannot be written. */
  finish(): Promise<boolean>;
  /** Hand the scope's committed changes to the server-to-client sink. */
  publish(): void;
}

export interface AsyncBatchInput {
  /** The message's context (principal, services, log). */
  readonly ctx: AsyncContext;
  readonly items: readonly { readonly operation: number; readonly uniqueBatchItemId?: Uint8Array; readonly payload?: StructureNode }[];
  readonly mandatory: boolean;
  readonly continueOnError: boolean;
  /** A new scope for an item that may go asynchronous. */
  readonly scope: () => ItemScope;
  /** Run item `index` in the message's own unit of work (Poll / Cancel after a pending item). */
  readonly runHere: (index: number) => Promise<ResponseItem>;
  /** Record, in the message's audit records, that item `index` was answered Pending. */
  readonly recordPending: (index: number, audited: ResponseItem) => Promise<void>;
}

export type AsyncStep = { readonly kind: 'done'; readonly result: ResponseItem } | { readonly kind: 'pending'; readonly results: readonly ResponseItem[] };

const SYNC_ONLY = new Set<number>([Operation.Poll, Operation.Cancel]);

/**
 * The asynchronous side of one request message (made by the dispatcher when the header allows
 * an asynchronous answer and the batch is not Undo).
 */
export class AsyncBatch {
  constructor(
    private readonly table: AsyncRequests,
    private readonly input: AsyncBatchInput,
  ) {}

  /** Whether item `operation` may be answered Pending. */
  eligible(operation: number): boolean {
    if (SYNC_ONLY.has(operation)) return false;
    return this.input.mandatory || this.table.operations.has(operation);
  }

  /** Run item `index` (and the rest of the batch if it goes Pending). */
  async start(index: number): Promise<AsyncStep> {
    const { ctx, items, mandatory } = this.input;
    const owner = ctx.principal.id;
    const item = items[index]!;
    const remaining = items.length - index;
    if (mandatory && !this.table.room(owner, remaining)) {
      const limit = this.table.held(owner) + remaining > this.table.config.maxPendingPerIdentity ? 'async.maxPendingPerIdentity' : 'async.maxPending';
      const refused: ResponseItem = {
        operation: item.operation,
        uniqueBatchItemId: item.uniqueBatchItemId,
        status: ResultStatus.OperationFailed,
        reason: ResultReason.ServerLimitExceeded,
        message: `too many asynchronous results held (${limit}); poll or cancel earlier ones`,
      };
      await this.input.recordPending(index, refused);
      return { kind: 'done', result: refused };
    }
    const first = this.input.scope();
    const running = this.runDurably(first, index);
    const threshold = mandatory ? 0 : this.table.config.pendingAfterMs;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), threshold)));
    const raced = await Promise.race([running, late]);
    clearTimeout(timer);
    if (raced !== 'late') {
      first.publish();
      return { kind: 'done', result: raced };
    }
    if (!this.table.room(owner, remaining)) {
      // No room to hold the results: the batch stays synchronous (Optional / 1.x True only).
      const result = await running;
      first.publish();
      return { kind: 'done', result };
    }
    return { kind: 'pending', results: await this.goPending(index, first, running) };
  }

  /** The item's result once its audit records are durable (else General Failure). */
  private async runDurably(scope: ItemScope, index: number): Promise<ResponseItem> {
    const result = await scope.run(index);
    if (await scope.finish()) return result;
    return {
      operation: result.operation,
      uniqueBatchItemId: result.uniqueBatchItemId,
      status: ResultStatus.OperationFailed,
      reason: ResultReason.GeneralFailure,
      message: AUDIT_UNAVAILABLE,
    };
  }

  private async goPending(index: number, firstScope: ItemScope, firstRun: Promise<ResponseItem>): Promise<ResponseItem[]> {
    const { ctx, items, continueOnError } = this.input;
    const owner = ctx.principal.id;
    const out: ResponseItem[] = [];
    const chain: { index: number; entry: Entry }[] = [];
    for (let j = index; j < items.length; j++) {
      const it = items[j]!;
      if (j > index && SYNC_ONLY.has(it.operation)) {
        // Poll / Cancel: answered now, never asynchronously.
        out.push(await this.input.runHere(j));
        continue;
      }
      const { value, entry } = this.table.add(owner, it.operation, j === index ? 'running' : 'queued');
      chain.push({ index: j, entry });
      const pending: ResponseItem = { operation: it.operation, uniqueBatchItemId: it.uniqueBatchItemId, status: ResultStatus.OperationPending, asynchronousCorrelationValue: value };
      out.push(pending);
      // The Pending answer is audited in the message's own records (written before it is sent).
      await this.input.recordPending(j, { ...pending, message: `asynchronous, correlation value ${entry.key}` });
    }
    const log = ctx.log;
    const background = (async () => {
      let stopped: string | undefined;
      for (const [n, { index: j, entry }] of chain.entries()) {
        const it = items[j]!;
        if (entry.canceled) {
          if (!continueOnError) stopped ??= `batch item ${j + 1} was canceled`;
          continue;
        }
        if (stopped !== undefined) {
          this.table.complete(entry, {
            operation: it.operation,
            uniqueBatchItemId: it.uniqueBatchItemId,
            status: ResultStatus.OperationFailed,
            reason: ResultReason.GeneralFailure,
            message: `not run: ${stopped} and the Batch Error Continuation Option is Stop`,
          });
          continue;
        }
        entry.state = 'running';
        const scope = n === 0 ? firstScope : this.input.scope();
        let result: ResponseItem;
        try {
          result = n === 0 ? await firstRun : await this.runDurably(scope, j);
        } catch (e) {
          log.error({ err: e }, 'asynchronous batch item failed unexpectedly');
          result = { operation: it.operation, uniqueBatchItemId: it.uniqueBatchItemId, status: ResultStatus.OperationFailed, reason: ResultReason.GeneralFailure, message: 'internal error' };
        }
        this.table.complete(entry, result);
        scope.publish();
        if (result.status !== ResultStatus.Success && !continueOnError) stopped = `batch item ${j + 1} failed`;
      }
    })();
    this.table.track(background);
    return out;
  }
}
