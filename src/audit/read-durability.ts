/**
 * Read durability (issue 16 item 1): when a request's audit records may skip the disk sync.
 *
 * `audit.readSync` "always": every request waits for its synced audit record (one fsync,
 * shared by group commit). "batched": a request whose items are all read-only operations and
 * that changed nothing has its records WRITTEN to the store's log before the response leaves
 * (LevelDB write without sync: in the OS page cache, so a crash of the process loses nothing),
 * and synced within `audit.readSyncWindowMs` (LevelStore `syncWindowMs`), or sooner by any
 * synced write; a power loss loses at most that window of read records, always a tail of the
 * chain. A request that changed state (the first Get clearing Fresh, a use spending Usage
 * Limits, Activate, ...) is never batched: its change and record are one synced commit, and
 * the decision is made on what the request did, not only on its operations, in one place:
 * the unit of work (src/operations/unit-of-work.ts, `MessageWork.deferSync`).
 */
import { Operation } from '../kmip/generated/enums.gen.js';

export type ReadSync = 'always' | 'batched';
export const READ_SYNC_MODES: readonly ReadSync[] = ['always', 'batched'];
/** The default; docs/operating.md (crash safety) and docs/read-durability.md say why. */
export const DEFAULT_READ_SYNC: ReadSync = 'batched';
/** Longest a batched read record waits for its sync (ms). */
export const DEFAULT_READ_SYNC_WINDOW_MS = 5;
export const MAX_READ_SYNC_WINDOW_MS = 1000;

/**
 * Operations that change nothing in the store by themselves. One of them that does change
 * something on a given call (Fresh, Usage Limits) commits a change through its unit of work
 * and the request is then not batched.
 */
export const READ_ONLY_OPERATIONS: ReadonlySet<number> = new Set<number>([
  Operation.Get,
  Operation.GetAttributes,
  Operation.GetAttributeList,
  Operation.Locate,
  Operation.Query,
  Operation.DiscoverVersions,
  Operation.Encrypt,
  Operation.Decrypt,
  Operation.Sign,
  Operation.SignatureVerify,
  Operation.MAC,
  Operation.MACVerify,
  Operation.Hash,
  Operation.RNGRetrieve,
]);

export function isReadOnlyOperation(operation: number | undefined): boolean {
  return operation !== undefined && READ_ONLY_OPERATIONS.has(operation);
}
