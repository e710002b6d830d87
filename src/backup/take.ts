/**
 * Taking a backup: from a store and key protector (the running server, through its admin
 * socket) or from a stopped data folder (opened directly).
 */
import { existsSync, readFileSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { HsmConfig } from '../config/config.js';
import type { KeyProtector } from '../hsm/key-protector.js';
import type { ObjectStore } from '../store/object-store.js';
import { DataFolder } from '../folder/data-folder.js';
import { CERT_FILES, folderLayout } from '../folder/layout.js';
import { readRecoverySetup } from '../folder/recovery-setup.js';
import { writeBackup, type BackupProgress, type BackupSummary } from './content.js';
import { partialName } from './restore.js';
import type { SharedStore } from './shared-store.js';

/** The data folder's certificates, carried so agents keep trusting a restored server. */
export function certFiles(dataDir: string): { name: string; bytes: Buffer }[] {
  const certs = folderLayout(dataDir).certs;
  return CERT_FILES.map((name) => ({ name, path: join(certs, name) }))
    .filter((f) => existsSync(f.path))
    .map((f) => ({ name: f.name, bytes: readFileSync(f.path) }));
}

export interface TakeOptions {
  readonly store: ObjectStore;
  readonly protector: KeyProtector;
  readonly dataDir: string;
  readonly source?: Readonly<Record<string, string | number>>;
  readonly onProgress?: (p: BackupProgress) => void;
  readonly progressEvery?: number;
  readonly chunkSize?: number;
}

/** Snapshot the store and write the backup to `sink`. */
export async function takeBackup(opts: TakeOptions, sink: (b: Buffer) => Promise<void>): Promise<BackupSummary> {
  const recovery = readRecoverySetup(folderLayout(opts.dataDir).recovery);
  const snapshot = await opts.store.snapshot();
  try {
    return await writeBackup(
      {
        snapshot,
        protector: opts.protector,
        recovery,
        files: certFiles(opts.dataDir),
        source: { protector: opts.protector.kekId.split(':')[0] ?? '', ...(opts.source ?? {}) },
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
        ...(opts.progressEvery !== undefined ? { progressEvery: opts.progressEvery } : {}),
        ...(opts.chunkSize !== undefined ? { chunkSize: opts.chunkSize } : {}),
      },
      sink,
    );
  } finally {
    await snapshot.close();
  }
}

/** Write to `out` through a temporary file, synced and renamed into place when complete. */
export async function toFile<T>(out: string, write: (sink: (b: Buffer) => Promise<void>) => Promise<T>): Promise<T> {
  const tmp = partialName(out);
  const fh = await open(tmp, 'wx', 0o600);
  try {
    const result = await write(async (b) => {
      await fh.write(b);
    });
    await fh.sync();
    await fh.close();
    await rename(tmp, out);
    return result;
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}

/**
 * Back up a stopped data folder (its database must not be in use), or, with `shared`, a
 * PostgreSQL store through this folder's keys: one consistent snapshot of the database
 * (PgStore.snapshot) while the cluster's nodes keep serving.
 */
export async function backupStoppedFolder(dataDir: string, hsm: HsmConfig | undefined, out: string, onProgress?: (p: BackupProgress) => void, shared?: SharedStore): Promise<BackupSummary> {
  // The recovery setup is checked before anything is opened.
  const folder = await DataFolder.open({
    dataDir,
    ...(hsm && { hsm }),
    ...(shared && { storeUrl: shared.url, ...(shared.pool && { storePool: shared.pool }) }),
    keys: 'open',
    mustExist: true,
    requireRecovery: true,
    inUse: ", and the server's admin socket does not answer",
  });
  try {
    return await toFile(out, (sink) =>
      takeBackup(
        {
          store: folder.store,
          protector: folder.protector,
          dataDir,
          source: { taken: shared ? 'PostgreSQL store, snapshot' : 'stopped data folder' },
          ...(onProgress ? { onProgress } : {}),
        },
        sink,
      ),
    );
  } finally {
    await folder.close();
  }
}
