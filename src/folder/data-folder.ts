/**
 * A data folder, opened: the one way every command and the server open one (kms serve, init,
 * restore, backup, audit, keys, hsm, protector).
 *
 * `DataFolder.open()` does, in this order:
 * 1. the recovery setup, when asked to require it (a backup fails before anything is opened);
 * 2. the store: its LevelDB LOCK is the folder's lock, taken before anything else, so nothing
 *    is made in a token and no key file written for a folder another process holds (IN_USE);
 *    read-only for readers that never write (they never create a database either). With a
 *    PostgreSQL store (`storeUrl`, shared by a cluster's nodes) the folder takes a lock file
 *    of its own first (folder-lock.ts), and the database's custody record is checked or
 *    joined (cluster-custody.ts) before the keys are opened;
 * 3. the keys the folder's custody record names (custody.ts): the key protector (software
 *    master key, or a KEK in a PKCS#11 token) and the audit key, made for a new folder when
 *    asked (`keys: 'create'`), else a folder without keys is refused (CustodyError).
 * The protector and audit key are handed out behind switchable indirections (switchable.ts),
 * so a protector migration on a running server can repoint them.
 *
 * `close()` closes in the reverse order, audit trails first: a trail's shutdown checkpoint and
 * its anchors (the anchor file, the token's anchor object) are awaited before the store
 * closes, and the token (the protector owns the PKCS#11 session) closes last.
 */
import { existsSync, mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import type { HsmConfig, KmsConfig } from '../config/config.js';
import type { StorePoolConfig } from '../config/store-pool.js';
import { openAnchors } from '../audit/anchor-config.js';
import type { AuditKey } from '../audit/audit-key.js';
import { AuditTrail, type AuditTrailOptions } from '../audit/trail.js';
import type { KeyProtector } from '../hsm/key-protector.js';
import type { Pkcs11Backend } from '../hsm/pkcs11/pkcs11-backend.js';
import type { ObjectStore } from '../store/object-store.js';
import { prepareClusterCustody, publishClusterCustody } from './cluster-custody.js';
import { ClusterKekFollower } from './cluster-kek.js';
import { FolderLock } from './folder-lock.js';
import { openFolderStore } from './store-choice.js';
import { openFolderKeys, type CustodyRecord } from './custody.js';
import { FolderError } from './errors.js';
import { folderLayout, type FolderLayout } from './layout.js';
import { readRecoverySetup, type RecoveryConfig } from './recovery-setup.js';
import { SwitchableAuditKey, SwitchableProtector } from './switchable.js';

export interface DataFolderOptions {
  readonly dataDir: string;
  /** The store: 'read-write' (default) or 'read-only' (readers that never write; the database must exist). */
  readonly store?: 'read-write' | 'read-only';
  /** Refuse a folder without a database (NO_DATABASE) instead of making one; implied by 'read-only'. */
  readonly mustExist?: boolean;
  /**
   * The keys: 'open' (default) those the custody record names, a folder without keys refused;
   * 'create' a new folder gets new ones (recorded in custody.json first); 'none' the store only.
   */
  readonly keys?: 'open' | 'create' | 'none';
  /** The configured token (absent: the software master key). */
  readonly hsm?: HsmConfig;
  /** The token's PIN, when the caller resolved it already (else from the hsm section / KMS_HSM_PIN). */
  readonly pin?: string;
  /** Open a folder whose protector migration is in progress (default: refused, CustodyError MIGRATING). */
  readonly allowMigrating?: boolean;
  /** Read the recovery setup first and refuse the folder without one (NO_RECOVERY). */
  readonly requireRecovery?: boolean;
  /** A postgresql:// URL: the database shared by a cluster's nodes (absent: the folder's LevelDB). */
  readonly storeUrl?: string;
  /** A shared store must hold the cluster's custody record already: this folder joins it (kms init --join). */
  readonly join?: boolean;
  /** PostgreSQL pool options (config storePool). */
  readonly storePool?: StorePoolConfig;
  /** The store's deferred-sync window for batched read records (audit.readSyncWindowMs). */
  readonly syncWindowMs?: number;
  /** What the IN_USE message says after "in use by a running server" (default ": stop it first"). */
  readonly inUse?: string;
  readonly log?: { warn(obj: object, msg: string): void };
}

/** The opened keys: behind switchable indirections (a migration on a running server repoints them). */
export interface OpenedKeys {
  readonly protector: SwitchableProtector;
  readonly auditKey: SwitchableAuditKey;
  /** The token, for an HSM folder (resident keys, rotation). */
  readonly backend?: Pkcs11Backend;
  readonly custody: CustodyRecord;
  /** "new", "recorded" or "adopted" (a legacy folder recorded now). */
  readonly how: 'new' | 'recorded' | 'adopted';
}

export class DataFolder {
  private readonly trails: AuditTrail[] = [];
  private closing: Promise<void> | undefined;

  private constructor(
    readonly layout: FolderLayout,
    readonly store: ObjectStore,
    private readonly opened: OpenedKeys | undefined,
    private readonly lock?: FolderLock,
    /** Over a cluster's store with an HSM: follows the cluster's KEK (cluster-kek.ts). */
    readonly follower?: ClusterKekFollower,
  ) {}

  /** Is the store a database shared with other nodes (PostgreSQL)? */
  get shared(): boolean {
    return this.lock !== undefined || this.sharedReader;
  }

  private sharedReader = false;

  static async open(o: DataFolderOptions): Promise<DataFolder> {
    const layout = folderLayout(o.dataDir);
    if (o.requireRecovery) readRecoverySetup(layout.recovery);
    const readOnly = o.store === 'read-only';
    const shared = o.storeUrl !== undefined;
    if (!shared && (readOnly || o.mustExist) && !existsSync(layout.db))
      throw new FolderError('NO_DATABASE', `${layout.dir} holds no database (not a data folder, or its server never started)`);
    if (!readOnly) mkdirSync(layout.dir, { recursive: true, mode: 0o700 });
    const inUse = `${layout.dir} is in use by a running server`;
    // A shared database has no lock in the folder: the folder's own, before anything else.
    const lock = shared && !readOnly ? FolderLock.acquire(layout.lock, inUse) : undefined;
    let store: ObjectStore;
    try {
      store = await openFolderStore({
        path: layout.db,
        ...(o.storeUrl !== undefined && { url: o.storeUrl }),
        ...(o.storePool && { pool: o.storePool }),
        ...(readOnly && { readOnly: true }),
        ...(o.syncWindowMs !== undefined && { syncWindowMs: o.syncWindowMs }),
      });
    } catch (e) {
      lock?.release();
      const msg = (e as Error).message;
      if (!shared && /in use|lock/i.test(msg)) throw new FolderError('IN_USE', `${inUse} (another process holds its lock)${o.inUse ?? ': stop it first'}`, { cause: e });
      throw new FolderError('IO', `cannot open the ${shared ? 'PostgreSQL store' : 'database'} of ${layout.dir}: ${msg}`, { cause: e });
    }
    const folderOf = (keys: OpenedKeys | undefined, follower?: ClusterKekFollower) => {
      const f = new DataFolder(layout, store, keys, lock, follower);
      f.sharedReader = shared;
      return f;
    };
    if ((o.keys ?? 'open') === 'none') return folderOf(undefined);
    let closeKeys: (() => Promise<void>) | undefined;
    try {
      if (shared && !readOnly) await prepareClusterCustody({ dataDir: layout.dir, store, hsm: o.hsm !== undefined, ...(o.join && { mustJoin: true }) });
      const keys = await openFolderKeys({
        dataDir: layout.dir,
        store,
        ...(o.hsm && { hsm: o.hsm }),
        create: o.keys === 'create',
        refuseMigrating: o.allowMigrating !== true,
        ...(o.pin !== undefined && { pin: o.pin }),
        ...(o.log && { log: o.log }),
      });
      closeKeys = () => keys.close();
      if (shared && !readOnly) await publishClusterCustody(store, layout.dir, keys.custody);
      const opened: OpenedKeys = {
        protector: new SwitchableProtector(keys.protector),
        auditKey: new SwitchableAuditKey(keys.auditKey),
        ...(keys.backend && { backend: keys.backend }),
        custody: keys.custody,
        how: keys.how,
      };
      // Every node of a cluster follows the cluster's KEK: a rotation on any node reaches this one.
      const follower =
        shared && !readOnly && keys.backend
          ? await ClusterKekFollower.start({
              dataDir: layout.dir,
              store,
              protector: opened.protector,
              backend: keys.backend,
              settings: {
                ...(o.storePool?.kekLeaseTtlMs !== undefined && { leaseTtlMs: o.storePool.kekLeaseTtlMs }),
                ...(o.storePool?.kekNodesWaitMs !== undefined && { nodesWaitMs: o.storePool.kekNodesWaitMs }),
              },
              ...(o.log && { log: o.log }),
            })
          : undefined;
      return folderOf(opened, follower);
    } catch (e) {
      await closeKeys?.().catch(() => undefined);
      await store.close();
      lock?.release();
      throw e;
    }
  }

  get dir(): string {
    return this.layout.dir;
  }

  /** The keys (absent when opened with `keys: 'none'`). */
  get keys(): OpenedKeys | undefined {
    return this.opened;
  }

  get protector(): KeyProtector {
    return this.mustHaveKeys().protector;
  }

  get auditKey(): AuditKey {
    return this.mustHaveKeys().auditKey;
  }

  /** The recovery setup (recovery.json), read now: a backup reads it when it is taken. */
  recovery(): RecoveryConfig {
    return readRecoverySetup(this.layout.recovery);
  }

  /**
   * An audit trail on the folder's store under its audit key, anchored as `audit` (the config's
   * audit section) says; closed by `close()` before the store and the keys.
   */
  async openTrail(o: { readonly log: Logger; readonly audit?: KmsConfig['audit'] } & Omit<AuditTrailOptions, 'store' | 'key' | 'anchors' | 'log'>): Promise<AuditTrail> {
    const { audit, ...rest } = o;
    const key = this.auditKey;
    const anchors = await openAnchors({ dataDir: this.layout.dir, ...(audit && { audit }) }, this.store.audit, key, o.log);
    const trail = new AuditTrail({ ...rest, store: this.store, key, anchors });
    this.trails.push(trail);
    return trail;
  }

  /** Trails (their shutdown checkpoints and anchors awaited), then the store, then the audit key and the protector (the token). */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const failures: unknown[] = [];
      const step = async (f: () => Promise<void>) => {
        try {
          await f();
        } catch (e) {
          failures.push(e);
        }
      };
      for (const t of this.trails) await step(() => t.close());
      if (this.follower) await step(() => this.follower!.close());
      await step(() => this.store.close());
      if (this.opened) {
        const keys = this.opened;
        await step(() => keys.auditKey.close());
        await step(() => keys.protector.close());
      }
      this.lock?.release();
      if (failures.length > 0) throw failures[0];
    })();
    return this.closing;
  }

  private mustHaveKeys(): OpenedKeys {
    if (!this.opened) throw new Error(`${this.layout.dir} was opened without its keys`);
    return this.opened;
  }
}
