/**
 * The recovery setup of a data folder (DIR/recovery.json, written by `kms init` and
 * `kms recovery add`, put back by `kms restore`): who can open the folder's backups, public
 * keys only. What the keys do (wrapping a backup's file key) is src/backup/recovery.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { replaceFileDurably } from '../hsm/software/durable-file.js';
import { FolderError } from './errors.js';

export type RecipientKind = 'rsa-oaep-sha256' | 'ecies-p256';

export interface Recipient {
  readonly kind: RecipientKind;
  readonly keyId: string;
  /** SPKI PEM. */
  readonly publicKey: string;
  /** Set when the private key exists only as Shamir shares. */
  readonly shares?: { readonly set: string; readonly threshold: number; readonly total: number };
}

export interface RecoveryConfig {
  readonly format: 1;
  readonly recipients: readonly Recipient[];
}

/** The recovery setup at `path`; a folder without one (or with an empty one) is refused (NO_RECOVERY). */
export function readRecoverySetup(path: string): RecoveryConfig {
  if (!existsSync(path)) throw new FolderError('NO_RECOVERY', `${path} does not exist: set up recovery keys with 'kms recovery add' (--recovery-key or --shares) before taking backups`);
  let r: RecoveryConfig;
  try {
    r = JSON.parse(readFileSync(path, 'utf8')) as RecoveryConfig;
  } catch (e) {
    throw new FolderError('NO_RECOVERY', `${path}: ${(e as Error).message}`);
  }
  if (r?.format !== 1 || !Array.isArray(r.recipients) || r.recipients.length === 0) throw new FolderError('NO_RECOVERY', `${path} lists no recovery keys`);
  return r;
}

/** The recipients at `path`, none when there is no file yet (kms recovery add on a new folder). */
export function readRecipients(path: string): Recipient[] {
  if (!existsSync(path)) return [];
  try {
    const r = JSON.parse(readFileSync(path, 'utf8')) as RecoveryConfig;
    if (r?.format !== 1 || !Array.isArray(r.recipients)) throw new Error('not a recovery file');
    return [...r.recipients];
  } catch (e) {
    throw new FolderError('IO', `${path}: ${(e as Error).message}`);
  }
}

/** Written atomically (temporary file, fsync, rename, fsync of the folder), mode 0600. */
export function writeRecoverySetup(path: string, recipients: readonly Recipient[]): void {
  replaceFileDurably(path, JSON.stringify({ format: 1, recipients } satisfies RecoveryConfig, null, 2) + '\n');
}
