/**
 * The embedded default store: LevelDB through classic-level. Layout in layout.ts.
 *
 * Commit path. `commit` only validates the op shapes and queues the commit; one writer
 * drains the queue. Each drain round takes every commit waiting (up to
 * `maxGroupCommits`), checks them in arrival order against the stored state plus the
 * effect of the commits before them in the same round (a commit that fails is rejected
 * on its own and leaves no trace; it is told once the round's batch has settled, so a caller
 * that re-reads after a CONFLICT sees what it conflicted with), and writes everything the accepted ones change —
 * records, index entries, the record count — in ONE `batch(…, { sync: true })`. Each
 * accepted commit resolves only after that synced batch has completed; if the batch
 * fails, all of them are rejected with IO and nothing was written. So concurrent commits
 * share one fsync (group commit), while each keeps its own all-or-nothing outcome and the
 * order they were called in.
 *
 * Deferred sync (CommitOptions.deferSync, audit-only commits): the queue is drained in runs
 * of one kind. A run of deferred commits is written in one batch WITHOUT sync and resolves
 * when LevelDB has handed it to the OS (each log record is flushed with write(2); a process
 * crash loses nothing); a sync is then due within `syncWindowMs`. Every synced batch also
 * puts again the entries written since the last sync (and the audit head): LevelDB closes a
 * full log file without fsync when it switches memtables, so a later fsync of the NEW log
 * would not cover them; written again in the synced batch they are durable whichever log
 * holds them. So the durable audit log is always a prefix of what was written.
 *
 * Reads (`get`, `find`, `list`) go straight to LevelDB; a batch is atomic, so they see a
 * commit entirely or not at all. `find` is a range scan over the index sublevel only.
 * `snapshot()` is a LevelDB explicit snapshot: the records, the count and the audit log
 * with its head are all read from it, so a backup sees one commit boundary.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';
import type { ObjectRecord } from '../../objects/managed-object.js';
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
} from '../object-store.js';
import { decodeMeta, encodeMeta, metaKeysOf, MetaWatchers, planMeta, RecordListeners, type MetaChange, type StoredMeta } from '../meta.js';
import { decodeRecord } from '../record-codec.js';
import { indexTerms } from '../index-encoding.js';
import { checkOps, planCommit, sealAudit, termDiff, uidsOf, type AuditHead, type Change, type Stored } from '../commit-plan.js';
import { CommitQueue, type PendingCommit } from '../commit-queue.js';
import { compareUids, fieldPrefix, uidOfValueKey, valueBounds, valueKey } from '../index-keys.js';
import { auditKey, MetaKey, SCHEMA_VERSION, Sublevel } from './layout.js';

export interface LevelStoreOptions {
  /** The database folder; created (with its parents) by `open()`. */
  readonly path: string;
  /** Most commits that share one synced batch. Default 64; 1 disables group commit. */
  readonly maxGroupCommits?: number;
  /**
   * For tools reading a stopped server's folder: the database must already exist (it is
   * not created, nor is a schema written) and `commit` is refused. LevelDB still takes the
   * folder's lock, so a running server's folder is refused (IO, "in use").
   */
  readonly readOnly?: boolean;
  /** Longest a deferred-sync commit waits for its sync, in ms (default 5). */
  readonly syncWindowMs?: number;
}

type Db = ClassicLevel<Uint8Array, Uint8Array>;

/** uid (UTF-8) → record bytes. */
const recordsOf = (db: Db) => db.sublevel<string, Uint8Array>(Sublevel.Records, { keyEncoding: 'utf8', valueEncoding: 'view' });
/** binary index key → empty. */
const indexOf = (db: Db) => db.sublevel<Uint8Array, Uint8Array>(Sublevel.Index, { keyEncoding: 'view', valueEncoding: 'view' });
/** meta key → decimal text. */
const metaOf = (db: Db) => db.sublevel<string, string>(Sublevel.Meta, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
/** audit key (auditKey) → entry bytes. */
const auditOf = (db: Db) => db.sublevel<string, Uint8Array>(Sublevel.Audit, { keyEncoding: 'utf8', valueEncoding: 'view' });
type Records = ReturnType<typeof recordsOf>;
/** server-metadata key → revision + value (src/store/meta.ts). */
const serverMetaOf = (db: Db) => db.sublevel<string, Uint8Array>(Sublevel.ServerMeta, { keyEncoding: 'utf8', valueEncoding: 'view' });
type ServerMeta = ReturnType<typeof serverMetaOf>;
type AuditLevel = ReturnType<typeof auditOf>;
type Index = ReturnType<typeof indexOf>;
type Meta = ReturnType<typeof metaOf>;

/** The result of `check()`: what a consistency scan found. */
export interface CheckReport {
  readonly records: number;
  readonly indexEntries: number;
  /** Human-readable problems; empty when the store is consistent. */
  readonly problems: string[];
}

function io(e: unknown, what: string): StoreError {
  if (e instanceof StoreError) return e;
  return new StoreError('IO', `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}

/** The `code` of an error or of one of its causes (classic-level wraps LEVEL_LOCKED). */
function causeCode(e: unknown): string | undefined {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 5; c = c.cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (code === 'LEVEL_LOCKED') return code;
  }
  return undefined;
}

function concat(a: Uint8Array, b: Uint8Array): Buffer {
  return Buffer.concat([a, b]);
}

export class LevelStore implements ObjectStore {
  /** One process holds the folder's lock: the only writer (record-cache.ts may sit in front). */
  readonly exclusiveWriter = true;
  readonly path: string;
  /** Told after each group write: how many commits it carried, how long the write took (metrics), and whether it was synced. */
  onGroupWritten: ((commits: number, seconds: number, synced: boolean) => void) | undefined;
  /** Told when a due sync of deferred entries failed (it is retried after another window). */
  onDeferredSyncFailed: ((e: unknown) => void) | undefined;
  /** Batches written: with sync, and without (deferred commits). */
  readonly writes = { synced: 0, unsynced: 0 };
  private readonly syncWindowMs: number;
  /** Audit entries written without sync since the last synced batch (put again by the next one). */
  private unsynced: AuditEntry[] = [];
  private syncTimer: NodeJS.Timeout | undefined;
  private db: Db | undefined;
  private rec!: Records;
  private index!: Index;
  private sysMeta!: Meta;
  private serverMeta!: ServerMeta;
  private readonly watchers = new MetaWatchers();
  private readonly recordListeners = new RecordListeners();
  private state: 'new' | 'open' | 'closing' | 'closed' = 'new';
  private readonly commits: CommitQueue;
  private closing: Promise<void> | undefined;
  private recordCount = 0;
  private auditLevel!: AuditLevel;
  private auditHead: AuditHead = { seq: 0, link: new Uint8Array(0) };
  private readonly snapshots = new Set<{ close(): Promise<void> }>();
  /** Each sublevel's key prefix: the write path puts prefixed keys on the root batch (see `rawKey`). */
  private prefixes!: Record<'rec' | 'index' | 'sysMeta' | 'audit' | 'serverMeta', Buffer>;
  private readonly readOnly: boolean;

  readonly audit: AuditLogReader = {
    read: async (from: number, limit: number): Promise<AuditEntry[]> => {
      this.assertReadable();
      if (!(limit > 0)) return [];
      try {
        const entries = await this.auditLevel.iterator({ gte: auditKey(Math.max(1, Math.floor(from))), limit }).all();
        return entries.map(([k, v]) => ({ seq: parseInt(k, 16), bytes: v }));
      } catch (e) {
        throw io(e, 'audit read');
      }
    },
    head: () => this.auditHead,
  };

  /** Server metadata: the `s` sublevel (layout.ts, src/store/meta.ts). */
  readonly meta: MetaSpace = {
    get: async (key: string): Promise<MetaEntry | undefined> => {
      this.assertReadable();
      let bytes: Uint8Array | undefined;
      try {
        bytes = await this.serverMeta.get(key);
      } catch (e) {
        throw io(e, `meta get ${key}`);
      }
      return bytes && decodeMeta(key, bytes);
    },
    list: async (prefix: string, opts: { after?: string; limit: number }): Promise<MetaEntry[]> => {
      this.assertReadable();
      if (!(opts.limit > 0)) return [];
      // Printable ASCII keys: every key with the prefix sorts before prefix + DEL (0x7f).
      const range = { ...(opts.after !== undefined && opts.after >= prefix ? { gt: opts.after } : { gte: prefix }), lt: `${prefix}\x7f`, limit: opts.limit };
      try {
        const entries = await this.serverMeta.iterator(range).all();
        return entries.map(([k, v]) => decodeMeta(k, v));
      } catch (e) {
        throw io(e, 'meta list');
      }
    },
    watch: (prefix, listener) => this.watchers.add(prefix, listener),
  };

  constructor(opts: LevelStoreOptions | string) {
    const o = typeof opts === 'string' ? { path: opts } : opts;
    this.path = o.path;
    // writeGroup settles every commit itself; a throw is only the last resort.
    this.commits = new CommitQueue({ maxGroup: Math.max(1, Math.floor(o.maxGroupCommits ?? 64)), write: (group) => this.writeGroup(group), lastResort: (e) => io(e, 'commit') });
    this.readOnly = o.readOnly === true;
    this.syncWindowMs = Math.max(0, o.syncWindowMs ?? 5);
  }

  /** Audit entries written but not yet synced. */
  get pendingSync(): number {
    return this.unsynced.length;
  }

  async open(): Promise<void> {
    if (this.state === 'open') return;
    if (this.state !== 'new') throw new StoreError('CLOSED', 'store is closed');
    let db: Db | undefined;
    try {
      if (!this.readOnly) await mkdir(this.path, { recursive: true });
      // LevelDB makes the folder (and its LOCK) even when told not to create a database.
      else if (!existsSync(join(this.path, 'CURRENT'))) throw new StoreError('IO', `no database at ${this.path}`);
      db = new ClassicLevel<Uint8Array, Uint8Array>(this.path, { keyEncoding: 'view', valueEncoding: 'view', createIfMissing: !this.readOnly });
      await db.open();
    } catch (e) {
      if (causeCode(e) === 'LEVEL_LOCKED') throw new StoreError('IO', `${this.path} is in use: another process (a running server?) holds its lock`, { cause: e });
      throw io(e, `cannot open ${this.path}`);
    }
    try {
      this.rec = recordsOf(db);
      this.index = indexOf(db);
      this.sysMeta = metaOf(db);
      this.auditLevel = auditOf(db);
      this.serverMeta = serverMetaOf(db);
      this.prefixes = {
        rec: Buffer.from(this.rec.prefix, 'utf8'),
        index: Buffer.from(this.index.prefix, 'utf8'),
        sysMeta: Buffer.from(this.sysMeta.prefix, 'utf8'),
        audit: Buffer.from(this.auditLevel.prefix, 'utf8'),
        serverMeta: Buffer.from(this.serverMeta.prefix, 'utf8'),
      };
      const schema = await this.sysMeta.get(MetaKey.Schema);
      if (schema === undefined && this.readOnly) throw new StoreError('CORRUPT', `${this.path} is not a kms database (no schema version)`);
      if (schema === undefined) {
        const anyKey = await db.keys({ limit: 1 }).all();
        if (anyKey.length > 0) throw new StoreError('CORRUPT', `${this.path} holds data but no schema version`);
        await db.batch(
          [
            { type: 'put', sublevel: this.sysMeta, key: MetaKey.Schema, value: String(SCHEMA_VERSION) },
            { type: 'put', sublevel: this.sysMeta, key: MetaKey.Count, value: '0' },
          ],
          { sync: true },
        );
        this.recordCount = 0;
      } else {
        if (!/^[1-9][0-9]{0,8}$/.test(schema)) throw new StoreError('CORRUPT', `bad schema version ${JSON.stringify(schema)}`);
        const v = Number(schema);
        if (v > SCHEMA_VERSION) {
          throw new StoreError('SCHEMA', `${this.path} has schema version ${v}, newer than this server's ${SCHEMA_VERSION}`);
        }
        // v < SCHEMA_VERSION: migrations go here once there is a version 2.
        const count = await this.sysMeta.get(MetaKey.Count);
        if (count === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(count)) throw new StoreError('CORRUPT', 'bad record count');
        this.recordCount = Number(count);
        this.auditHead = parseAuditHead(await this.sysMeta.get(MetaKey.AuditHead));
      }
    } catch (e) {
      await db.close().catch(() => undefined);
      throw io(e, `cannot open ${this.path}`);
    }
    this.db = db;
    this.state = 'open';
  }

  /** Waits for queued and in-flight commits, then closes. New commits are refused meanwhile. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    if (this.state === 'new' || this.state === 'closed') {
      this.state = 'closed';
      return Promise.resolve();
    }
    this.state = 'closing';
    this.closing = (async () => {
      await this.commits.idle();
      clearTimeout(this.syncTimer);
      this.syncTimer = undefined;
      if (this.unsynced.length > 0) await this.syncNow().catch(() => undefined);
      for (const snap of [...this.snapshots]) await snap.close().catch(() => undefined);
      try {
        await this.db?.close();
      } finally {
        this.db = undefined;
        this.state = 'closed';
      }
    })();
    return this.closing;
  }

  private assertReadable(): Db {
    if (this.state !== 'open' && this.state !== 'closing') throw new StoreError('CLOSED', `store is ${this.state === 'new' ? 'not open' : 'closed'}`);
    return this.db as Db;
  }

  async get(uid: string): Promise<ObjectRecord | undefined> {
    this.assertReadable();
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.rec.get(uid);
    } catch (e) {
      throw io(e, `get ${uid}`);
    }
    return bytes && decodeRecord(bytes, uid);
  }

  commit(ops: readonly CommitOp[], options?: CommitOptions): Promise<void> {
    if (this.state !== 'open') return Promise.reject(new StoreError('CLOSED', `store is ${this.state === 'new' ? 'not open' : 'closed'}`));
    if (this.readOnly) return Promise.reject(new StoreError('CLOSED', 'store is open read-only'));
    try {
      checkOps(ops);
    } catch (e) {
      return Promise.reject(e);
    }
    const deferred = options?.deferSync === true && ops.length === 0 && (options.audit?.length ?? 0) > 0;
    return new Promise<void>((resolve, reject) => {
      this.commits.push({ ops, options, deferred, resolve, reject });
    });
  }

  /** A synced write of whatever is written but not yet synced (an empty synced commit). */
  private syncNow(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.commits.push({ ops: [], options: undefined, deferred: false, resolve, reject });
    });
  }

  private armSync(): void {
    if (this.syncTimer || this.unsynced.length === 0) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      if (this.state !== 'open' || this.unsynced.length === 0) return;
      this.syncNow().catch((e: unknown) => {
        this.onDeferredSyncFailed?.(e);
        this.armSync();
      });
    }, this.syncWindowMs);
    this.syncTimer.unref();
  }

  /** Check and write one group of commits in one synced batch (see the file comment). */
  private async writeGroup(group: PendingCommit[]): Promise<void> {
    const db = this.db as Db;
    // The stored state of every uid the group touches, read once.
    const uids = [...new Set(group.flatMap((p) => uidsOf(p.ops)))];
    let stored: (Uint8Array | undefined)[];
    try {
      stored = uids.length === 0 ? [] : await this.rec.getMany(uids);
    } catch (e) {
      const err = io(e, 'commit: reading current records');
      for (const p of group) p.reject(err);
      return;
    }
    const base = new Map<string, Uint8Array | undefined>();
    uids.forEach((u, i) => base.set(u, stored[i]));
    // The stored state of every meta key the group touches.
    const metaKeys = [...new Set(group.flatMap((p) => metaKeysOf(p.ops)))];
    const baseMeta = new Map<string, StoredMeta | undefined>();
    try {
      const got = metaKeys.length === 0 ? [] : await this.serverMeta.getMany(metaKeys);
      metaKeys.forEach((k, i) => {
        const b = got[i];
        baseMeta.set(k, b && decodeMeta(k, b));
      });
    } catch (e) {
      const err = io(e, 'commit: reading current metadata');
      for (const p of group) p.reject(err);
      return;
    }
    const decoded = new Map<string, Stored | undefined>();
    const baseState = (uid: string): Stored | undefined => {
      if (decoded.has(uid)) return decoded.get(uid);
      const b = base.get(uid);
      // A record we cannot decode cannot be replaced: its old index entries are unknown.
      const s =
        b &&
        (() => {
          const r = decodeRecord(b, uid);
          return { revision: r.revision, terms: indexTerms(r) };
        })();
      decoded.set(uid, s);
      return s;
    };

    // The group's net effect per uid: state before the group, state after the last accepted commit.
    const net = new Map<string, Change>();
    const netMeta = new Map<string, MetaChange>();
    const accepted: PendingCommit[] = [];
    // Commits refused while planning (a conflict with an earlier commit of this group, say) are
    // told only once the group's batch has settled: a caller that re-reads on CONFLICT must see
    // the state it conflicted with, not the one before a batch still being written.
    const refused: { p: PendingCommit; e: unknown }[] = [];
    const refuse = () => {
      for (const r of refused) r.p.reject(r.e);
    };
    const audit: AuditEntry[] = [];
    let auditHead = this.auditHead;
    for (const p of group) {
      let changes: Map<string, Change>;
      let metaChanges: Map<string, MetaChange>;
      let sealed: ReturnType<typeof sealAudit>;
      try {
        changes = planCommit(p.ops, (uid) => {
          const n = net.get(uid);
          return n ? n.after : baseState(uid);
        });
        metaChanges = planMeta(p.ops, (key) => {
          const n = netMeta.get(key);
          return n ? n.after : baseMeta.get(key);
        });
        sealed = sealAudit(p.options?.audit, auditHead);
      } catch (e) {
        refused.push({ p, e });
        continue;
      }
      audit.push(...sealed.entries);
      auditHead = sealed.head;
      for (const ch of changes.values()) {
        const n = net.get(ch.uid);
        if (n) n.after = ch.after;
        else net.set(ch.uid, { uid: ch.uid, before: ch.before, after: ch.after });
      }
      for (const m of metaChanges.values()) {
        const n = netMeta.get(m.key);
        if (n) n.after = m.after;
        else netMeta.set(m.key, { key: m.key, before: m.before, after: m.after });
      }
      accepted.push(p);
    }
    if (accepted.length === 0) return refuse();

    let count = this.recordCount;
    // Keys prefixed here and put on the root batch: the same bytes the sublevels would write,
    // without abstract-level's per-op sublevel delegation (3-8x the cost of a root put, and
    // most of a Create's write time: one put per index term).
    const P = this.prefixes;
    const batch = db.batch();
    for (const ch of net.values()) {
      if (ch.after) batch.put(rawKey(P.rec, ch.uid), ch.after.bytes);
      else if (ch.before) batch.del(rawKey(P.rec, ch.uid));
      if (!ch.before && ch.after) count++;
      else if (ch.before && !ch.after) count--;
      const { removed, added } = termDiff(ch);
      for (const t of removed) batch.del(Buffer.concat([P.index, fieldPrefix(t.field), valueKey(t.value, ch.uid)]));
      for (const t of added) batch.put(Buffer.concat([P.index, fieldPrefix(t.field), valueKey(t.value, ch.uid)]), EMPTY);
    }
    for (const m of netMeta.values()) {
      if (m.after) batch.put(rawKey(P.serverMeta, m.key), encodeMeta(m.after));
      else if (m.before) batch.del(rawKey(P.serverMeta, m.key));
    }
    if (count !== this.recordCount) batch.put(rawKey(P.sysMeta, MetaKey.Count), Buffer.from(String(count), 'utf8'));
    const sync = !group[0]!.deferred;
    // A synced batch makes the entries written without sync durable too (see the file comment).
    const again = sync ? this.unsynced : [];
    for (const e of again) batch.put(rawKey(P.audit, auditKey(e.seq)), e.bytes);
    for (const e of audit) batch.put(rawKey(P.audit, auditKey(e.seq)), e.bytes);
    if (audit.length > 0 || again.length > 0) batch.put(rawKey(P.sysMeta, MetaKey.AuditHead), Buffer.from(`${auditHead.seq} ${Buffer.from(auditHead.link).toString('hex')}`, 'utf8'));
    const hasData = batch.length > 0;
    const t0 = performance.now();
    try {
      await batch.write({ sync });
    } catch (e) {
      const err = io(e, 'commit: writing the batch');
      for (const p of accepted) p.reject(err);
      return refuse();
    }
    if (hasData) this.writes[sync ? 'synced' : 'unsynced']++;
    this.onGroupWritten?.(accepted.length, (performance.now() - t0) / 1000, sync);
    this.recordCount = count;
    this.auditHead = auditHead;
    if (sync) {
      this.unsynced = [];
      clearTimeout(this.syncTimer);
      this.syncTimer = undefined;
    } else {
      this.unsynced.push(...audit);
      this.armSync();
    }
    this.watchers.changed(netMeta.keys());
    this.recordListeners.changed(net.keys());
    for (const p of accepted) p.resolve();
    refuse();
  }

  onRecordsChanged(listener: (uids: readonly string[], origin: ChangeOrigin) => void): () => void {
    return this.recordListeners.add(listener);
  }

  async scan(field: string, opts: ScanOptions): Promise<ScanPage> {
    this.assertReadable();
    const prefix = fieldPrefix(field);
    const after = opts.cursor ? concat(prefix, opts.cursor) : undefined;
    const range = opts.reverse
      ? { gte: prefix, lt: after ?? upperOfPrefix(prefix), reverse: true, limit: opts.limit }
      : { ...(after ? { gt: after } : { gte: prefix }), lt: upperOfPrefix(prefix), limit: opts.limit };
    let keys: Uint8Array[];
    try {
      keys = await this.index.keys(range).all();
    } catch (e) {
      throw io(e, 'scan');
    }
    const uids = keys.map((k) => {
      const uid = uidOfValueKey(k, prefix.length);
      if (uid === undefined) throw new StoreError('CORRUPT', 'malformed index key');
      return uid;
    });
    const last = keys[keys.length - 1];
    return keys.length === opts.limit && last ? { uids, cursor: Buffer.from(last.subarray(prefix.length)) } : { uids };
  }

  async find(query: IndexQuery, limit?: number): Promise<string[]> {
    this.assertReadable();
    const b = valueBounds(query);
    if (b.empty) return [];
    const prefix = fieldPrefix(query.field);
    const gte = b.gte ? concat(prefix, b.gte) : prefix;
    const lt = b.lt ? concat(prefix, b.lt) : upperOfPrefix(prefix);
    let keys: Uint8Array[];
    try {
      keys = await this.index.keys({ gte, lt, ...(limit !== undefined && { limit }) }).all();
    } catch (e) {
      throw io(e, 'find');
    }
    const out = new Set<string>();
    for (const k of keys) {
      const uid = uidOfValueKey(k, prefix.length);
      if (uid === undefined) throw new StoreError('CORRUPT', 'malformed index key');
      out.add(uid);
    }
    const uids = [...out];
    // One field value: already in uid order. Several values: merge by sorting.
    return 'equals' in query || limit !== undefined ? uids : uids.sort(compareUids);
  }

  async count(): Promise<number> {
    this.assertReadable();
    return this.recordCount;
  }

  async list(after: string | undefined, limit: number): Promise<string[]> {
    this.assertReadable();
    if (!(limit > 0)) return [];
    try {
      return await this.rec.keys(after === undefined ? { limit } : { gt: after, limit }).all();
    } catch (e) {
      throw io(e, 'list');
    }
  }

  async snapshot(): Promise<StoreSnapshot> {
    const db = this.assertReadable();
    const snap = db.snapshot();
    let count: number;
    let auditHead: AuditHead;
    try {
      const c = await this.sysMeta.get(MetaKey.Count, { snapshot: snap });
      if (c === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(c)) throw new StoreError('CORRUPT', 'bad record count');
      count = Number(c);
      auditHead = parseAuditHead(await this.sysMeta.get(MetaKey.AuditHead, { snapshot: snap }));
    } catch (e) {
      await snap.close().catch(() => undefined);
      throw io(e, 'snapshot');
    }
    const rec = this.rec;
    const audit = this.auditLevel;
    const serverMeta = this.serverMeta;
    let closed = false;
    const handle = {
      close: async () => {
        if (closed) return;
        closed = true;
        this.snapshots.delete(handle);
        await snap.close();
      },
    };
    this.snapshots.add(handle);
    return {
      count,
      auditHead,
      async *records() {
        for await (const [uid, bytes] of rec.iterator({ snapshot: snap })) yield decodeRecord(bytes, uid);
      },
      async *auditEntries(from = 1) {
        for await (const [k, v] of audit.iterator({ snapshot: snap, gte: auditKey(Math.max(1, Math.floor(from))) })) yield { seq: parseInt(k, 16), bytes: v };
      },
      async *metaEntries(prefix: string) {
        // Printable ASCII keys: every key with the prefix sorts before prefix + DEL (0x7f).
        for await (const [k, v] of serverMeta.iterator({ snapshot: snap, gte: prefix, lt: `${prefix}\x7f` })) yield decodeMeta(k, v);
      },
      close: handle.close,
    };
  }

  /**
   * A full consistency scan (for tests, and later a `kms store check`): every record
   * decodes under its own uid, the index holds exactly the terms of the records, and the
   * stored count is right. Reads everything; not for the request path.
   */
  async check(): Promise<CheckReport> {
    this.assertReadable();
    const problems: string[] = [];
    const expected = new Set<string>();
    let records = 0;
    for await (const [uid, bytes] of this.rec.iterator()) {
      records++;
      try {
        const r = decodeRecord(bytes, uid);
        for (const t of indexTerms(r)) expected.add(concat(fieldPrefix(t.field), valueKey(t.value, uid)).toString('latin1'));
      } catch (e) {
        problems.push(`record ${uid}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    let indexEntries = 0;
    for await (const k of this.index.keys()) {
      indexEntries++;
      const id = Buffer.from(k).toString('latin1');
      if (!expected.delete(id)) problems.push(`stale index entry ${JSON.stringify(id)}`);
    }
    for (const id of expected) problems.push(`missing index entry ${JSON.stringify(id)}`);
    if (records !== this.recordCount) problems.push(`count says ${this.recordCount}, found ${records} records`);
    const stored = await this.sysMeta.get(MetaKey.Count);
    if (stored !== String(records)) problems.push(`stored count ${String(stored)}, found ${records} records`);
    return { records, indexEntries, problems };
  }
}

const EMPTY = new Uint8Array(0);

/** A sublevel's UTF-8 key with the sublevel's prefix, as the root database stores it. */
function rawKey(prefix: Buffer, key: string): Buffer {
  const k = Buffer.allocUnsafe(prefix.length + Buffer.byteLength(key, 'utf8'));
  prefix.copy(k, 0);
  k.write(key, prefix.length, 'utf8');
  return k;
}

/** The stored audit head ("seq hexlink"), absent in a folder that never wrote one. */
function parseAuditHead(head: string | undefined): AuditHead {
  if (head === undefined) return { seq: 0, link: new Uint8Array(0) };
  const m = /^([1-9][0-9]{0,15}) ([0-9a-f]*)$/.exec(head);
  if (!m) throw new StoreError('CORRUPT', 'bad audit head');
  return { seq: Number(m[1]), link: Buffer.from(m[2]!, 'hex') };
}

/** Just past every key that starts with a terminated component (…00 01 → …00 02). */
function upperOfPrefix(prefix: Buffer): Buffer {
  const u = Buffer.from(prefix);
  u[u.length - 1] = 0x02;
  return u;
}
