/**
 * The audit trail of a running server (`services.audit`). Records go into the store's
 * append-only log through `store.commit` — with the state change they describe when there
 * is one (`appendsFor`), alone otherwise (`commitAlone`) — always before the response is
 * written. Every `checkpointEvery` entries, and at shutdown, a checkpoint entry carries an
 * HMAC over the chain head under the audit key.
 *
 * Fail closed: a record that cannot be written fails the request ("audit log unavailable",
 * see dispatcher.ts) and is logged at error level here.
 */
import type { Logger } from 'pino';
import type { AuditAppend, ObjectStore } from '../store/object-store.js';
import type { AuditKey } from './audit-key.js';
import type { AnchorWriter } from './anchor-writer.js';
import { DEFAULT_READ_SYNC, type ReadSync } from './read-durability.js';
import { checkpointInput, decodeRecord, DEFAULT_RECORD_FORMAT, sealRecord, type AuditEvent, type RecordFormat } from './record.js';

export interface AuditTrailOptions {
  readonly store: ObjectStore;
  readonly key: AuditKey;
  readonly log: Logger;
  /** Entries between checkpoints (default 1000). */
  readonly checkpointEvery?: number;
  /** Also write each record to the pino log (for a SIEM). */
  readonly logRecords?: boolean;
  readonly clock?: () => number;
  /** Anchors outside the data folder (anchor.ts): each checkpoint also goes there. */
  readonly anchors?: AnchorWriter;
  /** Whether read-only requests wait for the disk sync (read-durability.ts); default DEFAULT_READ_SYNC. */
  readonly readSync?: ReadSync;
  /** What new records are stored in (record.ts; `audit.recordFormat`); default binary. */
  readonly recordFormat?: RecordFormat;
}

export const AUDIT_UNAVAILABLE = 'audit log unavailable';

export class AuditTrail {
  readonly checkpointEvery: number;
  readonly readSync: ReadSync;
  readonly recordFormat: RecordFormat;
  /** Highest entry a checkpoint of ours covers. */
  private lastCovered: number;
  /** Position of our last checkpoint entry (0 when none yet). */
  private lastCheckpointSeq = 0;
  private checkpointing: Promise<void> | undefined;
  /** Anchor writes (anchor-writer.ts), chained in checkpoint order. */
  private anchoring: Promise<void> = Promise.resolve();
  private closed = false;
  /** commitAlone writes in flight: close() waits for them before the shutdown checkpoint. */
  private readonly writing = new Set<Promise<void>>();
  /** The last failed audit write, cleared by the next one that succeeds (readiness, src/http/health.ts). */
  lastFailure: { readonly at: number; readonly message: string } | undefined;

  constructor(private readonly opts: AuditTrailOptions) {
    this.checkpointEvery = Math.max(1, Math.floor(opts.checkpointEvery ?? 1000));
    this.readSync = opts.readSync ?? DEFAULT_READ_SYNC;
    this.recordFormat = opts.recordFormat ?? DEFAULT_RECORD_FORMAT;
    this.lastCovered = opts.store.audit.head().seq;
  }

  get store(): ObjectStore {
    return this.opts.store;
  }

  /** The store entries for `events`, in order: give them to `store.commit(ops, { audit })`. */
  appendsFor(events: readonly AuditEvent[]): AuditAppend[] {
    const format = this.recordFormat;
    return events.map((e) => ({ seal: (seq, prev) => sealRecord(e, seq, prev, format) }));
  }

  /** Call after a commit that carried `events` succeeded. */
  committed(events: readonly AuditEvent[]): void {
    this.lastFailure = undefined;
    if (this.opts.logRecords) for (const e of events) this.opts.log.info({ audit: e }, 'audit');
    this.maybeCheckpoint();
  }

  /**
   * Write `events` on their own, durably (with `deferSync`: written now, synced within the
   * store's window; see read-durability.ts). Throws on failure, after logging it.
   */
  async commitAlone(events: readonly AuditEvent[], opts: { readonly deferSync?: boolean } = {}): Promise<void> {
    if (events.length === 0) return;
    // After close() began, a record would land after the shutdown checkpoint, uncovered: refused.
    if (this.closed) throw new Error('the audit trail is closed (the server is stopping): record not written');
    const write = this.opts.store.commit([], { audit: this.appendsFor(events), ...(opts.deferSync ? { deferSync: true } : {}) });
    this.writing.add(write);
    try {
      await write;
    } catch (e) {
      this.failed(e);
      throw e;
    } finally {
      this.writing.delete(write);
    }
    this.committed(events);
  }

  /** Log a failed audit write (the caller fails the request). */
  failed(e: unknown): void {
    this.lastFailure = { at: Date.now(), message: e instanceof Error ? e.message : String(e) };
    this.opts.log.error({ err: e }, 'AUDIT LOG UNAVAILABLE: a record could not be written; the request is refused');
  }

  private maybeCheckpoint(): void {
    if (this.closed || this.checkpointing) return;
    if (this.opts.store.audit.head().seq - this.lastCovered < this.checkpointEvery) return;
    this.checkpointing = this.checkpoint('interval')
      .catch((e: unknown) => this.opts.log.error({ err: e }, 'audit checkpoint failed'))
      .finally(() => {
        this.checkpointing = undefined;
      });
  }

  /** Append a checkpoint over the current head (nothing when the head is already one). */
  async checkpoint(why: 'interval' | 'shutdown'): Promise<void> {
    const head = this.opts.store.audit.head();
    // Nothing to do when the last entry is a checkpoint over everything before it. Entries
    // committed in the same group as a checkpoint land after it and are NOT covered by it (it
    // covers the head it read), so they need another one. `lastCovered` is not enough: after
    // a crash the log ends with entries no checkpoint covers, and they need one even when
    // the restarted server writes nothing else before it stops.
    if (head.seq === 0) return;
    if (head.seq === this.lastCheckpointSeq && this.lastCovered === this.lastCheckpointSeq - 1) return;
    if (this.lastCheckpointSeq === 0 && (await this.sealedByLastEntry(head.seq))) return;
    const covers = head.seq;
    const headHex = Buffer.from(head.link).toString('hex');
    const keyId = this.opts.key.id;
    // Entries may land between this read and the checkpoint's own: it covers `covers`.
    const mac = Buffer.from(await this.opts.key.mac(checkpointInput(covers, head.link))).toString('hex');
    const time = new Date((this.opts.clock ?? Date.now)()).toISOString();
    let own = 0;
    let ownLink: Uint8Array = new Uint8Array(0);
    // Where this checkpoint is anchored: a later verify misses an anchor the trail says it had.
    const anchor = this.opts.anchors?.targets;
    await this.opts.store.commit([], {
      audit: [
        {
          seal: (seq, prev) => {
            own = seq;
            const sealed = sealRecord({ kind: 'checkpoint', time, covers, head: headHex, keyId, mac, why, ...(anchor && anchor.length > 0 ? { anchor } : {}) }, seq, prev, this.recordFormat);
            ownLink = sealed.link;
            return sealed;
          },
        },
      ],
    });
    this.lastCovered = covers;
    this.lastCheckpointSeq = own;
    // Durable now: anchored outside the data folder (file, token), and always logged, in one
    // stable message, for whoever keeps the log stream (kms audit verify --anchor takes it).
    // In order, one at a time, off the checkpoint's own path (the next checkpoint need not wait for an fsync).
    const seq = own;
    const link = ownLink;
    this.anchoring = this.anchoring
      .then(async () => {
        const line = await this.opts.anchors?.anchor({ seq, kind: 'checkpoint', link, covers, head: headHex, mac, time });
        this.opts.log.info({ auditCheckpoint: { ...(line ?? { seq, covers, head: headHex, keyId, mac, link: Buffer.from(link).toString('hex') }), why } }, 'audit checkpoint');
      })
      .catch((e: unknown) => this.opts.log.error({ err: e }, 'audit anchor failed'));
  }

  /** True when entry `seq` (the head) is a checkpoint covering every entry before it. */
  private async sealedByLastEntry(seq: number): Promise<boolean> {
    const [last] = await this.opts.store.audit.read(seq, 1);
    if (!last || last.seq !== seq) return false;
    try {
      const r = decodeRecord(last.bytes);
      return r.kind === 'checkpoint' && r.covers === seq - 1;
    } catch {
      return false;
    }
  }

  /** Resolves when every checkpoint so far is anchored (file, token): await it before the key's backend closes. */
  anchored(): Promise<void> {
    return this.anchoring;
  }

  /** Finish a running checkpoint and write the shutdown one. Call before closing the store. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Records already on their way (a connection torn down by the listener's close) land first,
    // so the shutdown checkpoint covers them.
    await Promise.allSettled([...this.writing]);
    await this.checkpointing;
    try {
      await this.checkpoint('shutdown');
    } catch (e) {
      this.opts.log.error({ err: e }, 'audit shutdown checkpoint failed');
    }
    await this.anchoring;
    await this.opts.key.close();
  }
}
