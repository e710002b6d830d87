/**
 * The backend-neutral half of `commit`: check the ops against the current revisions and
 * work out, per uid, the stored state before and after. Both stores use it, so their
 * semantics cannot drift:
 *
 * - Ops apply in order; an op sees the effect of the earlier ops of the same commit.
 * - put: the uid's current revision (0 when absent) must equal `expectedRevision`, else
 *   CONFLICT. The store writes the record with `revision = expectedRevision + 1`,
 *   whatever `record.revision` said.
 * - delete: the uid must exist (else NOT_FOUND) at `expectedRevision` (else CONFLICT).
 * - One failing op rejects the whole commit; nothing is written.
 */
import type { ObjectRecord } from '../objects/managed-object.js';
import { StoreError, type AuditAppend, type AuditEntry, type CommitOp } from './object-store.js';
import { encodeRecord, isValidUid } from './record-codec.js';
import { indexTerms, type IndexTerm } from './index-encoding.js';
import { checkMetaOp } from './meta.js';

/** What the store holds for one uid, as far as a commit needs it. */
export interface Stored {
  readonly revision: number;
  readonly terms: readonly IndexTerm[];
}

export interface After extends Stored {
  readonly record: ObjectRecord;
  readonly bytes: Buffer;
}

export interface Change {
  readonly uid: string;
  /** State before this commit (undefined: absent). */
  readonly before: Stored | undefined;
  /** State after this commit (undefined: absent). */
  after: After | undefined;
}

/** Throws TypeError on ops that are not well-formed (a programming error, not a conflict). */
export function checkOps(ops: readonly CommitOp[]): void {
  if (!Array.isArray(ops)) throw new TypeError('commit expects an array of ops');
  for (const op of ops) {
    if (op.type === 'meta-put' || op.type === 'meta-delete' || op.type === 'meta-check') {
      checkMetaOp(op);
      continue;
    }
    const uid = op.type === 'put' ? op.record?.uid : op.type === 'delete' ? op.uid : undefined;
    if (op.type !== 'put' && op.type !== 'delete') throw new TypeError(`unknown op type ${String((op as { type: unknown }).type)}`);
    if (!isValidUid(uid)) throw new TypeError('op uid must be a non-empty well-formed string');
    if (!Number.isSafeInteger(op.expectedRevision) || op.expectedRevision < 0) {
      throw new TypeError(`expectedRevision must be a non-negative integer, got ${String(op.expectedRevision)}`);
    }
    if (op.type === 'put' && op.record.v !== 1) throw new TypeError(`unsupported record version ${String(op.record.v)}`);
  }
}

/** The uids an op list touches, first-seen order. */
export function uidsOf(ops: readonly CommitOp[]): string[] {
  const s = new Set<string>();
  for (const op of ops) if (op.type === 'put' || op.type === 'delete') s.add(op.type === 'put' ? op.record.uid : op.uid);
  return [...s];
}

/**
 * Plan one commit. `current(uid)` gives the state before the commit (it may throw, e.g.
 * CORRUPT). Returns the changes keyed by uid, or throws StoreError CONFLICT / NOT_FOUND.
 */
export function planCommit(ops: readonly CommitOp[], current: (uid: string) => Stored | undefined): Map<string, Change> {
  const changes = new Map<string, Change>();
  /** Revision of each touched uid as of the ops applied so far (0: absent). */
  const rev = new Map<string, number>();
  for (const op of ops) {
    if (op.type !== 'put' && op.type !== 'delete') continue; // meta ops: planMeta (meta.ts)
    const uid = op.type === 'put' ? op.record.uid : op.uid;
    let ch = changes.get(uid);
    if (!ch) {
      const before = current(uid);
      ch = { uid, before, after: undefined };
      changes.set(uid, ch);
      rev.set(uid, before?.revision ?? 0);
    }
    const now = rev.get(uid) ?? 0;
    if (op.type === 'delete' && now === 0) throw new StoreError('NOT_FOUND', `${uid}: no such record to delete`);
    if (op.expectedRevision !== now) {
      throw new StoreError('CONFLICT', `${uid}: expected revision ${op.expectedRevision}, found ${now}`);
    }
    if (op.type === 'put') {
      const record: ObjectRecord = { ...op.record, revision: now + 1 };
      ch.after = { revision: record.revision, record, bytes: encodeRecord(record), terms: indexTerms(record) };
      rev.set(uid, record.revision);
    } else {
      ch.after = undefined;
      rev.set(uid, 0);
    }
  }
  return changes;
}

/** A string identity for a term, for set arithmetic. */
export function termId(t: IndexTerm): string {
  return `${t.field}\u0000${Buffer.from(t.value.buffer, t.value.byteOffset, t.value.byteLength).toString('latin1')}`;
}

/** Index entries to remove and to add for one change (unchanged entries are left alone). */
export function termDiff(ch: Change): { removed: IndexTerm[]; added: IndexTerm[] } {
  const before = ch.before?.terms ?? [];
  const after = ch.after?.terms ?? [];
  if (before.length === 0) return { removed: [], added: [...after] };
  if (after.length === 0) return { removed: [...before], added: [] };
  const b = new Set(before.map(termId));
  const a = new Set(after.map(termId));
  return { removed: before.filter((t) => !a.has(termId(t))), added: after.filter((t) => !b.has(termId(t))) };
}

export interface AuditHead {
  readonly seq: number;
  readonly link: Uint8Array;
}

/**
 * Seal a commit's audit entries after `head`, in order. Throws what a `seal` throws (the
 * commit then fails); returns the entries and the new head.
 */
export function sealAudit(appends: readonly AuditAppend[] | undefined, head: AuditHead): { entries: AuditEntry[]; head: AuditHead } {
  const entries: AuditEntry[] = [];
  let { seq, link } = head;
  for (const a of appends ?? []) {
    const s = a.seal(seq + 1, link);
    seq += 1;
    link = s.link;
    entries.push({ seq, bytes: s.bytes });
  }
  return { entries, head: { seq, link } };
}
