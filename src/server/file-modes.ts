/**
 * File modes of the data folder, checked at every start (docs/custody.md):
 * - the folder and every folder in it: 0700; every file (and the admin socket): 0600. Files
 *   made by older versions (recovery.json 0644, LevelDB's 0644 tables, certificates) are
 *   tightened; a mode that cannot be set (a file owned by another user) refuses the start
 *   with the path and the reason. Symbolic links are not followed and are left alone (logged).
 * - a config file that holds the HSM PIN (hsm.pin), or the PIN file (hsm.pinFile), readable by
 *   group or others: a warning naming it.
 */
import { chmodSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { KmsConfig } from '../config/config.js';

export const FOLDER_MODE = 0o700;
export const FILE_MODE = 0o600;

export class FolderModeError extends Error {
  override readonly name = 'FolderModeError';
}

/** Make `dataDir` 0700 and everything in it 0700 (folders) / 0600 (files). Returns the paths changed. */
export function secureDataFolder(dataDir: string, log?: Pick<Logger, 'warn'>): string[] {
  const changed: string[] = [];
  const links: string[] = [];
  const visit = (path: string, top: boolean) => {
    // The data folder itself may be a link (e.g. /var/lib/kms -> /srv/kms); what is inside is not followed.
    const st = top ? statSync(path) : lstatSync(path);
    if (st.isSymbolicLink()) {
      links.push(path);
      return;
    }
    const want = st.isDirectory() ? FOLDER_MODE : FILE_MODE;
    if ((st.mode & 0o777) !== want) {
      try {
        chmodSync(path, want);
      } catch (e) {
        const owner = typeof process.getuid === 'function' && st.uid !== process.getuid() ? ` (owned by uid ${st.uid}, the server runs as uid ${process.getuid()})` : '';
        throw new FolderModeError(`cannot make ${path} mode ${want.toString(8)}${owner}: ${(e as Error).message}; fix its owner or mode and start again`);
      }
      changed.push(path);
    }
    if (st.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name), false);
  };
  visit(dataDir, true);
  if (changed.length) log?.warn({ dataDir, tightened: changed.length, examples: changed.slice(0, 5) }, 'data folder modes tightened (folders 0700, files 0600)');
  if (links.length) log?.warn({ dataDir, links: links.slice(0, 5) }, 'symbolic links in the data folder are not followed: check what they point to is private');
  return changed;
}

/** Warn when the PIN sits in a file group or others can read. */
export function warnReadablePin(configFile: string | undefined, config: Pick<KmsConfig, 'hsm'>, log: Pick<Logger, 'warn'>): void {
  const check = (path: string, what: string) => {
    let mode: number;
    try {
      mode = statSync(path).mode & 0o777;
    } catch {
      return;
    }
    if (mode & 0o077) log.warn({ file: path, mode: mode.toString(8) }, `${what} holds the HSM PIN and is readable by ${mode & 0o007 ? 'everyone' : 'its group'}: chmod 600 it`);
  };
  if (config.hsm?.pin !== undefined && configFile !== undefined) check(configFile, 'the config file');
  if (config.hsm?.pinFile !== undefined) check(config.hsm.pinFile, 'the PIN file');
}
