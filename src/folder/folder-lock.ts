/**
 * The data folder's own lock, for stores that have none in the folder (PostgreSQL: LevelDB's
 * LOCK file is what locks a LevelDB folder). `DIR/kms.lock` is made with O_EXCL and holds the
 * owner's pid and the kernel's start time of that process; a lock whose owner is gone (the
 * pid is not running, or it is another process that got the same pid later) is stale and is
 * taken over, so a killed server never holds its folder forever. Two live processes on one
 * folder: the second gets FolderError IN_USE. In one process a folder is locked once.
 *
 * Limits: the lock is local to the machine (a folder on a network file system shared by two
 * machines is not protected; every node has its own folder), and two processes that find the
 * same stale lock at the same instant race on its takeover (the loser's O_EXCL create fails:
 * IN_USE).
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { FolderError } from './errors.js';

interface LockContent {
  readonly pid: number;
  /** Field 22 of /proc/PID/stat (clock ticks since boot), '' where /proc is not there. */
  readonly start: string;
  readonly host: string;
}

const heldHere = new Set<string>();

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may contain spaces: count after it.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? '';
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Is the process that wrote `c` still the one running under its pid? */
function ownerRunning(c: LockContent): boolean {
  if (c.host !== hostname()) return true; // cannot tell: another machine's lock is kept
  if (!alive(c.pid)) return false;
  const start = startTimeOf(c.pid);
  return start === undefined || c.start === '' || start === c.start;
}

function readLock(path: string): LockContent | undefined {
  try {
    const c = JSON.parse(readFileSync(path, 'utf8')) as LockContent;
    return typeof c.pid === 'number' && typeof c.start === 'string' && typeof c.host === 'string' ? c : undefined;
  } catch {
    return undefined;
  }
}

export class FolderLock {
  private released = false;

  private constructor(
    readonly path: string,
    private readonly content: string,
  ) {}

  /** Take the lock at `path`; FolderError IN_USE while a live process holds it. */
  static acquire(path: string, inUse: string): FolderLock {
    if (heldHere.has(path)) throw new FolderError('IN_USE', `${inUse} (this process holds its lock already)`);
    const mine: LockContent = { pid: process.pid, start: startTimeOf(process.pid) ?? '', host: hostname() };
    const text = JSON.stringify(mine) + '\n';
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(path, 'wx', 0o600);
        try {
          writeSync(fd, text);
          fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        heldHere.add(path);
        return new FolderLock(path, text);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new FolderError('IO', `cannot make the lock file ${path}: ${(e as Error).message}`, { cause: e });
      }
      const held = readLock(path);
      if (held && ownerRunning(held)) throw new FolderError('IN_USE', `${inUse} (pid ${held.pid} holds ${path})`);
      // Stale (its owner is gone, or the file is unreadable half-written junk): moved aside, then retried once.
      try {
        renameSync(path, `${path}.stale-${process.pid}`);
        unlinkSync(`${path}.stale-${process.pid}`);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new FolderError('IO', `cannot remove the stale lock file ${path}: ${(e as Error).message}`, { cause: e });
      }
    }
    throw new FolderError('IN_USE', `${inUse} (another process took ${path} at the same moment)`);
  }

  /** Give the lock up (the file is removed if it is still ours). */
  release(): void {
    if (this.released) return;
    this.released = true;
    heldHere.delete(this.path);
    try {
      if (readFileSync(this.path, 'utf8') === this.content) unlinkSync(this.path);
    } catch {
      // gone already
    }
  }
}
