/**
 * The in-memory store: for tests and tools. Same semantics as the LevelDB store (the
 * shared contract suite holds both to it): records are kept encoded (so a caller can
 * never alias a stored record), each field has a sorted index of the same value keys the
 * LevelDB store uses, and `find` is a binary-searched range over that index.
 */
import type { ObjectRecord } from '../objects/managed-object.js';
import {
  StoreError,
  type AuditEntry,
  type AuditLogReader,
  type CommitOptions,
  type IndexQuery,
  type MetaEntry,
  type MetaSpace,
  type ObjectStore,
  type ScanOptions,
  type ScanPage,
  type ChangeOrigin,
  type CommitOp,
  type StoreSnapshot,
} from './object-store.js';
import { MetaWatchers, planMeta, RecordListeners, type StoredMeta } from './meta.js';
import { sealAudit } from './commit-plan.js';
import { decodeRecord } from './record-codec.js';
import { checkOps, planCommit, termDiff, type Stored } from './commit-plan.js';
import { compareUids, uidOfValueKey, valueBounds, valueKey } from './index-keys.js';
import type { IndexTerm } from './index-encoding.js';

interface Entry extends Stored {
  readonly bytes: Buffer;
}

/** A sorted array of byte keys. */
class SortedKeys {
  readonly keys: Buffer[] = [];

  /** Index of the first key ≥ k. */
  lowerBound(k: Buffer): number {
    let lo = 0;
    let hi = this.keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (Buffer.compare(this.keys[mid] as Buffer, k) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(k: Buffer): void {
    const i = this.lowerBound(k);
    const at = this.keys[i];
    if (at && at.equals(k)) return;
    this.keys.splice(i, 0, k);
  }

  remove(k: Buffer): void {
    const i = this.lowerBound(k);
    const at = this.keys[i];
    if (at && at.equals(k)) this.keys.splice(i, 1);
  }
}

export class MemoryStore implements ObjectStore {
  readonly exclusiveWriter = true;
  private records = new Map<string, Entry>();
  /** Uids in code point order, for `list`. */
  private uids: string[] = [];
  /** field → sorted value keys (esc(value) 00 01 uid). */
  private index = new Map<string, SortedKeys>();
  private state: 'new' | 'open' | 'closed' = 'new';
  /** The audit log: entry i has seq i + 1. */
  private auditLog: Buffer[] = [];
  private auditLink: Uint8Array = new Uint8Array(0);
  /** Server metadata (meta.ts). */
  private metaEntries = new Map<string, StoredMeta>();
  private readonly watchers = new MetaWatchers();
  private readonly recordListeners = new RecordListeners();

  readonly meta: MetaSpace = {
    get: async (key: string): Promise<MetaEntry | undefined> => {
      this.assertOpen();
      const m = this.metaEntries.get(key);
      return m && { key, revision: m.revision, value: Buffer.from(m.value) };
    },
    list: async (prefix: string, opts: { after?: string; limit: number }): Promise<MetaEntry[]> => {
      this.assertOpen();
      const keys = [...this.metaEntries.keys()].filter((k) => k.startsWith(prefix) && (opts.after === undefined || k > opts.after)).sort();
      return keys.slice(0, Math.max(0, opts.limit)).map((key) => {
        const m = this.metaEntries.get(key) as StoredMeta;
        return { key, revision: m.revision, value: Buffer.from(m.value) };
      });
    },
    watch: (prefix, listener) => this.watchers.add(prefix, listener),
  };

  readonly audit: AuditLogReader = {
    read: async (from: number, limit: number): Promise<AuditEntry[]> => {
      this.assertOpen();
      const start = Math.max(1, Math.floor(from));
      return this.auditLog.slice(start - 1, start - 1 + Math.max(0, limit)).map((b, i) => ({ seq: start + i, bytes: Buffer.from(b) }));
    },
    head: () => ({ seq: this.auditLog.length, link: this.auditLink }),
  };

  async open(): Promise<void> {
    if (this.state === 'closed') throw new StoreError('CLOSED', 'store is closed');
    this.state = 'open'; // opening an open store is a no-op
  }

  async close(): Promise<void> {
    this.state = 'closed';
  }

  private assertOpen(): void {
    if (this.state !== 'open') throw new StoreError('CLOSED', this.state === 'new' ? 'store is not open' : 'store is closed');
  }

  async get(uid: string): Promise<ObjectRecord | undefined> {
    this.assertOpen();
    const e = this.records.get(uid);
    return e && decodeRecord(e.bytes, uid);
  }

  async commit(ops: readonly CommitOp[], options?: CommitOptions): Promise<void> {
    this.assertOpen();
    checkOps(ops);
    // Synchronous from here on: plan and seal first (may throw, nothing touched), then apply.
    const changes = planCommit(ops, (uid) => this.records.get(uid));
    const metaChanges = planMeta(ops, (key) => this.metaEntries.get(key));
    const sealed = sealAudit(options?.audit, { seq: this.auditLog.length, link: this.auditLink });
    for (const e of sealed.entries) this.auditLog.push(Buffer.from(e.bytes));
    this.auditLink = sealed.head.link;
    for (const ch of changes.values()) {
      const { removed, added } = termDiff(ch);
      for (const t of removed) this.indexOf(t).remove(valueKey(t.value, ch.uid));
      for (const t of added) this.indexOf(t).insert(valueKey(t.value, ch.uid));
      if (ch.after) {
        if (!ch.before) this.insertUid(ch.uid);
        this.records.set(ch.uid, { revision: ch.after.revision, terms: ch.after.terms, bytes: ch.after.bytes });
      } else if (ch.before) {
        this.records.delete(ch.uid);
        this.removeUid(ch.uid);
      }
    }
    for (const m of metaChanges.values()) {
      if (m.after) this.metaEntries.set(m.key, m.after);
      else this.metaEntries.delete(m.key);
    }
    this.watchers.changed(metaChanges.keys());
    this.recordListeners.changed(changes.keys());
  }

  onRecordsChanged(listener: (uids: readonly string[], origin: ChangeOrigin) => void): () => void {
    return this.recordListeners.add(listener);
  }

  async scan(field: string, opts: ScanOptions): Promise<ScanPage> {
    this.assertOpen();
    const keys = this.index.get(field)?.keys ?? [];
    const idx = this.index.get(field);
    const out: string[] = [];
    let i: number;
    if (opts.reverse) {
      i = opts.cursor && idx ? idx.lowerBound(Buffer.from(opts.cursor)) - 1 : keys.length - 1;
      for (; i >= 0 && out.length < opts.limit; i--) out.push(uidOfValueKey(keys[i] as Buffer)!);
      return i >= 0 ? { uids: out, cursor: keys[i + 1] } : { uids: out };
    }
    i = opts.cursor && idx ? idx.lowerBound(Buffer.from(opts.cursor)) : 0;
    if (opts.cursor && keys[i]?.equals(Buffer.from(opts.cursor))) i++;
    for (; i < keys.length && out.length < opts.limit; i++) out.push(uidOfValueKey(keys[i] as Buffer)!);
    return i < keys.length ? { uids: out, cursor: keys[i - 1] } : { uids: out };
  }

  async find(query: IndexQuery, limit?: number): Promise<string[]> {
    this.assertOpen();
    const idx = this.index.get(query.field);
    if (!idx) return [];
    const b = valueBounds(query);
    if (b.empty) return [];
    const out = new Set<string>();
    let read = 0;
    for (let i = b.gte ? idx.lowerBound(b.gte) : 0; i < idx.keys.length; i++) {
      if (limit !== undefined && read++ >= limit) break;
      const k = idx.keys[i] as Buffer;
      if (b.lt && Buffer.compare(k, b.lt) >= 0) break;
      const uid = uidOfValueKey(k);
      if (uid !== undefined) out.add(uid);
    }
    return [...out].sort(compareUids);
  }

  async count(): Promise<number> {
    this.assertOpen();
    return this.records.size;
  }

  async list(after: string | undefined, limit: number): Promise<string[]> {
    this.assertOpen();
    if (!(limit > 0)) return [];
    const start = after === undefined ? 0 : this.upperBound(after);
    return this.uids.slice(start, start + limit);
  }

  async snapshot(): Promise<StoreSnapshot> {
    this.assertOpen();
    // Stored bytes are never mutated in place (commits replace entries), so copying the
    // references is a consistent view.
    const records = this.uids.map((u) => [u, (this.records.get(u) as Entry).bytes] as const);
    const log = this.auditLog.slice();
    const head = { seq: log.length, link: Buffer.from(this.auditLink) };
    // Meta entries are replaced, never mutated: copying the references is a consistent view too.
    const meta = [...this.metaEntries.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return {
      count: records.length,
      auditHead: head,
      async *records() {
        for (const [uid, bytes] of records) yield decodeRecord(bytes, uid);
      },
      async *auditEntries(from = 1) {
        for (let seq = Math.max(1, Math.floor(from)); seq <= log.length; seq++) yield { seq, bytes: Buffer.from(log[seq - 1] as Buffer) };
      },
      async *metaEntries(prefix: string) {
        for (const [key, m] of meta) if (key.startsWith(prefix)) yield { key, revision: m.revision, value: Buffer.from(m.value) };
      },
      async close() {},
    };
  }

  private indexOf(t: IndexTerm): SortedKeys {
    let idx = this.index.get(t.field);
    if (!idx) {
      idx = new SortedKeys();
      this.index.set(t.field, idx);
    }
    return idx;
  }

  /** Index of the first uid > u. */
  private upperBound(u: string): number {
    let lo = 0;
    let hi = this.uids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareUids(this.uids[mid] as string, u) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private insertUid(u: string): void {
    this.uids.splice(this.upperBound(u), 0, u);
  }

  private removeUid(u: string): void {
    const i = this.upperBound(u) - 1;
    if (i >= 0 && this.uids[i] === u) this.uids.splice(i, 1);
  }
}
