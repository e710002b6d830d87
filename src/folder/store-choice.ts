/**
 * Which store a data folder's server uses (config `store`, KMS_STORE, --store): the folder's
 * own LevelDB database (absent), or a PostgreSQL database shared by the nodes of a cluster
 * (a postgresql:// URL; docs/cluster-nodes.md). The rest of the server sees the ObjectStore
 * contract only; what one store has and another has not (LevelDB's group-commit metrics and
 * deferred-sync failure hook, PostgreSQL's notifications of other nodes' changes) is reached
 * through the optional hooks here, absent where a store does not have them.
 */
import { openStore } from '../store/index.js';
import type { StorePoolConfig } from '../config/store-pool.js';
import { LevelStore } from '../store/leveldb/index.js';
import type { ObjectStore } from '../store/object-store.js';
import { redactIn } from '../config/store-url.js';
import { PgStore } from '../store/postgres/index.js';

/** Is `store` a database shared by the nodes of a cluster (PostgreSQL)? */
export function isClusterStore(store: ObjectStore): boolean {
  return store instanceof PgStore;
}

/**
 * What is not built for a cluster (docs/cluster-nodes.md): protector migration changes the
 * protector every node uses (KEK rotation over a cluster is built: cluster-kek.ts). Refused,
 * before anything is changed, over a shared store, with the procedure that does it.
 */
export function refuseOnClusterStore(store: ObjectStore, what: string): void {
  if (isClusterStore(store))
    throw new Error(
      `${what} is not available over a PostgreSQL store shared by a cluster (every node would have to switch protector at once). ` +
        `Instead: stop every node, kms backup --store URL, kms restore into a new data folder (its own LevelDB), kms protector migrate there, ` +
        `kms store migrate into a new database, and start the nodes on new folders that join (docs/cluster-nodes.md, "Protector migration"). ` +
        `To change the KEK in the same token, use kms hsm rotate-kek: it works over the cluster`,
    );
}

/** Hooks some stores have (set when present, ignored otherwise). */
export interface StoreHooks {
  /** A group of commits written (LevelDB: the group-commit metrics). */
  readonly groupWritten?: (commits: number, seconds: number, synced: boolean) => void;
  /** A due deferred sync failed (LevelDB: read records' batched sync). */
  readonly deferredSyncFailed?: (e: unknown) => void;
}

interface Hookable {
  onGroupWritten?: StoreHooks['groupWritten'];
  onDeferredSyncFailed?: StoreHooks['deferredSyncFailed'];
}

export function setStoreHooks(store: ObjectStore, hooks: StoreHooks): void {
  const s = store as ObjectStore & Hookable;
  if (hooks.groupWritten && 'onGroupWritten' in s) s.onGroupWritten = hooks.groupWritten;
  if (hooks.deferredSyncFailed && 'onDeferredSyncFailed' in s) s.onDeferredSyncFailed = hooks.deferredSyncFailed;
}

export interface FolderStoreOptions {
  /** The LevelDB folder (used when `url` is absent). */
  readonly path: string;
  /** A postgresql:// URL: the shared database. */
  readonly url?: string;
  /** PostgreSQL pool options (config `storePool`). */
  readonly pool?: StorePoolConfig;
  readonly readOnly?: boolean;
  readonly syncWindowMs?: number;
}

/** The store, not yet open (LevelDB), or opened (PostgreSQL, through openStore). Errors never carry the URL's password. */
export async function openFolderStore(o: FolderStoreOptions): Promise<ObjectStore> {
  if (o.url === undefined) {
    const store = new LevelStore({ path: o.path, ...(o.readOnly && { readOnly: true }), ...(o.syncWindowMs !== undefined && { syncWindowMs: o.syncWindowMs }) });
    await store.open();
    return store;
  }
  try {
    return await openStore({ kind: 'postgresql', url: o.url, ...o.pool, ...(o.readOnly && { readOnly: true }) });
  } catch (e) {
    const err = new Error(redactIn((e as Error).message, o.url));
    (err as { code?: unknown }).code = (e as { code?: unknown }).code;
    throw err;
  }
}
