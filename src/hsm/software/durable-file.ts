/**
 * Create a small secret file (a master key) so that it is never seen empty or half written,
 * even when the process is killed or the machine loses power while making it: the bytes go
 * to a temporary file that is fsynced, then linked into place (which fails if the file
 * already exists: no clobbering a key another process just made), then the folder is
 * fsynced so the new name itself is durable before anything sealed under the key is.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Returns false (and leaves the file alone) when `path` already exists. */
export function createFileDurably(path: string, bytes: Uint8Array, mode = 0o600): boolean {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkSync(tmp);
  }
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
  return true;
}
