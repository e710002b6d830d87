/**
 * The data folder as backup, restore and init see it:
 *
 *   DIR/db/            the LevelDB store
 *   DIR/master.key     the software master key (software backend only)
 *   DIR/kms.json       config written by `kms init` / `kms restore`: dataDir, and the hsm
 *                      section when keys are protected by a PKCS#11 token (never the PIN)
 *   DIR/recovery.json  the recovery recipients for backups (public keys only)
 *   DIR/certs/         server certificates and the development CA
 *   DIR/admin/         mode 0700; kms.sock, the running server's admin socket (backups)
 *
 * `openKeys` opens the key protector and the audit key the same way the server does
 * (bootstrap.ts): those the folder's custody record names (src/hsm/custody.ts).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { HsmConfig } from '../config/config.js';
import type { AuditKey } from '../audit/audit-key.js';
import { openFolderKeys } from '../hsm/custody.js';
import type { KeyProtector } from '../hsm/key-protector.js';
import type { ObjectStore } from '../store/object-store.js';
import { BackupError } from './errors.js';
import { RECOVERY_FILE, type RecoveryConfig } from './recovery.js';

export const CONFIG_FILE = 'kms.json';
export const MASTER_KEY_FILE = 'master.key';
export const ADMIN_DIR = 'admin';
export const ADMIN_SOCKET = 'kms.sock';
/** The certificate files a backup carries (certs/ of the data folder). */
export const CERT_FILES = ['ca.pem', 'ca.key', 'server.pem', 'server.key'] as const;

export function adminSocketPath(dataDir: string): string {
  return join(dataDir, ADMIN_DIR, ADMIN_SOCKET);
}

/** Refuse a target that exists and holds anything (or is not a folder). */
export function assertEmptyFolder(dir: string, what: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new BackupError('NOT_EMPTY', `${dir} exists and is not a folder`);
  const entries = readdirSync(dir);
  if (entries.length > 0) throw new BackupError('NOT_EMPTY', `${dir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}): ${what}`);
}

export function readRecovery(dataDir: string): RecoveryConfig {
  const p = join(dataDir, RECOVERY_FILE);
  if (!existsSync(p)) throw new BackupError('NO_RECOVERY', `${p} does not exist: set up recovery keys with 'kms recovery add' (--recovery-key or --shares) before taking backups`);
  let r: RecoveryConfig;
  try {
    r = JSON.parse(readFileSync(p, 'utf8')) as RecoveryConfig;
  } catch (e) {
    throw new BackupError('NO_RECOVERY', `${p}: ${(e as Error).message}`);
  }
  if (r?.format !== 1 || !Array.isArray(r.recipients) || r.recipients.length === 0) throw new BackupError('NO_RECOVERY', `${p} lists no recovery keys`);
  return r;
}

/** The config file's content: no PIN is ever written (pinFile / pinEnv are kept). */
export function configFileContent(dataDir: string, hsm: HsmConfig | undefined): string {
  const out: Record<string, unknown> = { dataDir };
  if (hsm) {
    const { pin: _pin, ...rest } = hsm;
    out.hsm = rest;
  }
  return JSON.stringify(out, null, 2) + '\n';
}

export interface OpenKeys {
  readonly protector: KeyProtector;
  readonly auditKey: AuditKey;
  /** Whether the keys were made now (a new folder). */
  readonly created: boolean;
  close(): Promise<void>;
}

/**
 * The key protector and audit key of a data folder, as its custody record names them
 * (src/hsm/custody.ts); `store` must be open (the folder's lock held). `create`: a folder with
 * no keys yet gets new ones (recorded in custody.json); otherwise that is an error.
 */
export async function openKeys(dataDir: string, hsm: HsmConfig | undefined, opts: { create: boolean; pin?: string; store: ObjectStore }): Promise<OpenKeys> {
  const keys = await openFolderKeys({ dataDir, store: opts.store, ...(hsm && { hsm }), create: opts.create, ...(opts.pin !== undefined && { pin: opts.pin }) });
  return { protector: keys.protector, auditKey: keys.auditKey, created: keys.how === 'new', close: () => keys.close() };
}
