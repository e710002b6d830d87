/**
 * The audit record format and its hash chain.
 *
 * Each entry is stored as the canonical JSON of one object (keys sorted, no whitespace,
 * UTF-8). Every entry carries `seq` (its position, 1, 2, …) and `prev`: the SHA-256 (hex)
 * of the previous entry's stored bytes (empty for the first). The entry's link, kept by the
 * store as the log's head, is the SHA-256 of its own bytes. So an edited, removed, inserted
 * or reordered entry breaks the `prev` of the entry after it, and a position that does not
 * match its key shows too.
 *
 * Kinds:
 * - `op`: one batch item (also refused items and whole refused messages);
 * - `auth`: a refused connection or a failed client authentication (with `peer`: the
 *   certificate's verify error, subject, issuer and SHA-256 fingerprint, when it sent one);
 * - `conn`: a connection or message dropped below the KMIP layer, with its reason (`op`
 *   names the event: ConnectionDropped, RequestTimeout, HandshakeTimeout, TlsError,
 *   InvalidMessage); `count` when several drops of one kind within a second are folded
 *   into one record (src/server/connection-audit.ts);
 * - `checkpoint`: `mac` = HMAC-SHA-256 under the audit key over
 *   "kms-audit-checkpoint-v1\0" ‖ covers (8 bytes BE) ‖ head (32 bytes), where `head` is
 *   the link of entry `covers`, an earlier entry. Made every N entries and at shutdown; the
 *   key stays with the key backend, so whoever rewrites the chain cannot make new ones. A
 *   verified log ends with a checkpoint: entries after the last one (a crash, or a
 *   truncate-then-append) are reported as unsealed.
 * - `restore`: written once by `kms restore`, right after the imported log of the backed-up
 *   server. The imported checkpoints are MACs under the OLD server's audit key, which the
 *   new server never has; the restore record is an anchor under the NEW key: `mac` =
 *   HMAC-SHA-256 over "kms-audit-restore-v1\0" ‖ covers (8 bytes BE) ‖ head (32 bytes) ‖
 *   backup id (UTF-8), where `covers` is the imported head. Verification checks the hash
 *   chain of the imported prefix link by link and trusts the anchor for its checkpoints
 *   (see verify.ts).
 *
 * Never in a record: key material, attribute values, credentials. Only names, identifiers,
 * counts and result codes.
 */
import { createHash } from 'node:crypto';

export const AUDIT_FORMAT = 1;

interface Base {
  readonly v: typeof AUDIT_FORMAT;
  readonly seq: number;
  readonly prev: string;
  /** ISO 8601, milliseconds. */
  readonly time: string;
}

/** The part of an operation or authentication record the server fills in (no chain fields). */
export interface AuditEvent {
  readonly kind: 'op' | 'auth' | 'conn';
  readonly time: string;
  /** Server correlation: `<connection id>/<request number>[/<batch item index>]`. */
  readonly ref: string;
  /** The client identity (certificate-derived), absent when authentication failed. */
  readonly client?: string;
  readonly addr?: string;
  /** Negotiated KMIP version, "2.1". */
  readonly kmip?: string;
  /** Operation name ("Create"), "Authenticate" for auth records. */
  readonly op: string;
  /** Unique Identifiers touched or created (for Locate: the first LOCATE_SAMPLE found). */
  readonly uids?: readonly string[];
  /** Locate: how many objects were found. */
  readonly found?: number;
  /** Names of the attributes touched or asked for; never values. */
  readonly attrs?: readonly string[];
  /** "Success", "OperationFailed", or "OperationUndone" (an Undo batch rolled back; a later record for the same ref). */
  readonly status: string;
  /** Result Reason name on failure ("ItemNotFound"). */
  readonly reason?: string;
  /** The client-visible result message on failure. */
  readonly message?: string;
  /** Milliseconds from the start of the item to its result. */
  readonly ms?: number;
  /** Set when an item failed after its state change was committed (a second record). */
  readonly afterCommit?: true;
  /** `auth`: what the client's certificate said (strings cut to a bounded length). */
  readonly peer?: PeerSummary;
  /** `conn`: how many events this record stands for, when more than one. */
  readonly count?: number;
}

/** A client certificate as the audit trail and the log describe it. */
export interface PeerSummary {
  /** The X.509 verification error code (CERT_HAS_EXPIRED, UNABLE_TO_VERIFY_LEAF_SIGNATURE…), when verification failed. */
  readonly verifyError?: string;
  readonly subject?: string;
  readonly issuer?: string;
  /** SHA-256 fingerprint, colon-separated hex. */
  readonly fingerprint?: string;
  readonly validTo?: string;
}

export type OpRecord = Base & AuditEvent;

export interface CheckpointRecord extends Base {
  readonly kind: 'checkpoint';
  readonly covers: number;
  /** Link (hex) of entry `covers`. */
  readonly head: string;
  /** Identifier of the audit key ("sw:…", "hsm:…"). */
  readonly keyId: string;
  readonly mac: string;
  /** "interval" or "shutdown". */
  readonly why: string;
  /** Where the server anchored it outside the data folder ("file", "token"; anchor.ts). */
  readonly anchor?: readonly string[];
}

/** The restore anchor (see the file comment). */
export interface RestoreRecord extends Base {
  readonly kind: 'restore';
  /** The last imported entry. */
  readonly covers: number;
  /** Link (hex) of entry `covers`. */
  readonly head: string;
  /** The new server's audit key. */
  readonly keyId: string;
  readonly mac: string;
  /** Id of the backup the log came from. */
  readonly backup: string;
  /** The audit key ids of the checkpoints in the imported log (for the auditor). */
  readonly importedKeyIds: readonly string[];
}

export type AuditRecord = OpRecord | CheckpointRecord | RestoreRecord;

/** How many uids a Locate record keeps. */
export const LOCATE_SAMPLE = 10;

/** JSON with object keys sorted and undefined members dropped: one byte string per value. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
    .join(',')}}`;
}

export function sha256(bytes: Uint8Array): Buffer {
  return createHash('sha256').update(bytes).digest();
}

/** The stored bytes of a record. */
export function encodeRecord(r: AuditRecord): Buffer {
  return Buffer.from(canonicalJson(r), 'utf8');
}

/** Parse stored bytes; throws on anything that is not a record of a known kind. */
export function decodeRecord(bytes: Uint8Array): AuditRecord {
  const r = JSON.parse(Buffer.from(bytes).toString('utf8')) as AuditRecord;
  if (typeof r !== 'object' || r === null || r.v !== AUDIT_FORMAT || !Number.isSafeInteger(r.seq) || typeof r.prev !== 'string') {
    throw new Error('not an audit record');
  }
  if (r.kind !== 'op' && r.kind !== 'auth' && r.kind !== 'conn' && r.kind !== 'checkpoint' && r.kind !== 'restore')
    throw new Error(`unknown record kind ${String((r as { kind: unknown }).kind)}`);
  return r;
}

/** The bytes a checkpoint's MAC is computed over. */
export function checkpointInput(covers: number, head: Uint8Array): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(covers), 0);
  return Buffer.concat([Buffer.from('kms-audit-checkpoint-v1\0'), b, head]);
}

/** The bytes a restore anchor's MAC is computed over. */
export function restoreInput(covers: number, head: Uint8Array, backupId: string): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(covers), 0);
  return Buffer.concat([Buffer.from('kms-audit-restore-v1\0'), b, head, Buffer.from(backupId, 'utf8')]);
}

/** Chain fields + body → stored bytes and link (the store's `seal` callback). */
export function sealRecord<T extends AuditEvent | Omit<CheckpointRecord, keyof Base> | Omit<RestoreRecord, keyof Base>>(
  body: T & { time: string },
  seq: number,
  prevLink: Uint8Array,
): { bytes: Buffer; link: Buffer } {
  const record = { ...body, v: AUDIT_FORMAT, seq, prev: Buffer.from(prevLink).toString('hex') } as AuditRecord;
  const bytes = encodeRecord(record);
  return { bytes, link: sha256(bytes) };
}
