/**
 * The layout of a data folder: the one place that names its files.
 *
 *   DIR/db/              the LevelDB store (its LOCK is the folder's lock)
 *   DIR/custody.json     which keys protect the folder (custody.ts)
 *   DIR/master.key       the software master key (software protector only)
 *   DIR/hsm-kek.json     the current KEK's label after a rotation (kek-marker.ts; HSM only)
 *   DIR/kms.json         config written by `kms init` / `kms restore`: dataDir, and the hsm
 *                        section when keys are protected by a PKCS#11 token (never the PIN)
 *   DIR/recovery.json    the recovery recipients for backups (public keys only; recovery-setup.ts)
 *   DIR/certs/           server certificates and the development CA
 *   DIR/admin/           mode 0700; kms.sock, the running server's admin socket
 *   DIR/console-tokens.json  the web console's tokens, SHA-256 only (src/http/ui/tokens.ts)
 *   DIR/kms.lock         the folder's lock when the store is PostgreSQL (folder-lock.ts)
 *   DIR.audit-anchor.jsonl   the default audit anchor file: next to the folder, outside it
 *
 * DataFolder.open() (data-folder.ts) opens what is in it; this file only says where things are.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { HsmConfig } from '../config/config.js';
import { defaultAnchorFile } from '../audit/anchor.js';
import { FolderError } from './errors.js';

/** The names of a data folder's files and folders, relative to it. */
export const FOLDER_FILES = {
  db: 'db',
  custody: 'custody.json',
  masterKey: 'master.key',
  kekMarker: 'hsm-kek.json',
  config: 'kms.json',
  recovery: 'recovery.json',
  certs: 'certs',
  adminDir: 'admin',
  adminSocket: 'kms.sock',
  consoleTokens: 'console-tokens.json',
  lock: 'kms.lock',
} as const;

export const CONFIG_FILE = FOLDER_FILES.config;
/** The certificate files a backup carries (certs/ of the data folder). */
export const CERT_FILES = ['ca.pem', 'ca.key', 'server.pem', 'server.key'] as const;

/** Where each file of the data folder `dir` is (absolute paths). */
export interface FolderLayout {
  readonly dir: string;
  readonly db: string;
  readonly custody: string;
  readonly masterKey: string;
  readonly kekMarker: string;
  readonly config: string;
  readonly recovery: string;
  readonly certs: string;
  readonly adminDir: string;
  readonly adminSocket: string;
  readonly consoleTokens: string;
  /** The folder's lock file (a PostgreSQL store: LevelDB's LOCK is not there to hold). */
  readonly lock: string;
  /** The default audit anchor file (audit.anchorFile overrides it): a sibling of the folder. */
  readonly auditAnchor: string;
}

export function folderLayout(dataDir: string): FolderLayout {
  const dir = resolve(dataDir);
  const at = (name: string) => join(dir, name);
  return {
    dir,
    db: at(FOLDER_FILES.db),
    custody: at(FOLDER_FILES.custody),
    masterKey: at(FOLDER_FILES.masterKey),
    kekMarker: at(FOLDER_FILES.kekMarker),
    config: at(FOLDER_FILES.config),
    recovery: at(FOLDER_FILES.recovery),
    certs: at(FOLDER_FILES.certs),
    adminDir: at(FOLDER_FILES.adminDir),
    adminSocket: join(dir, FOLDER_FILES.adminDir, FOLDER_FILES.adminSocket),
    consoleTokens: at(FOLDER_FILES.consoleTokens),
    lock: at(FOLDER_FILES.lock),
    auditAnchor: defaultAnchorFile(dir),
  };
}

export function adminSocketPath(dataDir: string): string {
  return folderLayout(dataDir).adminSocket;
}

/** Refuse a target that exists and holds anything (or is not a folder). */
export function assertEmptyFolder(dir: string, what: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new FolderError('NOT_EMPTY', `${dir} exists and is not a folder`);
  const entries = readdirSync(dir);
  if (entries.length > 0) throw new FolderError('NOT_EMPTY', `${dir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}): ${what}`);
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
