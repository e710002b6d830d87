/**
 * The audit record format and its hash chain.
 *
 * Each entry is stored in one of two formats, told apart by its first byte (`decodeRecord`
 * reads both, so a trail written before an upgrade and after it reads as one):
 * - format 2 (the default since issue 16): a compact binary encoding, record-binary.ts;
 * - format 1: the canonical JSON of the record object (keys sorted, no whitespace, UTF-8),
 *   always starting with `{`; still written with `audit.recordFormat: "json"`.
 * The decoded record says which (`v`: 1 or 2); its fields are the same in both. Every entry carries `seq` (its position, 1, 2, …) and `prev`: the SHA-256 (hex)
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
import { hash } from 'node:crypto';
import { BINARY_MARKER, decodeBinary, encodeBinary, encodeBinarySealed, type RecordBody } from './record-binary.js';
import type { AuditEvent, AuditRecord, Base, CheckpointRecord, RestoreRecord } from './record-types.js';

export type { AuditEvent, AuditFormat, AuditRecord, CheckpointRecord, OpRecord, PeerSummary, RestoreRecord } from './record-types.js';

/** The stored formats: 1 canonical JSON, 2 binary (record-binary.ts). */
export const AUDIT_FORMAT_JSON = 1;
export const AUDIT_FORMAT_BINARY = 2;
/** `audit.recordFormat` in the config: what new records are written in. */
export type RecordFormat = 'binary' | 'json';
export const RECORD_FORMATS: readonly RecordFormat[] = ['binary', 'json'];
export const DEFAULT_RECORD_FORMAT: RecordFormat = 'binary';

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
  // One-shot (Node >= 20.12): no Hash object per call.
  return hash('sha256', bytes, 'buffer') as unknown as Buffer;
}

/** The stored bytes of a record, in the format its `v` names. */
export function encodeRecord(r: AuditRecord): Buffer {
  return r.v === AUDIT_FORMAT_BINARY ? encodeBinary(r) : Buffer.from(canonicalJson(r), 'utf8');
}

/** Parse stored bytes of either format; throws on anything that is not a record of a known kind. */
export function decodeRecord(bytes: Uint8Array): AuditRecord {
  if (bytes[0] === BINARY_MARKER) return decodeBinary(bytes);
  const r = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as AuditRecord;
  if (typeof r !== 'object' || r === null || r.v !== AUDIT_FORMAT_JSON || !Number.isSafeInteger(r.seq) || typeof r.prev !== 'string') {
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

/** Chain fields + body → stored bytes (in `format`, default binary) and link (the store's `seal` callback). */
export function sealRecord<T extends AuditEvent | Omit<CheckpointRecord, keyof Base> | Omit<RestoreRecord, keyof Base>>(
  body: T & { time: string },
  seq: number,
  prevLink: Uint8Array,
  format: RecordFormat = DEFAULT_RECORD_FORMAT,
): { bytes: Buffer; link: Buffer } {
  const bytes =
    format === 'json'
      ? encodeRecord({ ...body, v: AUDIT_FORMAT_JSON, seq, prev: Buffer.from(prevLink.buffer, prevLink.byteOffset, prevLink.byteLength).toString('hex') } as AuditRecord)
      : encodeBinarySealed(body as unknown as RecordBody, seq, prevLink);
  return { bytes, link: sha256(bytes) };
}
