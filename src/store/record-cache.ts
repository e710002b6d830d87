/**
 * A bounded cache of decoded records in front of a store (a decorator over the ObjectStore
 * contract): a Get of a hot key costs a map lookup and a copy instead of a LevelDB read and
 * a TTLV decode.
 *
 * Only for a store with one writer (`exclusiveWriter`: LevelStore, MemoryStore), where every
 * change goes through this process. A store other processes also commit to (PostgreSQL, a
 * cluster) is never wrapped: `withRecordCache` hands it back as it is, since a cached record
 * could be another node's stale copy.
 *
 * Invalidation, in the commit path: a commit with record ops drops every uid it touches
 * before it starts and again when it settles (resolved or rejected: a failed or conflicting
 * commit is a rollback, and the store may have changed under it), before the caller hears
 * of it. While a commit touching a uid is in flight, reads of that uid go to the store and
 * are not cached. A read that misses and fills the cache does so only if no record commit
 * settled while it read (a global epoch), so a read that began before a change can never
 * park its older record in the cache after the change is acknowledged. Commits without
 * record ops (audit-only, metadata) leave the cache alone.
 *
 * Callers cannot mutate a cached record: records are plain objects holding a Map and byte
 * arrays, neither of which Object.freeze protects, so every hit returns a deep copy
 * (copy-on-read; bench/record-cache.ts measures it against a decode and a freeze).
 *
 * Bounds: `maxEntries` records and `maxBytes` (an estimate of each record's size: its
 * bytes and strings plus a fixed overhead per node); least recently used first out.
 */
import type { AttributeMap, ObjectRecord } from '../objects/managed-object.js';
import type { TtlvNode } from '../ttlv/node.js';
import type { AuditLogReader, ChangeOrigin, CommitOp, CommitOptions, IndexQuery, MetaSpace, ObjectStore, ScanOptions, ScanPage, StoreSnapshot } from './object-store.js';

export interface RecordCacheConfig {
  /** Most records held; 0 turns the cache off. */
  readonly maxEntries?: number;
  /** Most bytes held (estimated); 0 turns the cache off. */
  readonly maxBytes?: number;
}

export const DEFAULT_RECORD_CACHE: Required<RecordCacheConfig> = { maxEntries: 10_000, maxBytes: 32 * 1024 * 1024 };

export interface RecordCacheStats {
  readonly entries: number;
  readonly bytes: number;
  readonly hits: number;
  readonly misses: number;
  readonly evictions: number;
}

interface Cached {
  readonly record: ObjectRecord;
  readonly size: number;
}

/** Fixed overhead counted per object (record, node, array, map entry). */
const NODE_OVERHEAD = 48;

function nodeSize(n: TtlvNode): number {
  const v = n.value;
  if (n.type === 'Structure') {
    let s = NODE_OVERHEAD;
    for (const c of n.value) s += nodeSize(c);
    return s;
  }
  if (typeof v === 'string') return NODE_OVERHEAD + 2 * v.length;
  if (v instanceof Uint8Array) return NODE_OVERHEAD + v.byteLength;
  return NODE_OVERHEAD;
}

/** An estimate of the memory a decoded record holds. */
export function recordSize(r: ObjectRecord): number {
  let s = NODE_OVERHEAD + 2 * (r.uid.length + r.owner.length + (r.kekId?.length ?? 0) + (r.hsmKey?.length ?? 0)) + (r.sealedBody?.byteLength ?? 0);
  for (const [k, nodes] of r.attributes) {
    s += NODE_OVERHEAD + 2 * k.length;
    for (const n of nodes) s += nodeSize(n);
  }
  return s;
}

function copyBytes(b: Uint8Array): Uint8Array {
  return Buffer.isBuffer(b) ? Buffer.from(b) : new Uint8Array(b);
}

function copyNode(n: TtlvNode): TtlvNode {
  switch (n.type) {
    case 'Structure':
      return { tag: n.tag, type: n.type, value: n.value.map(copyNode) };
    case 'BigInteger':
    case 'ByteString':
      return { tag: n.tag, type: n.type, value: copyBytes(n.value) };
    default:
      // Same shape as the decoder's nodes (tag, type, value): one hidden class, no spread.
      return { tag: n.tag, type: n.type, value: n.value } as TtlvNode;
  }
}

/** A deep copy: shares nothing mutable with `r` (strings and bigints are immutable). */
export function copyRecord(r: ObjectRecord): ObjectRecord {
  const attributes = new Map<string, readonly TtlvNode[]>();
  for (const [k, nodes] of r.attributes) attributes.set(k, nodes.map(copyNode));
  const out: Record<string, unknown> = { ...r, attributes: attributes as AttributeMap };
  if (r.sealedBody) out['sealedBody'] = copyBytes(r.sealedBody);
  if (r.serverDefaults) out['serverDefaults'] = [...r.serverDefaults];
  return out as unknown as ObjectRecord;
}

function recordUids(ops: readonly CommitOp[]): string[] {
  const out: string[] = [];
  for (const op of ops) {
    if (op.type === 'put') out.push(op.record.uid);
    else if (op.type === 'delete') out.push(op.uid);
  }
  return out;
}

export class RecordCache implements ObjectStore {
  readonly exclusiveWriter = true;
  private readonly limits: Required<RecordCacheConfig>;
  /** uid → cached record, least recently used first (Map order). */
  private readonly entries = new Map<string, Cached>();
  private bytes = 0;
  /** uid → number of commits touching it still in flight. */
  private readonly busy = new Map<string, number>();
  /** Bumped whenever a commit with record ops settles. */
  private epoch = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;

  constructor(
    readonly inner: ObjectStore,
    config: RecordCacheConfig = {},
  ) {
    this.limits = { ...DEFAULT_RECORD_CACHE, ...config };
  }

  get audit(): AuditLogReader {
    return this.inner.audit;
  }

  get meta(): MetaSpace {
    return this.inner.meta;
  }

  /** The inner store's change listeners (the store contract's optional onRecordsChanged). */
  onRecordsChanged(listener: (uids: readonly string[], origin: ChangeOrigin) => void): () => void {
    return this.inner.onRecordsChanged?.(listener) ?? (() => undefined);
  }

  stats(): RecordCacheStats {
    return { entries: this.entries.size, bytes: this.bytes, hits: this.hits, misses: this.misses, evictions: this.evictions };
  }

  open(): Promise<void> {
    return this.inner.open();
  }

  async close(): Promise<void> {
    this.clear();
    await this.inner.close();
  }

  /** Drop everything. */
  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }

  async get(uid: string): Promise<ObjectRecord | undefined> {
    const hit = this.entries.get(uid);
    if (hit) {
      this.hits++;
      // Most recently used: to the end of the map's order.
      this.entries.delete(uid);
      this.entries.set(uid, hit);
      return copyRecord(hit.record);
    }
    this.misses++;
    const epoch = this.epoch;
    const r = await this.inner.get(uid);
    if (r && this.epoch === epoch && !this.busy.has(uid)) {
      // The store's decoded object is kept; the caller gets a copy.
      this.insert(uid, r);
      return copyRecord(r);
    }
    return r;
  }

  async commit(ops: readonly CommitOp[], options?: CommitOptions): Promise<void> {
    const uids = recordUids(ops);
    if (uids.length === 0) return this.inner.commit(ops, options);
    for (const u of uids) {
      this.drop(u);
      this.busy.set(u, (this.busy.get(u) ?? 0) + 1);
    }
    try {
      await this.inner.commit(ops, options);
    } finally {
      // Before the caller hears of the outcome (success or rollback): no stale entry survives.
      this.epoch++;
      for (const u of uids) {
        this.drop(u);
        const n = (this.busy.get(u) ?? 1) - 1;
        if (n > 0) this.busy.set(u, n);
        else this.busy.delete(u);
      }
    }
  }

  find(query: IndexQuery, limit?: number): Promise<string[]> {
    return this.inner.find(query, limit);
  }

  scan(field: string, opts: ScanOptions): Promise<ScanPage> {
    return this.inner.scan(field, opts);
  }

  count(): Promise<number> {
    return this.inner.count();
  }

  list(after: string | undefined, limit: number): Promise<string[]> {
    return this.inner.list(after, limit);
  }

  snapshot(): Promise<StoreSnapshot> {
    return this.inner.snapshot();
  }

  private drop(uid: string): void {
    const e = this.entries.get(uid);
    if (!e) return;
    this.entries.delete(uid);
    this.bytes -= e.size;
  }

  private insert(uid: string, record: ObjectRecord): void {
    const size = recordSize(record);
    if (size > this.limits.maxBytes) return;
    this.drop(uid);
    this.entries.set(uid, { record, size });
    this.bytes += size;
    while (this.entries.size > this.limits.maxEntries || this.bytes > this.limits.maxBytes) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.drop(oldest.value);
      this.evictions++;
    }
  }
}

/**
 * `store` behind a record cache, or `store` itself when the cache is off (a limit of 0) or
 * the store is not its data's only writer (see the file comment).
 */
export function withRecordCache(store: ObjectStore, config: RecordCacheConfig = {}): ObjectStore {
  const limits = { ...DEFAULT_RECORD_CACHE, ...config };
  if (store.exclusiveWriter !== true || limits.maxEntries <= 0 || limits.maxBytes <= 0) return store;
  return new RecordCache(store, limits);
}
