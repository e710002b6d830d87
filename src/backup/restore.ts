/**
 * Restore a backup into an EMPTY data folder, on a server with its own key backend.
 *
 * 1. The target must not exist or be empty (NOT_EMPTY otherwise).
 * 2. The file key is unwrapped with the recovery credential (WRONG_CREDENTIAL if it is not
 *    a recipient), then the whole file is scanned: every chunk authenticated, every frame
 *    and the audit chain checked (TAMPERED on any problem). Nothing is written before this
 *    pass succeeds.
 * 3. Everything is written into a staging folder next to the target: a new master key (or
 *    the token's KEK), each object re-sealed under it with its uid, the audit log entry by
 *    entry with its original bytes, then a restore anchor under the new audit key
 *    (record.ts), recovery.json (the backup's recipients, so later backups stay readable by
 *    the same custodians), kms.json and the certificates. The second pass authenticates
 *    again as it goes (the file could change between passes).
 * 4. The staging folder is renamed onto the target. On any failure it is removed: nothing
 *    half-restored is left behind. (With an HSM, a KEK and audit key created in the token
 *    stay there; they protect nothing.)
 */
import { randomBytes, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { HsmConfig } from '../config/config.js';
import { sha256 } from '../audit/record.js';
import { writeRestoreAnchor } from '../audit/restore-anchor.js';
import { AnchorWriter, anchoredEntryAt } from '../audit/anchor-writer.js';
import type { ObjectRecord } from '../objects/managed-object.js';
import type { AuditAppend, CommitOp } from '../store/object-store.js';
import { DataFolder } from '../folder/data-folder.js';
import { assertEmptyFolder, configFileContent, folderLayout } from '../folder/layout.js';
import { scanBackup, type BackupProgress, type Manifest } from './content.js';
import { BackupError } from './errors.js';
import { BackupFile } from './format.js';
import { unwrapFileKey } from './recovery.js';
import { assertEmptyStore, type SharedStore } from './shared-store.js';

export interface RestoreOptions {
  readonly file: string;
  readonly dataDir: string;
  readonly credential: KeyObject;
  /** The new server's token; absent: a new software master key. */
  readonly hsm?: HsmConfig;
  readonly onProgress?: (p: BackupProgress & { readonly pass: 'verify' | 'write' }) => void;
  readonly progressEvery?: number;
  /**
   * Restore into this PostgreSQL database (EMPTY) instead of the new folder's own LevelDB: the
   * folder gets the new keys, its lock file and certificates; the database the records, the
   * audit log and the cluster custody record (the new keys), so other nodes can join it.
   */
  readonly store?: SharedStore;
}

export interface RestoreSummary {
  readonly backup: string;
  readonly objects: number;
  /** Server-metadata entries (the client registry, content.ts BACKED_UP_META). */
  readonly meta: number;
  readonly auditEntries: number;
  readonly kekId: string;
  readonly auditKeyId: string;
  /** Objects whose value is a non-extractable key of the SOURCE HSM (see content.ts). */
  readonly hsmResident: number;
}

const OBJECTS_PER_COMMIT = 200;
const AUDIT_PER_COMMIT = 1000;

export async function verifyBackupFile(file: string, credential: KeyObject, onProgress?: (p: BackupProgress) => void, progressEvery?: number) {
  const f = await BackupFile.open(file);
  try {
    const key = unwrapFileKey(f.header.recipients, credential);
    try {
      const scan = await scanBackup(f, key, undefined, onProgress, progressEvery);
      return { header: f.header, ...scan };
    } finally {
      key.fill(0);
    }
  } finally {
    await f.close();
  }
}

export async function restoreBackup(opts: RestoreOptions): Promise<RestoreSummary> {
  const target = resolve(opts.dataDir);
  assertEmptyFolder(target, 'restore fills an empty data folder only');
  if (opts.store) await assertEmptyStore(opts.store, 'restore fills an empty database only');
  const file = await BackupFile.open(opts.file);
  let stage: string | undefined;
  try {
    const fileKey = unwrapFileKey(file.header.recipients, opts.credential);
    try {
      const every = opts.progressEvery;
      await scanBackup(file, fileKey, undefined, (p) => opts.onProgress?.({ ...p, pass: 'verify' }), every);

      mkdirSync(dirname(target), { recursive: true });
      stage = mkdtempSync(join(dirname(target), `.${basename(target)}.restoring-`));
      chmodSync(stage, 0o700);
      let summary: RestoreSummary;
      try {
        summary = await writeInto(stage, target, file, fileKey, opts);
      } catch (e) {
        // A database has no rename: what was written stays there, and says so.
        if (opts.store && !(e instanceof BackupError && e.code === 'NOT_EMPTY'))
          throw new BackupError('IO', `${(e as Error).message} (the database may hold part of this restore: drop and re-create it before restoring again)`, { cause: e });
        throw e;
      }
      if (existsSync(target)) rmdirSync(target); // empty (checked above); rename needs it gone
      renameSync(stage, target);
      stage = undefined;
      return summary;
    } finally {
      fileKey.fill(0);
    }
  } finally {
    await file.close();
    if (stage) rmSync(stage, { recursive: true, force: true });
  }
}

async function writeInto(stage: string, target: string, file: BackupFile, fileKey: Buffer, opts: RestoreOptions): Promise<RestoreSummary> {
  // The staging folder, opened as the new server will open it: new keys, recorded in its custody.json.
  const shared = opts.store;
  const folder = await DataFolder.open({
    dataDir: stage,
    ...(opts.hsm && { hsm: opts.hsm }),
    ...(shared && { storeUrl: shared.url, ...(shared.pool && { storePool: shared.pool }) }),
    keys: 'create',
  });
  const keys = { protector: folder.protector, auditKey: folder.auditKey };
  const layout = folderLayout(stage);
  try {
    const s = folder.store;
    let manifest: Manifest | undefined;
    let ops: CommitOp[] = [];
    let appends: AuditAppend[] = [];
    let link: Buffer = Buffer.alloc(0);
    let objects = 0;
    let metas = 0;
    let audits = 0;
    let hsmResident = 0;
    const importedKeyIds = new Set<string>();
    const flushOps = async () => {
      if (ops.length) await s.commit(ops);
      ops = [];
    };
    const flushAudit = async () => {
      if (appends.length) await s.commit([], { audit: appends });
      appends = [];
    };
    await scanBackup(
      file,
      fileKey,
      async (f) => {
        switch (f.type) {
          case 'manifest':
            manifest = f.manifest;
            break;
          case 'object': {
            let rec: ObjectRecord = f.record;
            if (rec.hsmKey !== undefined) hsmResident++;
            if (f.body) {
              const sealed = await keys.protector.seal(rec.uid, f.body);
              f.body.fill(0);
              rec = { ...rec, sealedBody: sealed, kekId: keys.protector.kekId };
            }
            ops.push({ type: 'put', record: rec, expectedRevision: 0 });
            objects++;
            if (ops.length >= OBJECTS_PER_COMMIT) await flushOps();
            break;
          }
          case 'meta':
            // A fresh entry (revision 1) in the new store: revisions only order one store's changes.
            ops.push({ type: 'meta-put', key: f.key, value: f.value, expectedRevision: 0 });
            metas++;
            if (ops.length >= OBJECTS_PER_COMMIT) await flushOps();
            break;
          case 'audit': {
            await flushOps();
            const { seq, bytes } = f;
            const parsed = JSON.parse(bytes.toString('utf8')) as { kind?: string; keyId?: string };
            if ((parsed.kind === 'checkpoint' || parsed.kind === 'restore') && typeof parsed.keyId === 'string') importedKeyIds.add(parsed.keyId);
            // The new log must hold the old one exactly: same positions, same links. Fixed here,
            // not in `seal`, which a store may call again for the same entry (a retried write).
            const expectPrev = link;
            const own = sha256(bytes);
            link = own;
            appends.push({
              seal: (at, prev) => {
                if (at !== seq || !Buffer.from(prev).equals(expectPrev)) throw new BackupError('IO', `audit entry ${seq} would land at ${at}`);
                return { bytes, link: own };
              },
            });
            audits++;
            if (appends.length >= AUDIT_PER_COMMIT) await flushAudit();
            break;
          }
          case 'file': {
            const dir = layout.certs;
            mkdirSync(dir, { recursive: true, mode: 0o700 });
            writeFileSync(join(dir, f.name), f.bytes, { mode: f.name.endsWith('.key') ? 0o600 : 0o644 });
            f.bytes.fill(0);
            break;
          }
        }
      },
      (p) => opts.onProgress?.({ ...p, pass: 'write' }),
      opts.progressEvery,
    );
    await flushOps();
    await flushAudit();
    if (!manifest) throw new BackupError('TAMPERED', 'no manifest');
    await writeRestoreAnchor(s, keys.auditKey, file.header.id, [...importedKeyIds]);
    // The restore record starts a new incarnation of the trail: anchored outside the folder
    // (the default anchor file next to it, the token) like a checkpoint. Best effort: the
    // server anchors its first checkpoint anyway.
    const restoreEntry = await anchoredEntryAt(s.audit, s.audit.head().seq);
    if (restoreEntry) {
      const quiet = { warn: () => undefined, error: () => undefined };
      await (await AnchorWriter.open({ reader: s.audit, key: keys.auditKey, file: folderLayout(target).auditAnchor, log: quiet })).anchor(restoreEntry);
    }
    const summary = { backup: file.header.id, objects, meta: metas, auditEntries: audits, kekId: keys.protector.kekId, auditKeyId: keys.auditKey.id, hsmResident };
    await folder.close();
    writeFileSync(layout.recovery, JSON.stringify(manifest.recovery, null, 2) + '\n', { mode: 0o600 });
    writeFileSync(layout.config, restoredConfig(target, opts.hsm, shared?.url), { mode: 0o600 });
    return summary;
  } finally {
    await folder.close();
  }
}

/**
 * kms.json of a restored folder: the data folder and hsm section as always, and the store URL
 * when it carries no password (never written to a file: give it with --store or KMS_STORE).
 */
function restoredConfig(dataDir: string, hsm: HsmConfig | undefined, url: string | undefined): string {
  const config = JSON.parse(configFileContent(dataDir, hsm)) as Record<string, unknown>;
  if (url !== undefined && !hasPassword(url)) config.store = url;
  return JSON.stringify(config, null, 2) + '\n';
}

function hasPassword(url: string): boolean {
  try {
    const u = new URL(url);
    return u.password !== '' || [...u.searchParams.keys()].some((k) => /pass/i.test(k));
  } catch {
    return true;
  }
}

/** A unique temporary name next to `path` (for writing a file and renaming it into place). */
export function partialName(path: string): string {
  return `${path}.partial-${randomBytes(4).toString('hex')}`;
}
