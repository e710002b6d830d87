/**
 * The server-metadata key space beside the object records (ObjectStore.meta): small values
 * under printable-ASCII keys, each with a revision, written only through `commit` (meta-put /
 * meta-delete ops, in the same atomic batch as any record ops and audit entries). It holds
 * what every node of a cluster must see the same way and that is no managed object: today the
 * client-certificate registry (src/clients/). Both stores share the planning here, so the
 * semantics are the ones records have:
 *
 * - meta-put: the key's current revision (0 when absent) must equal `expectedRevision`, else
 *   CONFLICT; the entry is written with revision expectedRevision + 1.
 * - meta-delete: the key must exist (else NOT_FOUND) at `expectedRevision` (else CONFLICT).
 * - meta-check: the key's current revision (0 when absent) must equal `expectedRevision`, else
 *   CONFLICT; nothing is written and watchers hear nothing of it.
 * - Ops apply in order within a commit; one failing op rejects the whole commit.
 *
 * Watchers (`watch(prefix, fn)`) are told the keys a commit changed after it is durable and
 * before the commit resolves, so a cache invalidated by them is never behind its own writer.
 * In one process that covers every writer; a clustered store tells them of other nodes'
 * commits too (PostgreSQL: LISTEN/NOTIFY).
 */
import { EVERYTHING, StoreError, type ChangeOrigin, type CommitOp, type MetaEntry, type MetaOp } from './object-store.js';

/** Longest meta key, in characters (printable ASCII only). */
export const MAX_META_KEY = 256;

const KEY_RE = /^[\x21-\x7e]+$/;

export function isValidMetaKey(key: unknown): key is string {
  return typeof key === 'string' && key.length > 0 && key.length <= MAX_META_KEY && KEY_RE.test(key);
}

/** What the store holds for one meta key. */
export interface StoredMeta {
  readonly revision: number;
  readonly value: Uint8Array;
}

export interface MetaChange {
  readonly key: string;
  readonly before: StoredMeta | undefined;
  after: StoredMeta | undefined;
}

export function isMetaOp(op: CommitOp): op is MetaOp {
  return op.type === 'meta-put' || op.type === 'meta-delete' || op.type === 'meta-check';
}

/** The meta keys an op list touches, first-seen order. */
export function metaKeysOf(ops: readonly CommitOp[]): string[] {
  const s = new Set<string>();
  for (const op of ops) if (isMetaOp(op)) s.add(op.key);
  return [...s];
}

/** Throws TypeError on a malformed meta op (a programming error). */
export function checkMetaOp(op: MetaOp): void {
  if (!isValidMetaKey(op.key)) throw new TypeError(`meta key must be 1 to ${MAX_META_KEY} printable ASCII characters`);
  if (!Number.isSafeInteger(op.expectedRevision) || op.expectedRevision < 0) throw new TypeError(`expectedRevision must be a non-negative integer, got ${String(op.expectedRevision)}`);
  if (op.type === 'meta-put' && !(op.value instanceof Uint8Array)) throw new TypeError('meta-put needs a Uint8Array value');
}

/** Plan the meta ops of one commit against `current(key)`; throws StoreError CONFLICT / NOT_FOUND. */
export function planMeta(ops: readonly CommitOp[], current: (key: string) => StoredMeta | undefined): Map<string, MetaChange> {
  const changes = new Map<string, MetaChange>();
  for (const op of ops) {
    if (!isMetaOp(op)) continue;
    if (op.type === 'meta-check') {
      // A check changes nothing (and is no change for watchers): compare with the state so far.
      const now = (changes.has(op.key) ? changes.get(op.key)?.after : current(op.key))?.revision ?? 0;
      if (op.expectedRevision !== now) throw new StoreError('CONFLICT', `meta ${op.key}: expected revision ${op.expectedRevision}, found ${now}`);
      continue;
    }
    let ch = changes.get(op.key);
    if (!ch) {
      const before = current(op.key);
      ch = { key: op.key, before, after: before };
      changes.set(op.key, ch);
    }
    const now = ch.after?.revision ?? 0;
    if (op.type === 'meta-delete' && now === 0) throw new StoreError('NOT_FOUND', `meta ${op.key}: no such entry to delete`);
    if (op.expectedRevision !== now) throw new StoreError('CONFLICT', `meta ${op.key}: expected revision ${op.expectedRevision}, found ${now}`);
    ch.after = op.type === 'meta-put' ? { revision: now + 1, value: Buffer.from(op.value) } : undefined;
  }
  return changes;
}

/** Stored bytes of a meta entry: revision (6 bytes, big-endian), then the value. */
export function encodeMeta(m: StoredMeta): Buffer {
  const b = Buffer.alloc(6 + m.value.length);
  b.writeUIntBE(m.revision, 0, 6);
  b.set(m.value, 6);
  return b;
}

export function decodeMeta(key: string, bytes: Uint8Array): MetaEntry {
  if (bytes.length < 6) throw new StoreError('CORRUPT', `meta ${key}: entry too short`);
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const revision = b.readUIntBE(0, 6);
  if (revision < 1) throw new StoreError('CORRUPT', `meta ${key}: bad revision`);
  return { key, revision, value: Buffer.from(b.subarray(6)) };
}

/** Watchers by key prefix (see the file comment). A throwing listener is ignored. */
export class MetaWatchers {
  private readonly listeners = new Set<{ readonly prefix: string; readonly fn: (keys: readonly string[]) => void }>();

  add(prefix: string, fn: (keys: readonly string[]) => void): () => void {
    const w = { prefix, fn };
    this.listeners.add(w);
    return () => this.listeners.delete(w);
  }

  /** Tell every watcher that anything under its prefix may have changed (keys = [EVERYTHING]). */
  changedAll(): void {
    for (const w of [...this.listeners]) {
      try {
        w.fn([EVERYTHING]);
      } catch {
        // a watcher's failure is its own
      }
    }
  }

  /** Tell every watcher whose prefix matches some of `keys`. */
  changed(keys: Iterable<string>): void {
    const list = [...keys];
    if (list.length === 0 || this.listeners.size === 0) return;
    for (const w of [...this.listeners]) {
      const mine = list.filter((k) => k.startsWith(w.prefix));
      if (mine.length === 0) continue;
      try {
        w.fn(mine);
      } catch {
        // a watcher's failure is its own
      }
    }
  }
}

/** Listeners of ObjectStore.onRecordsChanged. A throwing listener is ignored. */
export class RecordListeners {
  private readonly listeners = new Set<(uids: readonly string[], origin: ChangeOrigin) => void>();

  add(fn: (uids: readonly string[], origin: ChangeOrigin) => void): () => void {
    const f = (uids: readonly string[], origin: ChangeOrigin): void => fn(uids, origin);
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  changed(uids: Iterable<string>, origin: ChangeOrigin = 'local'): void {
    if (this.listeners.size === 0) return;
    const list = [...uids];
    if (list.length === 0) return;
    for (const fn of [...this.listeners]) {
      try {
        fn(list, origin);
      } catch {
        // a listener's failure is its own
      }
    }
  }
}
