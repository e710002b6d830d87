/**
 * Create a small secret file (a master key) so that it is never seen empty or half written,
 * even when the process is killed or the machine loses power while making it: the bytes go
 * to a temporary file that is fsynced, then linked into place (which fails if the file
 * already exists: no clobbering a key another process just made), then the folder is
 * fsynced so the new name itself is durable before anything sealed under the key is.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
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

/**
 * Replace a small file (a record the folder depends on: custody, KEK marker, recovery setup,
 * key file) atomically and durably: a temporary file written and fsynced, renamed over the old
 * one, then the folder fsynced, so a crash leaves the old file or the new one, never a torn one.
 */
export function replaceFileDurably(path: string, bytes: Uint8Array | string, mode = 0o600): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}
