/**
 * Format 2 of the audit record: a compact binary encoding of every record kind (issue 16,
 * item 2). Format 1 is the canonical JSON of record.ts; `decodeRecord` there tells the two
 * apart by the first byte: canonical JSON always starts with `{` (0x7b), format 2 with 0x02.
 *
 * Layout (every record):
 *
 *   0x02                     format
 *   kind                     1 byte: 1 op, 2 auth, 3 conn, 4 checkpoint, 5 restore
 *   flags                    uint: bit 0 = `time` kept as text; the other bits say which
 *                            optional fields follow (per kind, below)
 *   seq                      num
 *   prev                     str
 *   time                     num (milliseconds since 1970, when `new Date(ms).toISOString()`
 *                            gives the string back exactly), else str (flag bit 0)
 *   ...                      the kind's fields, in the fixed order below
 *
 * op, auth, conn:  ref str, op str, status code, then when its flag bit is set:
 *   client str (bit 1), addr str (2), kmip str (3), uids list (4), found num (5),
 *   attrs list (6), reason str (7), message str (8), ms num (9), afterCommit (10: no
 *   bytes, the value is `true`), peer (11), count num (12).
 *   peer: uint flags, then verifyError str (bit 0), subject (1), issuer (2),
 *   fingerprint (3), validTo (4).
 * checkpoint:      covers num, head str, keyId str, mac str, why code; anchor list (bit 1).
 * restore:         covers num, head str, keyId str, mac str, backup str, importedKeyIds list.
 *
 * Primitives:
 * - uint: unsigned LEB128 varint, at most 8 bytes (values below 2^56), minimal length.
 * - num: uint 2n for a non-negative safe integer n; uint 1 then an IEEE 754 double (8 bytes,
 *   big-endian) for any other number (negative, fractional, -0).
 * - str: uint header h, then the value; h mod 4 says how it is kept, floor(h / 4) is its length:
 *   0 UTF-8 (length in bytes); 1 UTF-16LE code units (length in units; only for a string that
 *   is not well-formed Unicode, a lone surrogate, which UTF-8 cannot carry); 2 a lowercase
 *   8-4-4-4-12 UUID as its 16 bytes (length 0); 3 an even-length lowercase hex string of at
 *   least 16 characters (the chain links, heads, MACs) as its bytes (length in bytes).
 * - list: uint count, then count str.
 * - code (status, why): uint; 0 means a str follows, otherwise an index into a closed set:
 *   status 1 Success, 2 OperationFailed, 3 OperationPending, 4 OperationUndone (the KMIP
 *   Result Status names); why 1 interval, 2 shutdown.
 *
 * The encoding is a function of the record: one record, one byte string. No field is lost:
 * a field the encoder does not know is an error (fail closed: the request that made it fails,
 * as any audit write failure does), never silently dropped. The decoder checks every length
 * against the bytes left, every flag and code against its set, and that nothing trails, and
 * builds the object with its keys in sorted order, as JSON.parse of a format 1 record does.
 */
import type { AuditRecord, CheckpointRecord, OpRecord, PeerSummary, RestoreRecord } from './record-types.js';

export const BINARY_MARKER = 0x02;

const KINDS = ['op', 'auth', 'conn', 'checkpoint', 'restore'] as const;
const STATUSES = ['Success', 'OperationFailed', 'OperationPending', 'OperationUndone'] as const;
const WHYS = ['interval', 'shutdown'] as const;

const F_TIME_TEXT = 1;
// op, auth, conn
const F_CLIENT = 1 << 1;
const F_ADDR = 1 << 2;
const F_KMIP = 1 << 3;
const F_UIDS = 1 << 4;
const F_FOUND = 1 << 5;
const F_ATTRS = 1 << 6;
const F_REASON = 1 << 7;
const F_MESSAGE = 1 << 8;
const F_MS = 1 << 9;
const F_AFTER_COMMIT = 1 << 10;
const F_PEER = 1 << 11;
const F_COUNT = 1 << 12;
const EVENT_FLAGS = (1 << 13) - 1;
// checkpoint
const F_ANCHOR = 1 << 1;
const CHECKPOINT_FLAGS = F_TIME_TEXT | F_ANCHOR;
// peer
const P_VERIFY_ERROR = 1;
const P_SUBJECT = 1 << 1;
const P_ISSUER = 1 << 2;
const P_FINGERPRINT = 1 << 3;
const P_VALID_TO = 1 << 4;
const PEER_FLAGS = (1 << 5) - 1;

const STR_UTF8 = 0;
const STR_UTF16 = 1;
const STR_UUID = 2;
const STR_HEX = 3;
/** Lowercase hex digit values by character code (-1: not one). */
const HEX_VALUE: readonly number[] = Array.from({ length: 128 }, (_, c) => (c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x61 + 10 : -1));
/** Shortest string kept as hex bytes: shorter ones gain too little to be worth the test. */
const HEX_MIN = 16;
/** Latest time kept as milliseconds: the end of year 9999 (later ones are not 24 characters). */
const MAX_TIME_MS = 253402300799999;

/** A record (or a field of one) that format 2 cannot carry. */
function unencodable(what: string): never {
  throw new Error(`audit record: ${what} has no binary encoding`);
}

const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

class Out {
  buf = Buffer.allocUnsafe(256);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const b = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(b, 0, 0, this.pos);
    this.buf = b;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  uint(n: number): void {
    this.ensure(8);
    const buf = this.buf;
    let p = this.pos;
    if (n < 0x80000000) {
      while (n >= 0x80) {
        buf[p++] = (n & 0x7f) | 0x80;
        n >>>= 7;
      }
    } else {
      while (n >= 0x80) {
        buf[p++] = (n % 0x80) | 0x80;
        n = Math.floor(n / 0x80);
      }
    }
    buf[p++] = n;
    this.pos = p;
  }

  num(n: unknown, field: string): void {
    if (typeof n !== 'number') unencodable(`${field} (not a number)`);
    if (Number.isSafeInteger(n) && n >= 0 && !Object.is(n, -0)) return this.uint(n * 2);
    this.uint(1);
    this.ensure(8);
    this.pos = this.buf.writeDoubleBE(n, this.pos);
  }

  str(s: unknown, field: string): void {
    if (typeof s !== 'string') unencodable(`${field} (not a string)`);
    const len = s.length;
    if ((len === 36 && this.uuid(s)) || (len >= HEX_MIN && (len & 1) === 0 && this.hex(s))) return;
    // ASCII (most of what a record holds): its length is its byte count, written as it goes.
    const start = this.pos;
    this.uint(len * 4 + STR_UTF8);
    this.ensure(len);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.pos = start;
        return this.wide(s);
      }
      buf[p++] = c;
    }
    this.pos = p;
  }

  /** A string with characters beyond ASCII: UTF-8, or UTF-16LE when it holds a lone surrogate. */
  private wide(s: string): void {
    if (isWellFormed(s)) {
      const n = Buffer.byteLength(s, 'utf8');
      this.uint(n * 4 + STR_UTF8);
      this.ensure(n);
      this.pos += this.buf.write(s, this.pos, 'utf8');
    } else {
      this.uint(s.length * 4 + STR_UTF16);
      this.ensure(s.length * 2);
      this.pos += this.buf.write(s, this.pos, 'utf16le');
    }
  }

  /** A lowercase 8-4-4-4-12 UUID as its 16 bytes; false (nothing written) for any other string. */
  private uuid(s: string): boolean {
    if (s.charCodeAt(8) !== 0x2d || s.charCodeAt(13) !== 0x2d || s.charCodeAt(18) !== 0x2d || s.charCodeAt(23) !== 0x2d) return false;
    this.ensure(17);
    const buf = this.buf;
    let p = this.pos + 1;
    for (let i = 0; i < 36; i += 2) {
      if (i === 8 || i === 13 || i === 18 || i === 23) i++;
      const hi = HEX_VALUE[s.charCodeAt(i)] ?? -1;
      const lo = HEX_VALUE[s.charCodeAt(i + 1)] ?? -1;
      if (hi < 0 || lo < 0) return false;
      buf[p++] = (hi << 4) | lo;
    }
    buf[this.pos] = STR_UUID;
    this.pos = p;
    return true;
  }

  /** An even-length lowercase hex string as its bytes; false (nothing written) for any other string. */
  private hex(s: string): boolean {
    const n = s.length / 2;
    const start = this.pos;
    this.uint(n * 4 + STR_HEX);
    this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i += 2) {
      const hi = HEX_VALUE[s.charCodeAt(i)] ?? -1;
      const lo = HEX_VALUE[s.charCodeAt(i + 1)] ?? -1;
      if (hi < 0 || lo < 0) {
        this.pos = start;
        return false;
      }
      buf[p++] = (hi << 4) | lo;
    }
    this.pos = p;
    return true;
  }

  /** A chain link given as bytes: the same bytes `str` writes for its hex string. */
  link(b: Uint8Array): void {
    if (b.length * 2 < HEX_MIN) return this.str(Buffer.from(b).toString('hex'), 'prev');
    this.uint(b.length * 4 + STR_HEX);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  list(a: unknown, field: string): void {
    if (!Array.isArray(a)) unencodable(`${field} (not a list)`);
    this.uint(a.length);
    for (let i = 0; i < a.length; i++) this.str(a[i], field);
  }

  code(v: unknown, set: readonly string[], field: string): void {
    const i = set.indexOf(v as string);
    if (i >= 0) return this.uint(i + 1);
    this.uint(0);
    this.str(v, field);
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/**
 * Whether `o` holds a field with a value beyond the `fields` known ones the encoder wrote (JSON
 * drops undefined members, so they do not count). The count of its keys settles the common
 * case without looking at any value.
 */
function hasStranger(o: object, fields: number, known: readonly string[]): string | undefined {
  const keys = Object.keys(o);
  if (keys.length === fields) return undefined;
  for (const k of keys) if ((o as Record<string, unknown>)[k] !== undefined && !known.includes(k)) return k;
  return undefined;
}

const BASE_FIELDS = ['v', 'kind', 'seq', 'prev', 'time'] as const;
const EVENT_FIELDS = [...BASE_FIELDS, 'ref', 'op', 'status', 'client', 'addr', 'kmip', 'uids', 'found', 'attrs', 'reason', 'message', 'ms', 'afterCommit', 'peer', 'count'];
const CHECKPOINT_FIELDS = [...BASE_FIELDS, 'covers', 'head', 'keyId', 'mac', 'why', 'anchor'];
const RESTORE_FIELDS = [...BASE_FIELDS, 'covers', 'head', 'keyId', 'mac', 'backup', 'importedKeyIds'];
const PEER_FIELDS = ['verifyError', 'subject', 'issuer', 'fingerprint', 'validTo'];

/** The time as milliseconds when the string is exactly what `Date.toISOString` makes of them
 * (YYYY-MM-DDTHH:MM:SS.mmmZ, from 1970 to 9999), else undefined (then it is kept as text). */
function timeMs(t: unknown): number | undefined {
  if (typeof t !== 'string' || t.length !== 24) return undefined;
  if (
    t.charCodeAt(4) !== 0x2d ||
    t.charCodeAt(7) !== 0x2d ||
    t.charCodeAt(10) !== 0x54 ||
    t.charCodeAt(13) !== 0x3a ||
    t.charCodeAt(16) !== 0x3a ||
    t.charCodeAt(19) !== 0x2e ||
    t.charCodeAt(23) !== 0x5a
  )
    return undefined;
  const d = (from: number, n: number): number => {
    let v = 0;
    for (let i = from; i < from + n; i++) {
      const c = t.charCodeAt(i) - 0x30;
      if (c < 0 || c > 9) return -1;
      v = v * 10 + c;
    }
    return v;
  };
  const year = d(0, 4);
  const month = d(5, 2);
  const day = d(8, 2);
  const hour = d(11, 2);
  const minute = d(14, 2);
  const second = d(17, 2);
  const milli = d(20, 3);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || milli < 0) return undefined;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = month === 2 ? (leap ? 29 : 28) : month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
  if (day > days) return undefined;
  return Date.UTC(year, month - 1, day, hour, minute, second, milli);
}

/** Format 2 bytes of a record (its `v` is not looked at: the caller chose the format). */
/** The kind of a format 2 record from its first two bytes, without decoding it; undefined for other bytes. */
export function binaryKind(bytes: Uint8Array): AuditRecord['kind'] | undefined {
  return bytes[0] === BINARY_MARKER ? KINDS[(bytes[1] ?? 0) - 1] : undefined;
}

export function encodeBinary(r: AuditRecord): Buffer {
  return encode(r, r.seq, r.prev, r.v === undefined ? 2 : 3);
}

/**
 * Format 2 bytes of a record body (no chain fields) with its chain fields: what sealing does,
 * without first copying the body into a record object (an object spread of the body cost more
 * than the whole encoding).
 */
export function encodeBinarySealed(body: RecordBody, seq: number, prevLink: Uint8Array): Buffer {
  return encode(body as AuditRecord, seq, prevLink, 0);
}

/** A record without its chain fields (`v`, `seq`, `prev`). */
export type RecordBody = DistributiveOmit<AuditRecord, 'v' | 'seq' | 'prev'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** `chainFields`: how many of v, seq, prev are fields of `r` itself (counted against its keys). */
function encode(r: AuditRecord, seq: unknown, prev: unknown, chainFields: number): Buffer {
  const kind = KINDS.indexOf(r.kind);
  if (kind < 0) unencodable(`kind ${String(r.kind)}`);
  const out = new Out();
  out.byte(BINARY_MARKER);
  out.byte(kind + 1);
  const ms = timeMs(r.time);
  let flags = ms === undefined ? F_TIME_TEXT : 0;
  let fields = 2 + chainFields; // kind, time, and those of v, seq, prev that r has
  if (r.kind === 'checkpoint') {
    if (r.anchor !== undefined) flags |= F_ANCHOR;
  } else if (r.kind !== 'restore') {
    if (r.client !== undefined) flags |= F_CLIENT;
    if (r.addr !== undefined) flags |= F_ADDR;
    if (r.kmip !== undefined) flags |= F_KMIP;
    if (r.uids !== undefined) flags |= F_UIDS;
    if (r.found !== undefined) flags |= F_FOUND;
    if (r.attrs !== undefined) flags |= F_ATTRS;
    if (r.reason !== undefined) flags |= F_REASON;
    if (r.message !== undefined) flags |= F_MESSAGE;
    if (r.ms !== undefined) flags |= F_MS;
    if (r.afterCommit !== undefined) {
      if (r.afterCommit !== true) unencodable('afterCommit other than true');
      flags |= F_AFTER_COMMIT;
    }
    if (r.peer !== undefined) flags |= F_PEER;
    if (r.count !== undefined) flags |= F_COUNT;
  }
  out.uint(flags);
  out.num(seq, 'seq');
  if (prev instanceof Uint8Array) out.link(prev);
  else out.str(prev, 'prev');
  if (ms === undefined) out.str(r.time, 'time');
  else out.num(ms, 'time');
  switch (r.kind) {
    case 'checkpoint':
      out.num(r.covers, 'covers');
      out.str(r.head, 'head');
      out.str(r.keyId, 'keyId');
      out.str(r.mac, 'mac');
      out.code(r.why, WHYS, 'why');
      fields += 5;
      if (flags & F_ANCHOR) {
        out.list(r.anchor, 'anchor');
        fields++;
      }
      const stranger = hasStranger(r, fields, CHECKPOINT_FIELDS);
      if (stranger !== undefined) unencodable(`field ${stranger}`);
      break;
    case 'restore':
      out.num(r.covers, 'covers');
      out.str(r.head, 'head');
      out.str(r.keyId, 'keyId');
      out.str(r.mac, 'mac');
      out.str(r.backup, 'backup');
      out.list(r.importedKeyIds, 'importedKeyIds');
      fields += 6;
      const strange = hasStranger(r, fields, RESTORE_FIELDS);
      if (strange !== undefined) unencodable(`field ${strange}`);
      break;
    default: {
      out.str(r.ref, 'ref');
      out.str(r.op, 'op');
      out.code(r.status, STATUSES, 'status');
      fields += 3;
      if (flags & F_CLIENT) out.str(r.client, 'client');
      if (flags & F_ADDR) out.str(r.addr, 'addr');
      if (flags & F_KMIP) out.str(r.kmip, 'kmip');
      if (flags & F_UIDS) out.list(r.uids, 'uids');
      if (flags & F_FOUND) out.num(r.found, 'found');
      if (flags & F_ATTRS) out.list(r.attrs, 'attrs');
      if (flags & F_REASON) out.str(r.reason, 'reason');
      if (flags & F_MESSAGE) out.str(r.message, 'message');
      if (flags & F_MS) out.num(r.ms, 'ms');
      if (flags & F_PEER) peer(out, r.peer);
      if (flags & F_COUNT) out.num(r.count, 'count');
      let f = flags >>> 1;
      while (f) {
        fields += f & 1;
        f >>>= 1;
      }
      const extra = hasStranger(r, fields, EVENT_FIELDS);
      if (extra !== undefined) unencodable(`field ${extra}`);
    }
  }
  return out.bytes();
}

function peer(out: Out, p: PeerSummary | undefined): void {
  if (typeof p !== 'object' || p === null) unencodable('peer (not an object)');
  let flags = 0;
  if (p.verifyError !== undefined) flags |= P_VERIFY_ERROR;
  if (p.subject !== undefined) flags |= P_SUBJECT;
  if (p.issuer !== undefined) flags |= P_ISSUER;
  if (p.fingerprint !== undefined) flags |= P_FINGERPRINT;
  if (p.validTo !== undefined) flags |= P_VALID_TO;
  out.uint(flags);
  let fields = 0;
  if (flags & P_VERIFY_ERROR) out.str(p.verifyError, 'peer.verifyError');
  if (flags & P_SUBJECT) out.str(p.subject, 'peer.subject');
  if (flags & P_ISSUER) out.str(p.issuer, 'peer.issuer');
  if (flags & P_FINGERPRINT) out.str(p.fingerprint, 'peer.fingerprint');
  if (flags & P_VALID_TO) out.str(p.validTo, 'peer.validTo');
  for (let f = flags; f; f >>>= 1) fields += f & 1;
  const extra = hasStranger(p, fields, PEER_FIELDS);
  if (extra !== undefined) unencodable(`field peer.${extra}`);
}

/** Bad format 2 bytes. */
function corrupt(what: string, at: number): never {
  throw new Error(`not an audit record: ${what} at byte ${at}`);
}

/** Node's Buffer methods behind toString(encoding), without its argument handling (not in @types/node). */
type SliceBuffer = Buffer & { latin1Slice(start: number, end: number): string; hexSlice(start: number, end: number): string };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class In {
  pos = 0;
  constructor(private readonly b: Buffer) {}

  byte(): number {
    if (this.pos >= this.b.length) corrupt('truncated', this.pos);
    return this.b[this.pos++]!;
  }

  uint(): number {
    const b = this.b;
    const start = this.pos;
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      if (this.pos >= b.length) corrupt('truncated number', start);
      const c = b[this.pos++]!;
      n += (c & 0x7f) * scale;
      if (c < 0x80) {
        if (c === 0 && i > 0) corrupt('number not in its shortest form', start);
        return n;
      }
      scale *= 0x80;
    }
    return corrupt('number too long', start);
  }

  num(): number {
    const at = this.pos;
    const h = this.uint();
    if (h % 2 === 0) {
      if (h / 2 > Number.MAX_SAFE_INTEGER) corrupt('integer out of range', at);
      return h / 2;
    }
    if (h !== 1) corrupt('bad number', at);
    if (this.pos + 8 > this.b.length) corrupt('truncated number', at);
    const v = this.b.readDoubleBE(this.pos);
    this.pos += 8;
    return v;
  }

  take(n: number, at: number): number {
    if (n > this.b.length - this.pos) corrupt('length beyond the record', at);
    const p = this.pos;
    this.pos += n;
    return p;
  }

  str(): string {
    const at = this.pos;
    const h = this.uint();
    const how = h % 4;
    const len = (h - how) / 4;
    const b = this.b;
    switch (how) {
      case STR_UTF8: {
        const p = this.take(len, at);
        for (let i = p; i < p + len; i++) if (b[i]! >= 0x80) return this.utf8(p, len, at);
        return (b as SliceBuffer).latin1Slice(p, p + len);
      }
      case STR_UTF16: {
        const p = this.take(len * 2, at);
        return b.toString('utf16le', p, p + len * 2);
      }
      case STR_UUID: {
        if (len !== 0) corrupt('bad UUID header', at);
        const p = this.take(16, at);
        const x = (b as SliceBuffer).hexSlice(p, p + 16);
        return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
      }
      default: {
        const p = this.take(len, at);
        return (b as SliceBuffer).hexSlice(p, p + len);
      }
    }
  }

  private utf8(p: number, len: number, at: number): string {
    try {
      return utf8.decode(this.b.subarray(p, p + len));
    } catch {
      return corrupt('bad UTF-8', at);
    }
  }

  list(): string[] {
    const at = this.pos;
    const n = this.uint();
    // Every string takes at least one byte: a count beyond the bytes left is a lie.
    if (n > this.b.length - this.pos) corrupt('list longer than the record', at);
    const out = new Array<string>(n);
    for (let i = 0; i < n; i++) out[i] = this.str();
    return out;
  }

  code(set: readonly string[]): string {
    const at = this.pos;
    const i = this.uint();
    if (i === 0) return this.str();
    if (i > set.length) corrupt('unknown code', at);
    return set[i - 1]!;
  }

  /** A time kept as milliseconds, back to its ISO string. */
  time(): string {
    const at = this.pos;
    const ms = this.num();
    if (!Number.isSafeInteger(ms) || ms > MAX_TIME_MS) corrupt('bad time', at);
    return new Date(ms).toISOString();
  }

  end(): void {
    if (this.pos !== this.b.length) corrupt('bytes after the record', this.pos);
  }
}

/** Decode format 2 bytes (the first byte is BINARY_MARKER); throws on anything else. */
export function decodeBinary(bytes: Uint8Array): AuditRecord {
  const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const i = new In(b);
  if (i.byte() !== BINARY_MARKER) corrupt('not format 2', 0);
  const kindCode = i.byte();
  if (kindCode < 1 || kindCode > KINDS.length) corrupt(`unknown record kind ${kindCode}`, 1);
  const kind = KINDS[kindCode - 1]!;
  const flagsAt = i.pos;
  const flags = i.uint();
  const allowed = kind === 'checkpoint' ? CHECKPOINT_FLAGS : kind === 'restore' ? F_TIME_TEXT : EVENT_FLAGS;
  if (flags > allowed || (flags & ~allowed) !== 0) corrupt('unknown flags', flagsAt);
  const seq = i.num();
  if (!Number.isSafeInteger(seq)) corrupt('bad seq', flagsAt);
  const prev = i.str();
  const time = flags & F_TIME_TEXT ? i.str() : i.time();
  if (kind === 'checkpoint') {
    const covers = i.num();
    const head = i.str();
    const keyId = i.str();
    const mac = i.str();
    const why = i.code(WHYS);
    const anchor = flags & F_ANCHOR ? i.list() : undefined;
    i.end();
    const r: Record<string, unknown> = {};
    if (anchor !== undefined) r.anchor = anchor;
    r.covers = covers;
    r.head = head;
    r.keyId = keyId;
    r.kind = kind;
    r.mac = mac;
    r.prev = prev;
    r.seq = seq;
    r.time = time;
    r.v = 2;
    r.why = why;
    return r as unknown as CheckpointRecord;
  }
  if (kind === 'restore') {
    const covers = i.num();
    const head = i.str();
    const keyId = i.str();
    const mac = i.str();
    const backup = i.str();
    const importedKeyIds = i.list();
    i.end();
    const r: RestoreRecord = { backup, covers, head, importedKeyIds, keyId, kind, mac, prev, seq, time, v: 2 };
    return r;
  }
  const ref = i.str();
  const op = i.str();
  const status = i.code(STATUSES);
  const client = flags & F_CLIENT ? i.str() : undefined;
  const addr = flags & F_ADDR ? i.str() : undefined;
  const kmip = flags & F_KMIP ? i.str() : undefined;
  const uids = flags & F_UIDS ? i.list() : undefined;
  const found = flags & F_FOUND ? i.num() : undefined;
  const attrs = flags & F_ATTRS ? i.list() : undefined;
  const reason = flags & F_REASON ? i.str() : undefined;
  const message = flags & F_MESSAGE ? i.str() : undefined;
  const ms = flags & F_MS ? i.num() : undefined;
  const peerSummary = flags & F_PEER ? readPeer(i) : undefined;
  const count = flags & F_COUNT ? i.num() : undefined;
  i.end();
  // Keys in sorted order (as canonical JSON has them), absent fields not even as undefined.
  const r: Record<string, unknown> = {};
  if (addr !== undefined) r.addr = addr;
  if (flags & F_AFTER_COMMIT) r.afterCommit = true;
  if (attrs !== undefined) r.attrs = attrs;
  if (client !== undefined) r.client = client;
  if (count !== undefined) r.count = count;
  if (found !== undefined) r.found = found;
  r.kind = kind;
  if (kmip !== undefined) r.kmip = kmip;
  if (message !== undefined) r.message = message;
  if (ms !== undefined) r.ms = ms;
  r.op = op;
  if (peerSummary !== undefined) r.peer = peerSummary;
  r.prev = prev;
  if (reason !== undefined) r.reason = reason;
  r.ref = ref;
  r.seq = seq;
  r.status = status;
  r.time = time;
  if (uids !== undefined) r.uids = uids;
  r.v = 2;
  return r as unknown as OpRecord;
}

function readPeer(i: In): PeerSummary {
  const at = i.pos;
  const flags = i.uint();
  if (flags > PEER_FLAGS) corrupt('unknown peer flags', at);
  const verifyError = flags & P_VERIFY_ERROR ? i.str() : undefined;
  const subject = flags & P_SUBJECT ? i.str() : undefined;
  const issuer = flags & P_ISSUER ? i.str() : undefined;
  const fingerprint = flags & P_FINGERPRINT ? i.str() : undefined;
  const validTo = flags & P_VALID_TO ? i.str() : undefined;
  const p: { -readonly [K in keyof PeerSummary]: PeerSummary[K] } = {};
  if (fingerprint !== undefined) p.fingerprint = fingerprint;
  if (issuer !== undefined) p.issuer = issuer;
  if (subject !== undefined) p.subject = subject;
  if (validTo !== undefined) p.validTo = validTo;
  if (verifyError !== undefined) p.verifyError = verifyError;
  return p;
}
