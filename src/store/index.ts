/**
 * The store's public surface: the contract (object-store.ts), the three implementations,
 * the index encoding that queries are built with, and `openStore`.
 */
import type { ObjectStore } from './object-store.js';
import { MemoryStore } from './memory.js';
import { LevelStore } from './leveldb/index.js';
import { PgStore } from './postgres/index.js';

export {
  StoreError,
  EVERYTHING,
  type ChangeOrigin,
  type StoreErrorCode,
  type StoreOp,
  type MetaOp,
  type CommitOp,
  type MetaEntry,
  type MetaSpace,
  type IndexQuery,
  type ObjectStore,
  type AuditAppend,
  type AuditEntry,
  type AuditLogReader,
  type CommitOptions,
  type StoreSnapshot,
} from './object-store.js';
export { indexValue, indexText, indexEnum, indexTerms, linkField, applicationField, RecordField, type IndexTerm } from './index-encoding.js';
export { encodeRecord, decodeRecord } from './record-codec.js';
export { MemoryStore } from './memory.js';
export { RecordCache, withRecordCache, DEFAULT_RECORD_CACHE, type RecordCacheConfig, type RecordCacheStats } from './record-cache.js';
export { LevelStore, type LevelStoreOptions, type CheckReport, SCHEMA_VERSION } from './leveldb/index.js';
export { PgStore, type PgStoreOptions, PG_SCHEMA_VERSION, redactUrl } from './postgres/index.js';

export type StoreConfig =
  | { readonly kind: 'memory' }
  | { readonly kind: 'leveldb'; readonly path: string; readonly maxGroupCommits?: number; readonly syncWindowMs?: number }
  | ({ readonly kind: 'postgresql' } & PgStoreOptionsOf);

/** PgStore's options (url, poolSize, maxGroupCommits, channel, connectTimeoutMs, nodeId, onFeedError). */
type PgStoreOptionsOf = ConstructorParameters<typeof PgStore>[0];

/** Create and open a store. */
export async function openStore(config: StoreConfig): Promise<ObjectStore> {
  let store: ObjectStore;
  switch (config.kind) {
    case 'memory':
      store = new MemoryStore();
      break;
    case 'leveldb':
      store = new LevelStore(config);
      break;
    case 'postgresql':
      store = new PgStore(config);
      break;
    default:
      throw new TypeError(`unknown store kind ${String((config as { kind: unknown }).kind)}`);
  }
  await store.open();
  return store;
}
