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
 * (bootstrap.ts): the software master key, or the KEK and audit key inside the token.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { HsmConfig } from '../config/config.js';
import { HsmAuditKey, SoftwareAuditKey, type AuditKey } from '../audit/audit-key.js';
import { HsmProtector } from '../hsm/hsm-protector.js';
import type { KeyProtector } from '../hsm/key-protector.js';
import { SoftwareProtector } from '../hsm/software/software-protector.js';
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
  if (!existsSync(p)) throw new BackupError('NO_RECOVERY', `${p} does not exist: set up recovery keys with 'kms init' (--recovery-key or --shares) before taking backups`);
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
  /** The audit key's id, and whether anything was created. */
  readonly created: boolean;
  close(): Promise<void>;
}

/**
 * The key protector and audit key of a data folder. `create`: make the master key (or the
 * KEK and audit key in the token) when absent; otherwise their absence is an error.
 */
export async function openKeys(dataDir: string, hsm: HsmConfig | undefined, opts: { create: boolean; pin?: string }): Promise<OpenKeys> {
  if (!hsm) {
    const path = join(dataDir, MASTER_KEY_FILE);
    if (!opts.create && !existsSync(path)) throw new BackupError('IO', `${path} does not exist (is this a data folder? with an HSM, give --config)`);
    const { protector, created } = SoftwareProtector.openOrCreate(path);
    const auditKey = SoftwareAuditKey.fromMasterKeyFile(path);
    return {
      protector,
      auditKey,
      created,
      async close() {
        await auditKey.close();
        await protector.close();
      },
    };
  }
  const { Pkcs11Backend } = await import('../hsm/pkcs11/pkcs11-backend.js');
  const { resolvePin } = await import('../hsm/pkcs11/pin.js');
  const backend = await Pkcs11Backend.open({
    module: hsm.module,
    ...(hsm.tokenLabel !== undefined ? { tokenLabel: hsm.tokenLabel } : {}),
    ...(hsm.slot !== undefined ? { slot: hsm.slot } : {}),
    pin: opts.pin ?? resolvePin(hsm, process.env),
  });
  try {
    if (!opts.create) {
      // Refuse to make a KEK in a token that should already hold one.
      const keks = (await backend.findKeys({ token: true })).filter((k) => (hsm.kekLabel !== undefined ? k.label === hsm.kekLabel : k.label?.startsWith('kms-kek-')));
      if (keks.length === 0) throw new BackupError('IO', `the token holds no KEK (kms-kek-*): wrong token?`);
    }
    const { protector, created } = await HsmProtector.open(backend, hsm.kekLabel !== undefined ? { kekLabel: hsm.kekLabel } : {});
    const auditKey = await HsmAuditKey.open(backend, { create: opts.create });
    return {
      protector,
      auditKey,
      created,
      async close() {
        await auditKey.close();
        await protector.close(); // closes the backend
      },
    };
  } catch (e) {
    await backend.close();
    throw e;
  }
}
