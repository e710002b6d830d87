/**
 * The store contract. Implementations: memory (tests, tools) and LevelDB (the embedded
 * default); PostgreSQL later. Every `commit` is atomic and durable before it resolves.
 * The store knows records and index terms, not KMIP semantics: operations/locate.ts
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

export type StoreOp =
  /**
   * Create or replace. `expectedRevision` 0 means "must not exist yet".
   * The store writes the record with `revision = expectedRevision + 1` (the record's own
   * `revision` field is ignored); a delete needs the record to exist (else NOT_FOUND).
   */
  | { readonly type: 'put'; readonly record: ObjectRecord; readonly expectedRevision: number }
  | { readonly type: 'delete'; readonly uid: string; readonly expectedRevision: number };

/**
 * An index query. `field` is an attribute key (standard attribute name or custom key) or
 * one of the record fields '$objectType', '$state', '$owner'. Values are compared in the
 * order-preserving byte encoding of src/store/index-encoding.ts.
 */
export type IndexQuery =
  | { readonly field: string; readonly equals: Uint8Array }
  | { readonly field: string; readonly from?: Uint8Array; readonly to?: Uint8Array } // inclusive range
  | { readonly field: string; readonly exists: true };

export interface ObjectStore {
  open(): Promise<void>;
  close(): Promise<void>;
  get(uid: string): Promise<ObjectRecord | undefined>;
  /** Apply all ops atomically and durably, or none (StoreError CONFLICT on a stale revision). */
  commit(ops: readonly StoreOp[]): Promise<void>;
  /** The uids matching one index query, in ascending uid order. */
  find(query: IndexQuery): Promise<string[]>;
  /** Number of records. */
  count(): Promise<number>;
  /** All uids in ascending order, from `after` (exclusive), at most `limit`. */
  list(after: string | undefined, limit: number): Promise<string[]>;
}
