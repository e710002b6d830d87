/**
 * The restore anchor (record.ts, kind "restore"): appended by `kms restore` right after
 * the imported log, a MAC under the NEW server's audit key over the imported head. See
 * verify.ts for how it lets the old server's checkpoints be accepted.
 */
import type { ObjectStore } from '../store/object-store.js';
import type { AuditKey } from './audit-key.js';
import { restoreInput, sealRecord } from './record.js';

/** Append the anchor over the store's current head; nothing when the log is empty. */
export async function writeRestoreAnchor(store: ObjectStore, key: AuditKey, backupId: string, importedKeyIds: readonly string[], clock: () => number = Date.now): Promise<void> {
  const head = store.audit.head();
  if (head.seq === 0) return;
  const mac = Buffer.from(await key.mac(restoreInput(head.seq, head.link, backupId))).toString('hex');
  const anchor = {
    kind: 'restore' as const,
    time: new Date(clock()).toISOString(),
    covers: head.seq,
    head: Buffer.from(head.link).toString('hex'),
    keyId: key.id,
    mac,
    backup: backupId,
    importedKeyIds: [...importedKeyIds].sort(),
  };
  await store.commit([], { audit: [{ seal: (seq, prev) => sealRecord(anchor, seq, prev) }] });
}
