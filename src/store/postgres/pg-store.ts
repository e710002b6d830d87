/**
 * The PostgreSQL store: one database shared by every node of a cluster. Schema in schema.ts;
 * the whole design in docs/store-postgresql.md.
 *
 * Commit path. `commit` validates the op shapes and queues the commit; one writer per process
 * drains the queue. Each drain round takes the commits waiting (up to `maxGroupCommits`, one
 * kind: deferred or not) into ONE transaction on a pooled connection:
 *   BEGIN; SELECT … FROM kms_head FOR UPDATE   (serializes the writers of every node)
 *   read the revisions of every uid and meta key of the group, FOR UPDATE (one query each);
 *   plan the commits in call order against them (commit-plan.ts, meta.ts: a stale revision is
 *     CONFLICT, rejected on its own with nothing written), sealing each one's audit entries after
 *     the head;
 *   SAVEPOINT g; write the group's net effect in a few batched statements with revision-checked
 *     SQL (UPDATE … WHERE uid = … AND revision = …, INSERT for new uids where a unique violation
 *     is CONFLICT, DELETE … AND revision = …), so a lost race is CONFLICT and never a silent
 *     overwrite; the index terms of every changed uid are rewritten;
 *   if a statement fails (a writer that bypassed the head lock, a uid too long to index):
 *     ROLLBACK TO SAVEPOINT g and write the commits one by one, each in its own SAVEPOINT (read,
 *     plan and seal again), so only the culprit fails;
 *   UPDATE kms_head; SELECT pg_notify(…); COMMIT.
 * A group of N commits costs about ten round trips whatever N, not ten per commit.
 * Each accepted commit resolves once COMMIT returned (durable as the server's
 * synchronous_commit says: `on`, the default, is a local WAL flush; with
 * synchronous_standby_names set, `on` also waits for the synchronous standby to have flushed it,
 * so a failover loses no acknowledged commit). If COMMIT fails, every commit of the group is
 * rejected with IO: the caller sees a failed commit, never a half one (a connection lost during
 * COMMIT itself leaves the outcome unknown to us, as with any database: the revision checks make
 * a retry safe, it gets CONFLICT if the first attempt did land).
 *
 * Deferred sync (CommitOptions.deferSync, audit-only commits): their transactions run with
 * `SET LOCAL synchronous_commit TO off`. COMMIT then returns once the commit is in the
 * database server's WAL buffers, without waiting for the flush: a crash of the kms process
 * loses nothing (the entries are the database's), the WAL writer flushes them within its window
 * (wal_writer_delay, at most three of them), and any later synchronous commit flushes the WAL up
 * to and past them first. WAL is sequential, so a crash of the database server can lose only a
 * tail of the log: the contract's "a power loss can only lose a tail". (`local` would still wait
 * for a local fsync per transaction, which is what deferSync exists to avoid.)
 *
 * Change feed. In the same transaction (so it is delivered only if the transaction commits),
 * `pg_notify(channel, payload)` with the node id, the changed uids, the changed meta keys and the
 * new audit head. A dedicated LISTEN connection hands other nodes' notifications to `meta.watch`
 * watchers, `onRecordsChanged` listeners and the cached audit head. A payload over NOTIFY's
 * limit says "everything changed" ('*') instead; a lost LISTEN connection is reconnected and then
 * says "everything changed" too, and the head is read again.
 *
 * `audit.head()` is synchronous: the head is cached (read at open, updated after own commits and
 * from notifications). Reads go straight to the pool. `snapshot()` is a REPEATABLE READ, READ
 * ONLY transaction on a connection of its own.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { ObjectRecord } from '../../objects/managed-object.js';
import {
  EVERYTHING,
  StoreError,
  type AuditAppend,
  type AuditEntry,
  type AuditLogReader,
  type ChangeOrigin,
  type CommitOp,
  type CommitOptions,
  type IndexQuery,
  type MetaEntry,
  type MetaSpace,
  type ObjectStore,
  type ScanOptions,
  type ScanPage,
  type StoreSnapshot,
} from '../object-store.js';
import { metaKeysOf, MetaWatchers, planMeta, RecordListeners, type MetaChange, type StoredMeta } from '../meta.js';
import { decodeRecord } from '../record-codec.js';
import { checkOps, planCommit, termId, uidsOf, type AuditHead, type Change, type Stored } from '../commit-plan.js';
import { CommitQueue, type PendingCommit } from '../commit-queue.js';
import { component } from '../index-keys.js';
import { checkSchema, INDEX_PREFIX_BYTES, migrate } from './schema.js';

export interface PgStoreOptions {
  /** postgresql://user:password@host:port/database?… (handed to `pg` as is; never logged). */
  readonly url: string;
  /** Most connections of the pool (reads, the commit writer; not LISTEN nor snapshots). Default 10. */
  readonly poolSize?: number;
  /** Most commits that share one transaction. Default 64; 1 disables group commit. */
  readonly maxGroupCommits?: number;
  /**
   * The SQL schema that holds the store's tables (created if missing), so that several stores
   * can share one database. Default: the connection's search_path (normally `public`).
   */
  readonly schema?: string;
  /** The NOTIFY channel of the change feed. Default 'kms_store_changes', or 'kms_store_changes_<schema>' with `schema`. */
  readonly channel?: string;
  /** Longest wait for a new connection, in ms (default 10000). */
  readonly connectTimeoutMs?: number;
  /**
   * Longest wait for the answer to one query, in ms (default 30000; 0: no limit). A database that
   * stopped answering (a partition, a paused primary) fails the commit with IO after this, rather
   * than holding every commit queued behind it; the connection is then dropped.
   */
  readonly queryTimeoutMs?: number;
  /**
   * Longest a transaction of this store may sit idle on the database, in ms (default 5000; 0: the
   * database's own idle_in_transaction_session_timeout). Every write transaction of every node
   * locks the head row first: a node frozen in the middle of one (SIGSTOP, a paused VM, a
   * partition) would hold every other node's writes until it resumes. PostgreSQL ends such a
   * session after this long (its transaction rolls back: nothing of it was acknowledged) and the
   * other nodes go on. Snapshots (backups, verify) are exempt: they are read-only and may pause
   * between pages for as long as their consumer needs.
   */
  readonly idleTransactionTimeoutMs?: number;
  /**
   * Only read (`kms keys --store`, `kms audit --store`): the schema is neither created nor
   * migrated (a database without this server's schema is refused SCHEMA) and commits are refused.
   */
  readonly readOnly?: boolean;
  /** This node's id in change notifications (its own are not handed back). Default random. */
  readonly nodeId?: string;
  /** Told when the LISTEN connection was lost (it is reconnected; listeners hear "everything changed"). */
  readonly onFeedError?: (e: unknown) => void;
}

/** NOTIFY refuses payloads of 8000 bytes and more; keep a margin. */
const MAX_PAYLOAD = 7900;
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');
const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** The indexed prefix of an index value (schema.ts, kms_index). */
const vkeyOf = (v: Uint8Array): Buffer => Buffer.from(v.buffer, v.byteOffset, Math.min(v.byteLength, INDEX_PREFIX_BYTES));
/** The whole value of an index row. */
const FULL = 'coalesce(value_full, vkey)';

/** SQLSTATEs that mean "this commit lost a race", not "the database is unwell". */
const CONFLICT_STATES = new Set(['23505', '40001', '40P01']);

/** A StoreError for a failed database call: CONFLICT for lost races, else IO (connection lost, server down, …). */
export function pgError(e: unknown, what: string): StoreError {
  if (e instanceof StoreError) return e;
  const code = (e as { code?: unknown } | undefined)?.code;
  const msg = e instanceof Error ? e.message : String(e);
  if (typeof code === 'string' && CONFLICT_STATES.has(code)) return new StoreError('CONFLICT', `${what}: ${msg}`, { cause: e });
  return new StoreError('IO', `${what}: ${msg}`, { cause: e });
}

/**
 * Did `e` come from the connection rather than from one statement (so the transaction, and the
 * connection, cannot go on)? Errors without a SQLSTATE (socket errors, a query timeout) and the
 * classes 08 (connection), 53 (resources), 57 (operator intervention: shutdown), 58 (system), XX.
 */
export function isConnectionError(e: unknown): boolean {
  if (e instanceof StoreError) return e.code === 'IO' && isConnectionError(e.cause);
  const code = (e as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return /^(08|53|57|58|XX)/.test(code);
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** A planned commit: what to write (see `runCommit`). */
interface Planned {
  readonly changes: Map<string, Change>;
  readonly meta: Map<string, MetaChange>;
  readonly audit: { seq: number; bytes: Uint8Array; link: Uint8Array }[];
  readonly head: AuditHead;
  readonly recordDelta: number;
}

function sealAll(appends: readonly AuditAppend[] | undefined, head: AuditHead): { entries: Planned['audit']; head: AuditHead } {
  const entries: Planned['audit'] = [];
  let { seq, link } = head;
  for (const a of appends ?? []) {
    const s = a.seal(seq + 1, link);
    seq += 1;
    link = s.link;
    entries.push({ seq, bytes: s.bytes, link: s.link });
  }
  return { entries, head: { seq, link } };
}

/** Parse a scan cursor: component(value) then uid (index-keys.ts). */
function parseCursor(c: Uint8Array): { value: Buffer; uid: Buffer } {
  const b = Buffer.from(c);
  const out: number[] = [];
  for (let i = 0; i + 1 < b.length; i++) {
    if (b[i] !== 0) {
      out.push(b[i] as number);
      continue;
    }
    if (b[i + 1] === 0xff) {
      out.push(0);
      i++;
      continue;
    }
    if (b[i + 1] === 0x01) return { value: Buffer.from(out), uid: b.subarray(i + 2) };
    break;
  }
  throw new TypeError('malformed scan cursor');
}

export class PgStore implements ObjectStore {
  /** Told after each group transaction: how many commits it carried and how long it took. */
  onGroupWritten: ((commits: number, seconds: number, synced: boolean) => void) | undefined;
  readonly nodeId: string;
  private readonly url: string;
  private readonly poolSize: number;
  private readonly channel: string;
  private readonly schema: string | undefined;
  private readonly connectTimeoutMs: number;
  private readonly queryTimeoutMs: number;
  private readonly idleTransactionTimeoutMs: number;
  private readonly onFeedError: ((e: unknown) => void) | undefined;
  private pool: pg.Pool | undefined;
  private listener: pg.Client | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private state: 'new' | 'opening' | 'open' | 'closing' | 'closed' = 'new';
  private opening: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly commits: CommitQueue;
  private auditHead: AuditHead = { seq: 0, link: new Uint8Array(0) };
  private readonly watchers = new MetaWatchers();
  private readonly recordListeners = new RecordListeners();
  private readonly snapshots = new Set<{ close(): Promise<void> }>();
  private readonly readOnly: boolean;

  readonly audit: AuditLogReader = {
    read: async (from: number, limit: number): Promise<AuditEntry[]> => {
      const pool = this.readable();
      if (!(limit > 0)) return [];
      try {
        const r = await pool.query<{ seq: string; bytes: Buffer }>('SELECT seq, bytes FROM kms_audit WHERE seq >= $1 ORDER BY seq LIMIT $2', [
          Math.max(1, Math.floor(from)),
          Math.floor(limit),
        ]);
        return r.rows.map((row) => ({ seq: Number(row.seq), bytes: row.bytes }));
      } catch (e) {
        throw pgError(e, 'audit read');
      }
    },
    head: () => this.auditHead,
  };

  readonly meta: MetaSpace = {
    get: async (key: string): Promise<MetaEntry | undefined> => {
      const pool = this.readable();
      try {
        const r = await pool.query<{ revision: string; value: Buffer }>('SELECT revision, value FROM kms_meta WHERE key = $1', [key]);
        const row = r.rows[0];
        return row && { key, revision: Number(row.revision), value: row.value };
      } catch (e) {
        throw pgError(e, `meta get ${key}`);
      }
    },
    list: async (prefix: string, opts: { after?: string; limit: number }): Promise<MetaEntry[]> => {
      const pool = this.readable();
      if (!(opts.limit > 0)) return [];
      // Printable ASCII keys: every key with the prefix sorts before prefix + DEL (0x7f).
      const from = opts.after !== undefined && opts.after >= prefix ? opts.after : undefined;
      try {
        const r = await pool.query<{ key: string; revision: string; value: Buffer }>(
          `SELECT key, revision, value FROM kms_meta WHERE key ${from === undefined ? '>=' : '>'} $1 AND key < $2 ORDER BY key LIMIT $3`,
          [from ?? prefix, `${prefix}\x7f`, Math.floor(opts.limit)],
        );
        return r.rows.map((row) => ({ key: row.key, revision: Number(row.revision), value: row.value }));
      } catch (e) {
        throw pgError(e, 'meta list');
      }
    },
    watch: (prefix, listener) => this.watchers.add(prefix, listener),
  };

  constructor(opts: PgStoreOptions) {
    if (typeof opts?.url !== 'string' || opts.url.length === 0) throw new TypeError('PgStore needs a url');
    this.url = opts.url;
    this.readOnly = opts.readOnly === true;
    this.poolSize = Math.max(1, Math.floor(opts.poolSize ?? 10));
    this.commits = new CommitQueue({
      maxGroup: Math.max(1, Math.floor(opts.maxGroupCommits ?? 64)),
      write: (group, deferred) => this.writeGroup(group, deferred),
      lastResort: (e) => pgError(e, 'commit'),
    });
    if (opts.schema !== undefined && !/^[a-z_][a-z0-9_]{0,45}$/.test(opts.schema)) throw new TypeError('schema must be a lower-case SQL identifier of at most 46 characters');
    this.schema = opts.schema;
    this.channel = opts.channel ?? (opts.schema === undefined ? 'kms_store_changes' : `kms_store_changes_${opts.schema}`);
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(this.channel)) throw new TypeError('channel must be a lower-case SQL identifier');
    this.connectTimeoutMs = Math.max(1, Math.floor(opts.connectTimeoutMs ?? 10_000));
    this.queryTimeoutMs = Math.max(0, Math.floor(opts.queryTimeoutMs ?? 30_000));
    this.idleTransactionTimeoutMs = Math.max(0, Math.floor(opts.idleTransactionTimeoutMs ?? 5_000));
    this.nodeId = opts.nodeId ?? randomBytes(8).toString('hex');
    this.onFeedError = opts.onFeedError;
  }

  /** Connection settings of every connection (pool, LISTEN, snapshots: `snapshot` lifts the idle-transaction limit). */
  private connection(o: { readonly snapshot?: boolean } = {}): pg.ClientConfig {
    // Session settings in the startup message, over the server's defaults: the schema, and the
    // idle-transaction limit (a snapshot: none; the pool and LISTEN: ours, or the server's when 0).
    const settings: string[] = [];
    if (this.schema !== undefined) settings.push(`-c search_path=${this.schema}`);
    if (o.snapshot) settings.push('-c idle_in_transaction_session_timeout=0');
    else if (this.idleTransactionTimeoutMs > 0) settings.push(`-c idle_in_transaction_session_timeout=${this.idleTransactionTimeoutMs}`);
    return {
      connectionString: this.url,
      connectionTimeoutMillis: this.connectTimeoutMs,
      ...(this.queryTimeoutMs > 0 && { query_timeout: this.queryTimeoutMs }),
      // A peer that vanished without a word (a partition) is noticed by TCP keepalive, LISTEN included.
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      ...(settings.length > 0 && { options: settings.join(' ') }),
    };
  }

  /** Where this store is, without the password. */
  describe(): string {
    return redactUrl(this.url);
  }

  open(): Promise<void> {
    if (this.state === 'open') return Promise.resolve();
    if (this.opening) return this.opening;
    if (this.state !== 'new') return Promise.reject(new StoreError('CLOSED', 'store is closed'));
    this.state = 'opening';
    this.opening = this.doOpen().then(
      () => {
        this.opening = undefined;
        if (this.state === 'opening') this.state = 'open';
      },
      (e: unknown) => {
        this.opening = undefined;
        this.state = 'closed';
        throw e;
      },
    );
    return this.opening;
  }

  private async doOpen(): Promise<void> {
    const pool = new pg.Pool({ ...this.connection(), max: this.poolSize });
    // An idle connection that dies (server restart) is dropped by the pool; the error is not ours to throw.
    pool.on('error', () => undefined);
    // Likewise a checked-out connection that dies between two queries: the query in flight, or
    // the next one, fails and the commit with it; the 'error' event must not crash the process.
    pool.on('connect', (c) => c.on('error', () => undefined));
    try {
      const client = await pool.connect();
      try {
        if (this.readOnly) await checkSchema(client);
        else await migrate(client, this.schema);
      } finally {
        client.release();
      }
      await this.listen();
      await this.readHead(pool);
    } catch (e) {
      await this.stopListener();
      await pool.end().catch(() => undefined);
      throw pgError(e, `cannot open the PostgreSQL store ${redactUrl(this.url)}`);
    }
    this.pool = pool;
  }

  private async readHead(pool: pg.Pool | pg.ClientBase): Promise<void> {
    const r = await pool.query<{ audit_seq: string; audit_link: Buffer }>('SELECT audit_seq, audit_link FROM kms_head WHERE id = 1');
    const row = r.rows[0];
    if (!row) throw new StoreError('CORRUPT', 'kms_head has no row');
    const seq = Number(row.audit_seq);
    if (seq >= this.auditHead.seq) this.auditHead = { seq, link: row.audit_link };
  }

  /** Connect the LISTEN client (see the file comment). */
  private async listen(): Promise<void> {
    const c = new pg.Client(this.connection());
    c.on('error', (e) => this.feedLost(c, e));
    c.on('end', () => this.feedLost(c, new Error('LISTEN connection ended')));
    c.on('notification', (n) => {
      if (n.channel === this.channel && n.payload !== undefined) this.onNotification(n.payload);
    });
    this.listener = c;
    await c.connect();
    await c.query(`LISTEN ${this.channel}`);
  }

  private feedLost(c: pg.Client, e: unknown): void {
    if (this.listener !== c) return;
    this.listener = undefined;
    c.end().catch(() => undefined);
    if (this.state !== 'open' && this.state !== 'opening') return;
    this.onFeedError?.(e);
    this.scheduleReconnect(100);
  }

  private scheduleReconnect(delayMs: number): void {
    if (this.reconnectTimer || (this.state !== 'open' && this.state !== 'opening')) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.state !== 'open') return;
      this.listen()
        .then(async () => {
          // Whatever happened while we were deaf: everything may have changed.
          if (this.pool) await this.readHead(this.pool).catch(() => undefined);
          this.recordListeners.changed([EVERYTHING], 'remote');
          this.watchers.changedAll();
        })
        .catch((e: unknown) => {
          const c = this.listener;
          this.listener = undefined;
          c?.end().catch(() => undefined);
          this.onFeedError?.(e);
          this.scheduleReconnect(Math.min(2000, delayMs * 2));
        });
    }, delayMs);
    this.reconnectTimer.unref();
  }

  private onNotification(payload: string): void {
    let p: { n?: unknown; u?: unknown; m?: unknown; s?: unknown; l?: unknown };
    try {
      p = JSON.parse(payload) as typeof p;
    } catch {
      return;
    }
    if (p.n === this.nodeId) return; // our own: told before the commit resolved
    if (typeof p.s === 'number' && typeof p.l === 'string' && p.s > this.auditHead.seq) this.auditHead = { seq: p.s, link: Buffer.from(p.l, 'hex') };
    if (p.u === EVERYTHING) this.recordListeners.changed([EVERYTHING], 'remote');
    else if (Array.isArray(p.u))
      this.recordListeners.changed(
        p.u.filter((x): x is string => typeof x === 'string'),
        'remote',
      );
    if (p.m === EVERYTHING) this.watchers.changedAll();
    else if (Array.isArray(p.m)) this.watchers.changed(p.m.filter((x): x is string => typeof x === 'string'));
  }

  private async stopListener(): Promise<void> {
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const c = this.listener;
    this.listener = undefined;
    await c?.end().catch(() => undefined);
  }

  /** Waits for queued and in-flight commits, then closes. New commits are refused meanwhile. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    if (this.state === 'new' || this.state === 'closed') {
      this.state = 'closed';
      return Promise.resolve();
    }
    this.closing = (async () => {
      if (this.opening) await this.opening.catch(() => undefined);
      this.state = 'closing';
      await this.commits.idle();
      for (const s of [...this.snapshots]) await s.close().catch(() => undefined);
      await this.stopListener();
      await this.pool?.end().catch(() => undefined);
      this.pool = undefined;
      this.state = 'closed';
    })();
    return this.closing;
  }

  private readable(): pg.Pool {
    if ((this.state !== 'open' && this.state !== 'closing') || !this.pool) throw new StoreError('CLOSED', `store is ${this.state === 'new' ? 'not open' : 'closed'}`);
    return this.pool;
  }

  onRecordsChanged(listener: (uids: readonly string[], origin: ChangeOrigin) => void): () => void {
    return this.recordListeners.add(listener);
  }

  async get(uid: string): Promise<ObjectRecord | undefined> {
    const pool = this.readable();
    let bytes: Buffer | undefined;
    try {
      const r = await pool.query<{ bytes: Buffer }>('SELECT bytes FROM kms_objects WHERE uid = $1', [utf8(uid)]);
      bytes = r.rows[0]?.bytes;
    } catch (e) {
      throw pgError(e, `get ${uid}`);
    }
    return bytes && decodeRecord(bytes, uid);
  }

  commit(ops: readonly CommitOp[], options?: CommitOptions): Promise<void> {
    if (this.readOnly) return Promise.reject(new StoreError('CLOSED', 'store is open read-only'));
    if (this.state !== 'open') return Promise.reject(new StoreError('CLOSED', `store is ${this.state === 'new' || this.state === 'opening' ? 'not open' : 'closed'}`));
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

  /** One group in one transaction (see the file comment). Settles every commit of the group. */
  private async writeGroup(group: PendingCommit[], deferred: boolean): Promise<void> {
    // Nothing to write at all (empty commits): nothing to ask the database.
    if (group.every((p) => p.ops.length === 0 && (p.options?.audit?.length ?? 0) === 0)) {
      for (const p of group) p.resolve();
      return;
    }
    const pool = this.pool as pg.Pool;
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (e) {
      const err = pgError(e, 'commit: connecting');
      for (const p of group) p.reject(err);
      return;
    }
    const t0 = performance.now();
    let failed: StoreError | undefined;
    let dropped = false;
    /** Commits rejected on their own (the others share the group's fate). */
    const settled = new Set<PendingCommit>();
    // Told only once the group's transaction has ended: a caller that re-reads on CONFLICT (a
    // first Get that lost the race to clear Fresh to one earlier in the group) must see the
    // state it conflicted with, not the one before the group's commit.
    const refused: { p: PendingCommit; e: unknown }[] = [];
    const rejectOne = (p: PendingCommit, e: unknown): void => {
      settled.add(p);
      refused.push({ p, e });
    };
    const refuse = (): void => {
      for (const r of refused) r.p.reject(r.e);
    };
    const accepted: { p: PendingCommit; planned: Planned }[] = [];
    try {
      const begin = await client.query(`BEGIN; ${deferred ? 'SET LOCAL synchronous_commit TO off; ' : ''}SELECT audit_seq, audit_link, records FROM kms_head WHERE id = 1 FOR UPDATE`);
      const results = (Array.isArray(begin) ? begin : [begin]) as pg.QueryResult<{ audit_seq: string; audit_link: Buffer; records: string }>[];
      const headRow = results[results.length - 1]?.rows[0];
      if (!headRow) throw new StoreError('CORRUPT', 'kms_head has no row');
      let head: AuditHead = { seq: Number(headRow.audit_seq), link: headRow.audit_link };
      const records0 = Number(headRow.records);
      let recordDelta = 0;
      // The whole group planned at once against the locked rows, then written in one batch.
      const batch = await this.planGroup(client, group, head, rejectOne);
      if (batch.accepted.length > 0) {
        const several = batch.accepted.length > 1;
        let written = false;
        if (several) await client.query('SAVEPOINT g');
        try {
          await this.write(client, batch.merged);
          written = true;
        } catch (e) {
          if (!several || isConnectionError(e)) throw pgError(e, 'commit');
          await client.query('ROLLBACK TO SAVEPOINT g');
        }
        if (written) {
          accepted.push(...batch.accepted);
          head = batch.merged.head;
          recordDelta = batch.merged.recordDelta;
        } else {
          // A statement of the batch failed (a writer outside this store's lock; a uid too long):
          // again one commit at a time, each in its own savepoint, so only the culprit fails.
          for (const { p } of batch.accepted) {
            let planned: Planned;
            try {
              planned = await this.plan(client, p, head);
            } catch (e) {
              if (e instanceof StoreError && e.code === 'IO') throw e; // the connection: the whole group fails
              rejectOne(p, e);
              continue;
            }
            await client.query('SAVEPOINT c');
            try {
              await this.write(client, planned);
              await client.query('RELEASE SAVEPOINT c');
            } catch (e) {
              const err = pgError(e, 'commit');
              if (isConnectionError(e)) throw err;
              await client.query('ROLLBACK TO SAVEPOINT c');
              rejectOne(p, err);
              continue;
            }
            head = planned.head;
            recordDelta += planned.recordDelta;
            accepted.push({ p, planned });
          }
        }
      }
      if (accepted.length === 0) {
        await client.query('ROLLBACK');
      } else {
        const payload = this.payload(
          accepted.map((a) => a.planned),
          head,
        );
        await client.query(
          `UPDATE kms_head SET audit_seq = ${head.seq}, audit_link = '\\x${hex(head.link)}', records = ${records0 + recordDelta} WHERE id = 1; ` +
            `SELECT pg_notify('${this.channel}', ${client.escapeLiteral(payload)}); COMMIT`,
        );
        if (head.seq >= this.auditHead.seq) this.auditHead = head;
      }
    } catch (e) {
      failed = pgError(e, 'commit');
      if (isConnectionError(e)) dropped = true;
      else await client.query('ROLLBACK').catch(() => (dropped = true));
    } finally {
      // A connection that failed is not given back to the pool.
      client.release(dropped ? (failed ?? true) : undefined);
    }
    if (failed) {
      // Every commit not yet settled: those accepted so far and, past the failure, the rest.
      for (const p of group) if (!settled.has(p)) p.reject(failed);
      return refuse();
    }
    if (accepted.length === 0) return refuse();
    this.onGroupWritten?.(accepted.length, (performance.now() - t0) / 1000, !deferred);
    const uids = new Set<string>();
    const keys = new Set<string>();
    for (const a of accepted) {
      for (const u of a.planned.changes.keys()) uids.add(u);
      for (const k of a.planned.meta.keys()) keys.add(k);
    }
    this.watchers.changed(keys);
    this.recordListeners.changed(uids, 'local');
    for (const a of accepted) a.p.resolve();
    refuse();
  }

  /**
   * Plan a whole group against the rows it touches, read (and locked) at once: each commit in
   * call order against the state the commits before it leave; one that fails (CONFLICT,
   * NOT_FOUND, a seal that throws) is rejected through `rejectOne` and leaves no trace. Returns
   * the accepted commits and their net effect (before: as stored; after: after the last one).
   */
  private async planGroup(
    client: pg.PoolClient,
    group: readonly PendingCommit[],
    head0: AuditHead,
    rejectOne: (p: PendingCommit, e: unknown) => void,
  ): Promise<{ accepted: { p: PendingCommit; planned: Planned }[]; merged: Planned }> {
    const { revs, metas } = await this.readState(client, [...new Set(group.flatMap((p) => uidsOf(p.ops)))], [...new Set(group.flatMap((p) => metaKeysOf(p.ops)))]);
    const net = new Map<string, Change>();
    const netMeta = new Map<string, MetaChange>();
    const audit: Planned['audit'] = [];
    const accepted: { p: PendingCommit; planned: Planned }[] = [];
    let head = head0;
    let recordDelta = 0;
    for (const p of group) {
      let planned: Planned;
      try {
        planned = this.planOne(
          p,
          head,
          (uid) => {
            const n = net.get(uid);
            if (n) return n.after;
            const revision = revs.get(uid);
            return revision === undefined ? undefined : { revision, terms: [] };
          },
          (key) => {
            const n = netMeta.get(key);
            return n ? n.after : metas.get(key);
          },
        );
      } catch (e) {
        rejectOne(p, e);
        continue;
      }
      for (const ch of planned.changes.values()) {
        const n = net.get(ch.uid);
        if (n) n.after = ch.after;
        else net.set(ch.uid, { uid: ch.uid, before: ch.before, after: ch.after });
      }
      for (const m of planned.meta.values()) {
        const n = netMeta.get(m.key);
        if (n) n.after = m.after;
        else netMeta.set(m.key, { key: m.key, before: m.before, after: m.after });
      }
      audit.push(...planned.audit);
      head = planned.head;
      recordDelta += planned.recordDelta;
      accepted.push({ p, planned });
    }
    return { accepted, merged: { changes: net, meta: netMeta, audit, head, recordDelta } };
  }

  /** The revisions of `uids` and the meta entries of `keys`, locked FOR UPDATE. */
  private async readState(client: pg.PoolClient, uids: readonly string[], keys: readonly string[]): Promise<{ revs: Map<string, number>; metas: Map<string, StoredMeta> }> {
    const revs = new Map<string, number>();
    const metas = new Map<string, StoredMeta>();
    try {
      if (uids.length > 0) {
        const r = await client.query<{ uid: Buffer; revision: string }>('SELECT uid, revision FROM kms_objects WHERE uid = ANY($1::bytea[]) FOR UPDATE', [uids.map(utf8)]);
        for (const row of r.rows) revs.set(row.uid.toString('utf8'), Number(row.revision));
      }
      if (keys.length > 0) {
        const r = await client.query<{ key: string; revision: string; value: Buffer }>('SELECT key, revision, value FROM kms_meta WHERE key = ANY($1::text[]) FOR UPDATE', [keys]);
        for (const row of r.rows) metas.set(row.key, { revision: Number(row.revision), value: row.value });
      }
    } catch (e) {
      throw new StoreError('IO', `commit: reading current state: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    return { revs, metas };
  }

  /** Read what one commit touches (locking it) and plan it; throws StoreError CONFLICT / NOT_FOUND, or what a seal throws. */
  private async plan(client: pg.PoolClient, p: PendingCommit, head: AuditHead): Promise<Planned> {
    const { revs, metas } = await this.readState(client, uidsOf(p.ops), metaKeysOf(p.ops));
    return this.planOne(
      p,
      head,
      (uid) => {
        const revision = revs.get(uid);
        return revision === undefined ? undefined : { revision, terms: [] };
      },
      (key) => metas.get(key),
    );
  }

  /** Plan one commit against `current` state; seal its audit entries after `head`. */
  private planOne(p: PendingCommit, head: AuditHead, current: (uid: string) => Stored | undefined, currentMeta: (key: string) => StoredMeta | undefined): Planned {
    // Index terms are rewritten whole for a changed uid, so the old ones need not be known.
    const changes = planCommit(p.ops, current);
    const meta = planMeta(p.ops, currentMeta);
    let sealed: ReturnType<typeof sealAll>;
    try {
      sealed = sealAll(p.options?.audit, head);
    } catch (e) {
      // A seal that throws fails this commit only, with its own error (contract).
      if (e instanceof StoreError && e.code === 'IO') throw new StoreError('CORRUPT', `commit: sealing an audit entry: ${e.message}`, { cause: e });
      throw e;
    }
    let recordDelta = 0;
    for (const ch of changes.values()) {
      if (!ch.before && ch.after) recordDelta++;
      else if (ch.before && !ch.after) recordDelta--;
    }
    return { changes, meta, audit: sealed.entries, head: sealed.head, recordDelta };
  }

  /** Write one planned commit with revision-checked SQL; throws StoreError CONFLICT when a check fails. */
  private async write(client: pg.PoolClient, w: Planned): Promise<void> {
    const upd: { uid: Buffer; from: number; to: number; bytes: Buffer }[] = [];
    const ins: { uid: Buffer; rev: number; bytes: Buffer }[] = [];
    const del: { uid: Buffer; rev: number }[] = [];
    const reindex: Buffer[] = [];
    const terms: { field: Buffer; value: Buffer; uid: Buffer }[] = [];
    for (const ch of w.changes.values()) {
      const uid = utf8(ch.uid);
      if (ch.before && ch.after) upd.push({ uid, from: ch.before.revision, to: ch.after.revision, bytes: ch.after.bytes });
      else if (!ch.before && ch.after) ins.push({ uid, rev: ch.after.revision, bytes: ch.after.bytes });
      else if (ch.before && !ch.after) del.push({ uid, rev: ch.before.revision });
      if (ch.before) reindex.push(uid);
      // A record may hold one term twice (two equal instances): one index row each (field, value).
      const seen = new Set<string>();
      for (const t of ch.after?.terms ?? []) {
        const id = termId(t);
        if (seen.has(id)) continue;
        seen.add(id);
        terms.push({ field: utf8(t.field), value: Buffer.from(t.value), uid });
      }
    }
    if (upd.length > 0) {
      const r = await client.query(
        'UPDATE kms_objects o SET revision = v.rev_to, bytes = v.bytes FROM unnest($1::bytea[], $2::bigint[], $3::bigint[], $4::bytea[]) AS v(uid, rev_from, rev_to, bytes) WHERE o.uid = v.uid AND o.revision = v.rev_from',
        [upd.map((x) => x.uid), upd.map((x) => x.from), upd.map((x) => x.to), upd.map((x) => x.bytes)],
      );
      if (r.rowCount !== upd.length) throw new StoreError('CONFLICT', 'commit: a record changed under this commit');
    }
    if (del.length > 0) {
      const r = await client.query('DELETE FROM kms_objects o USING unnest($1::bytea[], $2::bigint[]) AS v(uid, rev) WHERE o.uid = v.uid AND o.revision = v.rev', [
        del.map((x) => x.uid),
        del.map((x) => x.rev),
      ]);
      if (r.rowCount !== del.length) throw new StoreError('CONFLICT', 'commit: a record changed under this commit');
    }
    if (ins.length > 0) {
      // expectedRevision 0: a row inserted meanwhile by another node is a unique violation (CONFLICT).
      // A uid put several times by one commit (or group) is new at its last revision, not 1.
      await client.query('INSERT INTO kms_objects (uid, revision, bytes) SELECT * FROM unnest($1::bytea[], $2::bigint[], $3::bytea[])', [
        ins.map((x) => x.uid),
        ins.map((x) => x.rev),
        ins.map((x) => x.bytes),
      ]);
    }
    if (reindex.length > 0) await client.query('DELETE FROM kms_index WHERE uid = ANY($1::bytea[])', [reindex]);
    if (terms.length > 0) {
      await client.query('INSERT INTO kms_index (field, vkey, value_full, uid) SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[], $4::bytea[])', [
        terms.map((t) => t.field),
        terms.map((t) => vkeyOf(t.value)),
        terms.map((t) => (t.value.length > INDEX_PREFIX_BYTES ? t.value : null)),
        terms.map((t) => t.uid),
      ]);
    }
    await this.writeMeta(client, w.meta);
    if (w.audit.length > 0) {
      await client.query('INSERT INTO kms_audit (seq, bytes, link) SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])', [
        w.audit.map((a) => a.seq),
        w.audit.map((a) => Buffer.from(a.bytes)),
        w.audit.map((a) => Buffer.from(a.link)),
      ]);
    }
  }

  private async writeMeta(client: pg.PoolClient, changes: Map<string, MetaChange>): Promise<void> {
    const upd: MetaChange[] = [];
    const ins: MetaChange[] = [];
    const del: MetaChange[] = [];
    for (const m of changes.values()) {
      if (m.before && m.after) upd.push(m);
      else if (!m.before && m.after) ins.push(m);
      else if (m.before && !m.after) del.push(m);
    }
    if (upd.length > 0) {
      const r = await client.query(
        'UPDATE kms_meta m SET revision = v.rev_to, value = v.value FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bytea[]) AS v(key, rev_from, rev_to, value) WHERE m.key = v.key AND m.revision = v.rev_from',
        [upd.map((m) => m.key), upd.map((m) => m.before!.revision), upd.map((m) => m.after!.revision), upd.map((m) => Buffer.from(m.after!.value))],
      );
      if (r.rowCount !== upd.length) throw new StoreError('CONFLICT', 'commit: a meta entry changed under this commit');
    }
    if (del.length > 0) {
      const r = await client.query('DELETE FROM kms_meta m USING unnest($1::text[], $2::bigint[]) AS v(key, rev) WHERE m.key = v.key AND m.revision = v.rev', [
        del.map((m) => m.key),
        del.map((m) => m.before!.revision),
      ]);
      if (r.rowCount !== del.length) throw new StoreError('CONFLICT', 'commit: a meta entry changed under this commit');
    }
    if (ins.length > 0) {
      await client.query('INSERT INTO kms_meta (key, revision, value) SELECT key, rev, value FROM unnest($1::text[], $2::bigint[], $3::bytea[]) AS v(key, rev, value)', [
        ins.map((m) => m.key),
        ins.map((m) => m.after!.revision),
        ins.map((m) => Buffer.from(m.after!.value)),
      ]);
    }
  }

  /** The change notification of one group (see the file comment). */
  private payload(planned: readonly Planned[], head: AuditHead): string {
    const uids = new Set<string>();
    const keys = new Set<string>();
    for (const w of planned) {
      for (const u of w.changes.keys()) uids.add(u);
      for (const k of w.meta.keys()) keys.add(k);
    }
    const base = { n: this.nodeId, s: head.seq, l: hex(head.link) };
    const full = JSON.stringify({ ...base, u: [...uids], m: [...keys] });
    if (Buffer.byteLength(full) <= MAX_PAYLOAD) return full;
    const noUids = JSON.stringify({ ...base, u: EVERYTHING, m: [...keys] });
    if (Buffer.byteLength(noUids) <= MAX_PAYLOAD) return noUids;
    return JSON.stringify({ ...base, u: EVERYTHING, m: EVERYTHING });
  }

  async scan(field: string, opts: ScanOptions): Promise<ScanPage> {
    const pool = this.readable();
    const limit = Math.max(0, Math.floor(opts.limit));
    if (limit === 0) return { uids: [] };
    const params: unknown[] = [utf8(field)];
    let where = 'field = $1';
    if (opts.cursor) {
      const c = parseCursor(opts.cursor);
      params.push(vkeyOf(c.value), c.value, c.uid);
      where += opts.reverse ? ` AND vkey <= $2 AND (vkey, ${FULL}, uid) < ($2, $3, $4)` : ` AND vkey >= $2 AND (vkey, ${FULL}, uid) > ($2, $3, $4)`;
    }
    params.push(limit);
    const dir = opts.reverse ? 'DESC' : 'ASC';
    let rows: { value: Buffer; uid: Buffer }[];
    try {
      rows = (
        await pool.query<{ value: Buffer; uid: Buffer }>(
          `SELECT ${FULL} AS value, uid FROM kms_index WHERE ${where} ORDER BY vkey ${dir}, ${FULL} ${dir}, uid ${dir} LIMIT $${params.length}`,
          params,
        )
      ).rows;
    } catch (e) {
      throw pgError(e, 'scan');
    }
    const uids = rows.map((r) => r.uid.toString('utf8'));
    const last = rows[rows.length - 1];
    return rows.length === limit && last ? { uids, cursor: Buffer.concat([component(last.value), last.uid]) } : { uids };
  }

  async find(query: IndexQuery, limit?: number): Promise<string[]> {
    const pool = this.readable();
    const params: unknown[] = [utf8(query.field)];
    let where = 'field = $1';
    if ('equals' in query) {
      const v = Buffer.from(query.equals);
      params.push(vkeyOf(v));
      where += ' AND vkey = $2';
      if (v.length > INDEX_PREFIX_BYTES) {
        params.push(v);
        where += ' AND value_full = $3';
      } else where += ' AND value_full IS NULL';
    } else if (!('exists' in query)) {
      if (query.from !== undefined && query.to !== undefined && Buffer.compare(Buffer.from(query.from), Buffer.from(query.to)) > 0) return [];
      // The prefix conditions follow from the full ones (truncation keeps the order) and use the index.
      if (query.from !== undefined) {
        params.push(vkeyOf(query.from), Buffer.from(query.from));
        where += ` AND vkey >= $${params.length - 1} AND ${FULL} >= $${params.length}`;
      }
      if (query.to !== undefined) {
        params.push(vkeyOf(query.to), Buffer.from(query.to));
        where += ` AND vkey <= $${params.length - 1} AND ${FULL} <= $${params.length}`;
      }
    }
    let sql: string;
    if (limit !== undefined) {
      params.push(Math.max(0, Math.floor(limit)));
      sql = `SELECT uid FROM kms_index WHERE ${where} LIMIT $${params.length}`;
    } else {
      sql = `SELECT DISTINCT uid FROM kms_index WHERE ${where} ORDER BY uid`;
    }
    try {
      const r = await pool.query<{ uid: Buffer }>(sql, params);
      return [...new Set(r.rows.map((row) => row.uid.toString('utf8')))];
    } catch (e) {
      throw pgError(e, 'find');
    }
  }

  async count(): Promise<number> {
    const pool = this.readable();
    try {
      const r = await pool.query<{ records: string }>('SELECT records FROM kms_head WHERE id = 1');
      return Number(r.rows[0]?.records ?? 0);
    } catch (e) {
      throw pgError(e, 'count');
    }
  }

  async list(after: string | undefined, limit: number): Promise<string[]> {
    const pool = this.readable();
    if (!(limit > 0)) return [];
    try {
      const r =
        after === undefined
          ? await pool.query<{ uid: Buffer }>('SELECT uid FROM kms_objects ORDER BY uid LIMIT $1', [Math.floor(limit)])
          : await pool.query<{ uid: Buffer }>('SELECT uid FROM kms_objects WHERE uid > $1 ORDER BY uid LIMIT $2', [utf8(after), Math.floor(limit)]);
      return r.rows.map((row) => row.uid.toString('utf8'));
    } catch (e) {
      throw pgError(e, 'list');
    }
  }

  async snapshot(): Promise<StoreSnapshot> {
    this.readable();
    const c = new pg.Client(this.connection({ snapshot: true }));
    c.on('error', () => undefined);
    let count: number;
    let auditHead: AuditHead;
    try {
      await c.connect();
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const r = await c.query<{ audit_seq: string; audit_link: Buffer; records: string }>('SELECT audit_seq, audit_link, records FROM kms_head WHERE id = 1');
      const row = r.rows[0];
      if (!row) throw new StoreError('CORRUPT', 'kms_head has no row');
      count = Number(row.records);
      auditHead = { seq: Number(row.audit_seq), link: row.audit_link };
    } catch (e) {
      await c.end().catch(() => undefined);
      throw pgError(e, 'snapshot');
    }
    let closed = false;
    const handle = {
      close: async () => {
        if (closed) return;
        closed = true;
        this.snapshots.delete(handle);
        await c.query('COMMIT').catch(() => undefined);
        await c.end().catch(() => undefined);
      },
    };
    this.snapshots.add(handle);
    const page = 500;
    const assertOpen = () => {
      if (closed) throw new StoreError('CLOSED', 'snapshot is closed');
    };
    return {
      count,
      auditHead,
      async *records() {
        let after: Buffer | undefined;
        for (;;) {
          assertOpen();
          let rows: { uid: Buffer; bytes: Buffer }[];
          try {
            rows = (
              after === undefined
                ? await c.query<{ uid: Buffer; bytes: Buffer }>('SELECT uid, bytes FROM kms_objects ORDER BY uid LIMIT $1', [page])
                : await c.query<{ uid: Buffer; bytes: Buffer }>('SELECT uid, bytes FROM kms_objects WHERE uid > $1 ORDER BY uid LIMIT $2', [after, page])
            ).rows;
          } catch (e) {
            throw pgError(e, 'snapshot records');
          }
          for (const row of rows) yield decodeRecord(row.bytes, row.uid.toString('utf8'));
          if (rows.length < page) return;
          after = rows[rows.length - 1]!.uid;
        }
      },
      async *auditEntries(from = 1) {
        let next = Math.max(1, Math.floor(from));
        for (;;) {
          assertOpen();
          let rows: { seq: string; bytes: Buffer }[];
          try {
            rows = (await c.query<{ seq: string; bytes: Buffer }>('SELECT seq, bytes FROM kms_audit WHERE seq >= $1 ORDER BY seq LIMIT $2', [next, page])).rows;
          } catch (e) {
            throw pgError(e, 'snapshot audit');
          }
          for (const row of rows) yield { seq: Number(row.seq), bytes: row.bytes };
          if (rows.length < page) return;
          next = Number(rows[rows.length - 1]!.seq) + 1;
        }
      },
      async *metaEntries(prefix: string) {
        let after: string | undefined;
        for (;;) {
          assertOpen();
          let rows: { key: string; revision: string; value: Buffer }[];
          try {
            // Printable ASCII keys: every key with the prefix sorts before prefix + DEL (0x7f).
            rows = (
              await c.query<{ key: string; revision: string; value: Buffer }>(
                `SELECT key, revision, value FROM kms_meta WHERE key ${after === undefined ? '>=' : '>'} $1 AND key < $2 ORDER BY key LIMIT $3`,
                [after ?? prefix, `${prefix}\x7f`, page],
              )
            ).rows;
          } catch (e) {
            throw pgError(e, 'snapshot meta');
          }
          for (const row of rows) yield { key: row.key, revision: Number(row.revision), value: row.value };
          if (rows.length < page) return;
          after = rows[rows.length - 1]!.key;
        }
      },
      close: handle.close,
    };
  }
}
