/** A PostgreSQL store for backup and restore: where it is, and whether it is empty enough to restore into. */
import type { StorePoolConfig } from '../config/store-pool.js';
import { openFolderStore } from '../folder/store-choice.js';
import { BackupError } from './errors.js';

/** Where a folder's store is when it is not the folder's LevelDB: a PostgreSQL database. */
export interface SharedStore {
  readonly url: string;
  /** The config's storePool section. */
  readonly pool?: StorePoolConfig;
}

/** Throws BackupError NOT_EMPTY when the database holds anything (records, audit entries, metadata); IO when it cannot be read. */
export async function assertEmptyStore(shared: SharedStore, what: string): Promise<void> {
  let store;
  try {
    store = await openFolderStore({ path: '', url: shared.url, ...(shared.pool && { pool: shared.pool }) });
  } catch (e) {
    throw new BackupError('IO', `cannot open the PostgreSQL store: ${(e as Error).message}`, { cause: e });
  }
  try {
    const records = await store.count();
    const audit = store.audit.head().seq;
    const meta = await store.meta.list('', { limit: 1 });
    if (records > 0 || audit > 0 || meta.length > 0)
      throw new BackupError('NOT_EMPTY', `the database is not empty (${records} records, ${audit} audit entries${meta.length > 0 ? `, metadata such as ${meta[0]!.key}` : ''}): ${what}`);
  } finally {
    await store.close();
  }
}
