/**
 * The store contract. Implementations: memory (tests, tools) and LevelDB (the embedded
 * default) and PostgreSQL (src/store/postgres/, shared by the nodes of a cluster). Every `commit` is atomic and durable before it resolves.
 * The store knows records and index terms, not KMIP semantics: operations/attributes/locate.ts
 * decides what to ask for and verifies each candidate.
 */
import type { ObjectRecord } from '../objects/managed-object.js';

/** SCHEMA: the data folder was written by a newer version of the server (refused at open). */
export type StoreErrorCode = 'CONFLICT' | 'NOT_FOUND' | 'CORRUPT' | 'CLOSED' | 'IO' | 'SCHEMA';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** In a change notification: "anything may have changed" (see MetaSpace.watch, ObjectStore.onRecordsChanged). */
export const EVERYTHING = '*';

/** Where a record change came from: this store's own commit, or another node's (a clustered store's feed). */
export type ChangeOrigin = 'local' | 'remote';

export type StoreOp =
  /**
   * Create or replace. `expectedRevision` 0 means "must not exist yet".
   * The store writes the record with `revision = expectedRevision + 1` (the record's own
   * `revision` field is ignored); a delete needs the record to exist (else NOT_FOUND).
   */
  { readonly type: 'put'; readonly record: ObjectRecord; readonly expectedRevision: number } | { readonly type: 'delete'; readonly uid: string; readonly expectedRevision: number };

/**
 * Server metadata (src/store/meta.ts): create or replace the entry `key` (expectedRevision 0:
 * must not exist yet), or delete it (it must exist). Revisions as for records.
 * `meta-check` writes nothing: the whole commit fails with CONFLICT unless the entry `key` has
 * exactly `expectedRevision` (0: absent) at that point of the commit. A lease holder proves with
 * it, inside the commit, that its fencing token is still current (src/rotation/lease.ts).
 */
export type MetaOp =
  | { readonly type: 'meta-put'; readonly key: string; readonly value: Uint8Array; readonly expectedRevision: number }
  | { readonly type: 'meta-delete'; readonly key: string; readonly expectedRevision: number }
  | { readonly type: 'meta-check'; readonly key: string; readonly expectedRevision: number };

/** What one commit applies: record ops and meta ops, in order. */
export type CommitOp = StoreOp | MetaOp;

/** One server-metadata entry (src/store/meta.ts). */
export interface MetaEntry {
  readonly key: string;
  readonly value: Uint8Array;
  readonly revision: number;
}

/**
 * Reading the server-metadata key space (written only through `commit`): small values under
 * printable-ASCII keys, shared by every node of a cluster. See src/store/meta.ts.
 */
export interface MetaSpace {
  get(key: string): Promise<MetaEntry | undefined>;
  /** Entries whose key starts with `prefix`, in ascending key order, after `after` (exclusive), at most `limit`. */
  list(prefix: string, opts: { readonly after?: string; readonly limit: number }): Promise<MetaEntry[]>;
  /**
   * `listener` gets the keys under `prefix` each commit changed, once the commit is durable and
   * before it resolves (a clustered store: other nodes' commits too). Returns the unsubscribe.
   * `keys` may be [EVERYTHING] ('*'): anything under `prefix` may have changed (a clustered
   * store lost its change feed for a while, or a change list was too long to send).
   */
  watch(prefix: string, listener: (keys: readonly string[]) => void): () => void;
}

/**
 * An index query. `field` is an attribute key (standard attribute name or custom key) or
 * one of the record fields '$objectType', '$state', '$owner'. Values are compared in the
 * order-preserving byte encoding of src/store/index-encoding.ts.
 */
export type IndexQuery =
  | { readonly field: string; readonly equals: Uint8Array }
  | { readonly field: string; readonly from?: Uint8Array; readonly to?: Uint8Array } // inclusive range
  | { readonly field: string; readonly exists: true };

/**
 * One entry for the append-only audit log, sealed by the store's single writer in log order.
 * The store knows nothing of the entry's format: `seal` gets the sequence number the entry
 * will have (1, 2, …) and the previous entry's link (empty before the first) and returns the
 * bytes to store and this entry's link (src/audit puts a hash chain in it). If `seal` throws,
 * that commit fails as a whole and nothing of it is written. A store may call `seal` again for
 * the same commit, with another seq (PostgreSQL: a group transaction retried commit by commit);
 * the last call's result is the one stored.
 */
export interface AuditAppend {
  seal(seq: number, prevLink: Uint8Array): { readonly bytes: Uint8Array; readonly link: Uint8Array };
}

export interface ScanOptions {
  readonly reverse?: boolean;
  readonly limit: number;
  /** From a previous page: continue after its last entry. */
  readonly cursor?: Uint8Array;
}

export interface ScanPage {
  readonly uids: string[];
  /** Present when there may be more entries. */
  readonly cursor?: Uint8Array;
}

export interface CommitOptions {
  /** Audit entries written in the same atomic, durable batch as the ops (ops may be empty). */
  readonly audit?: readonly AuditAppend[];
  /**
   * Only for a commit of audit entries and no ops (ignored otherwise: a change is always
   * synced): resolve once the entries are written to the store's log, where a crash of the
   * process cannot lose them, and make them durable within the store's sync window (LevelStore
   * `syncWindowMs`) or with the next synced commit, whichever is first. Entries stay in order:
   * a power loss can only lose a tail of the log. See src/audit/read-durability.ts.
   */
  readonly deferSync?: boolean;
}

export interface AuditEntry {
  readonly seq: number;
  readonly bytes: Uint8Array;
}

/** Reading the audit log: entries in sequence order, and the durable head. */
export interface AuditLogReader {
  /** Entries with seq ≥ `from`, in order, at most `limit`. */
  read(from: number, limit: number): Promise<AuditEntry[]>;
  /** The last durable entry's sequence number (0: empty log) and link. */
  head(): { readonly seq: number; readonly link: Uint8Array };
}

/**
 * A consistent point-in-time view of a store (for backups): the records, their count and
 * the audit log with its head, all as of the moment `snapshot()` was taken. Commits made
 * afterwards are not visible through it. Close it when done (it pins resources).
 */
export interface StoreSnapshot {
  /** Number of records in the view. */
  readonly count: number;
  /** The audit log's head in the view (seq 0: empty). */
  readonly auditHead: { readonly seq: number; readonly link: Uint8Array };
  /** Every record of the view, in ascending uid order. */
  records(): AsyncIterable<ObjectRecord>;
  /** The audit entries of the view with seq ≥ `from` (default 1), in order. */
  auditEntries(from?: number): AsyncIterable<AuditEntry>;
  /** The view's server-metadata entries whose key starts with `prefix`, in ascending key order. */
  metaEntries(prefix: string): AsyncIterable<MetaEntry>;
  close(): Promise<void>;
}

export interface ObjectStore {
  /**
   * True when this process is the only writer of the store's data (LevelDB, memory): every
   * change goes through this object, so records may be cached in front of it
   * (src/store/record-cache.ts). A store other processes commit to (PostgreSQL) leaves it
   * unset: it is never cached.
   */
  readonly exclusiveWriter?: boolean;
  open(): Promise<void>;
  close(): Promise<void>;
  get(uid: string): Promise<ObjectRecord | undefined>;
  /**
   * Apply all ops atomically and durably, or none (StoreError CONFLICT on a stale revision).
   * Audit entries given in `options` are written in the same batch, or not at all.
   */
  commit(ops: readonly CommitOp[], options?: CommitOptions): Promise<void>;
  /** The audit log (append-only, written only through `commit`). */
  readonly audit: AuditLogReader;
  /** Server metadata (meta-put / meta-delete ops in `commit`). */
  readonly meta: MetaSpace;
  /**
   * The uids matching one index query, in ascending uid order. With `limit`: at most that many
   * index entries are read (a probe: "are there more than N?"), and the uids are in no
   * particular order.
   */
  find(query: IndexQuery, limit?: number): Promise<string[]>;
  /**
   * The entries of one index field in order of value (then uid): ascending, or descending with
   * `reverse`. At most `limit` per call; give back `cursor` to continue after the last one.
   * A uid appears once per value it has for the field.
   */
  scan(field: string, opts: ScanOptions): Promise<ScanPage>;
  /** Number of records. */
  count(): Promise<number>;
  /** All uids in ascending order, from `after` (exclusive), at most `limit`. */
  list(after: string | undefined, limit: number): Promise<string[]>;
  /** A consistent point-in-time view of records and audit log (see StoreSnapshot). */
  snapshot(): Promise<StoreSnapshot>;
  /**
   * `listener` gets the uids each commit put or deleted, once the commit is durable and before
   * it resolves (a clustered store: other nodes' commits too, so a node can drop what it cached
   * of a record another node changed). `uids` may be [EVERYTHING] ('*'): any record may have
   * changed. `origin` says whose commit it was: 'local' (this store's own) or 'remote' (another
   * node's, or "everything" after the feed was lost). Returns the unsubscribe. A throwing
   * listener is ignored.
   */
  onRecordsChanged?(listener: (uids: readonly string[], origin: ChangeOrigin) => void): () => void;
}
