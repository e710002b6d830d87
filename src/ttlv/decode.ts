/**
 * Strict binary TTLV decoder. Every read is bounded by the enclosing item's end, never by
 * the buffer's: a child cannot reach past its parent. Rejected with a coded TtlvError
 * (offset of the offending item, tag path from the root):
 * wrong fixed lengths, non-zero padding, Booleans other than 0/1, invalid UTF-8, unknown
 * item types, children that do not exactly fill their parent, trailing bytes, and inputs
 * over the size, depth or item-count limits.
 */
import { isUtf8 } from 'node:buffer';
import { TtlvError, type TtlvErrorCode } from './errors.js';
import type { TtlvNode } from './node.js';
import { resolveLimits, type TtlvLimits } from './limits.js';
import { FIXED_LENGTH_BY_CODE, pad8 } from './item-type.js';

/** Text up to this many bytes is scanned for ASCII in JS; longer text goes to isUtf8 (SIMD). */
const ASCII_SCAN_MAX = 256;

interface State {
  readonly buf: Buffer;
  readonly limits: TtlvLimits;
  readonly path: number[];
  items: number;
  /** Offset just past the item most recently decoded. */
  next: number;
}

/** Decode exactly one TTLV item that fills `bytes` entirely. */
export function decode(bytes: Uint8Array, limits?: Partial<TtlvLimits>): TtlvNode {
  const lim = resolveLimits(limits);
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length > lim.maxMessageBytes) {
    throw new TtlvError('TOO_LARGE', `message of ${buf.length} bytes exceeds the limit of ${lim.maxMessageBytes}`, 0);
  }
  const st: State = { buf, limits: lim, path: [], items: 0, next: 0 };
  const node = item(st, 0, buf.length, 1);
  if (st.next !== buf.length) {
    throw new TtlvError('TRAILING', `${buf.length - st.next} bytes after the top-level item`, st.next, []);
  }
  return node;
}

function err(st: State, code: TtlvErrorCode, msg: string, offset: number, tag?: number): never {
  const path = tag === undefined ? [...st.path] : [...st.path, tag];
  throw new TtlvError(code, msg, offset, path);
}

function hex6(tag: number): string {
  return tag.toString(16).toUpperCase().padStart(6, '0');
}

function item(st: State, off: number, end: number, depth: number): TtlvNode {
  const b = st.buf;
  // At the top level, running out of input is truncation; inside a structure it is a child
  // claiming more than its parent holds.
  const short = depth === 1 ? 'TRUNCATED' : 'OVERRUN';
  if (end - off < 8) err(st, short, `item header needs 8 bytes, ${end - off} remain`, off);
  const tag = (b[off]! << 16) | (b[off + 1]! << 8) | b[off + 2]!;
  const type = b[off + 3]!;
  const len = b.readUInt32BE(off + 4);
  // Tag 0 is no tag (the encoder refuses it too); accepting it let a message decode that no
  // response could echo (found by fuzzing, test/fuzz/regressions/decoder-tag-zero.hex).
  if (tag === 0) err(st, 'BAD_TAG', 'tag 000000 is not a tag', off, tag);
  if (++st.items > st.limits.maxItems) err(st, 'TOO_MANY_ITEMS', `more than ${st.limits.maxItems} items`, off, tag);
  const v = off + 8; // value start

  switch (type) {
    case 0x01: {
      // Structure
      const sEnd = v + len;
      if (sEnd > end) err(st, short, `structure ${hex6(tag)} of ${len} bytes overruns its container`, off, tag);
      if (depth >= st.limits.maxDepth) err(st, 'TOO_DEEP', `nesting deeper than ${st.limits.maxDepth}`, off, tag);
      st.path.push(tag);
      const children: TtlvNode[] = [];
      let p = v;
      while (p < sEnd) {
        children.push(item(st, p, sEnd, depth + 1));
        p = st.next;
      }
      st.path.pop();
      st.next = sEnd;
      return { tag, type: 'Structure', value: children };
    }
    case 0x02: // Integer
    case 0x05: // Enumeration
    case 0x0a: {
      // Interval
      fixed(st, off, end, tag, len, FIXED_LENGTH_BY_CODE[type]!, short);
      if (b.readUInt32BE(v + 4) !== 0) err(st, 'BAD_PADDING', `non-zero padding in ${hex6(tag)}`, v + 4, tag);
      st.next = v + 8;
      if (type === 0x02) return { tag, type: 'Integer', value: b.readInt32BE(v) };
      const u = b.readUInt32BE(v);
      return type === 0x05 ? { tag, type: 'Enumeration', value: u } : { tag, type: 'Interval', value: u };
    }
    case 0x03: // Long Integer
    case 0x09: // Date-Time
    case 0x0b: {
      // Date-Time Extended
      fixed(st, off, end, tag, len, FIXED_LENGTH_BY_CODE[type]!, short);
      st.next = v + 8;
      const x = b.readBigInt64BE(v);
      return type === 0x03 ? { tag, type: 'LongInteger', value: x } : type === 0x09 ? { tag, type: 'DateTime', value: x } : { tag, type: 'DateTimeExtended', value: x };
    }
    case 0x06: {
      // Boolean
      fixed(st, off, end, tag, len, FIXED_LENGTH_BY_CODE[type]!, short);
      const hi = b.readUInt32BE(v);
      const lo = b.readUInt32BE(v + 4);
      if (hi !== 0 || lo > 1) err(st, 'BAD_BOOLEAN', `Boolean ${hex6(tag)} is neither 0 nor 1`, v, tag);
      st.next = v + 8;
      return { tag, type: 'Boolean', value: lo === 1 };
    }
    case 0x04: // Big Integer
    case 0x07: // Text String
    case 0x08: // Byte String
    case 0x0c: // Identifier (3.0)
    case 0x0d: // Reference (3.0)
    case 0x0e: {
      // Name Reference (3.0)
      if (type === 0x04 && (len === 0 || len % 8 !== 0)) {
        err(st, 'BAD_LENGTH', `Big Integer ${hex6(tag)} length ${len} is not a positive multiple of 8`, off, tag);
      }
      const padded = pad8(len); // len may be up to 2^32-1: no 32-bit bit tricks
      const vEnd = v + len;
      if (v + padded > end) err(st, short, `value of ${hex6(tag)} (${len} bytes) overruns its container`, off, tag);
      for (let i = vEnd; i < v + padded; i++) {
        if (b[i] !== 0) err(st, 'BAD_PADDING', `non-zero padding in ${hex6(tag)}`, i, tag);
      }
      st.next = v + padded;
      if (type === 0x04 || type === 0x08) {
        const copy = Buffer.allocUnsafe(len);
        b.copy(copy, 0, v, vEnd);
        return type === 0x08 ? { tag, type: 'ByteString', value: copy } : { tag, type: 'BigInteger', value: copy };
      }
      // Short ASCII text (identifiers, names, attribute names) is the common case: one JS
      // scan, then one string built straight from the buffer, with no subarray object.
      let ascii = len <= ASCII_SCAN_MAX;
      if (ascii) {
        for (let i = v; i < vEnd; i++) {
          if (b[i]! >= 0x80) {
            ascii = false;
            break;
          }
        }
      }
      let s: string;
      if (ascii) s = b.toString('latin1', v, vEnd);
      else {
        if (!isUtf8(b.subarray(v, vEnd))) err(st, 'BAD_UTF8', `text in ${hex6(tag)} is not valid UTF-8`, v, tag);
        s = b.toString('utf8', v, vEnd);
      }
      return type === 0x07
        ? { tag, type: 'TextString', value: s }
        : type === 0x0c
          ? { tag, type: 'Identifier', value: s }
          : type === 0x0d
            ? { tag, type: 'Reference', value: s }
            : { tag, type: 'NameReference', value: s };
    }
    default:
      return err(st, 'BAD_TYPE', `unknown item type 0x${type.toString(16).padStart(2, '0')} for ${hex6(tag)}`, off + 3, tag);
  }
}

function fixed(st: State, off: number, end: number, tag: number, len: number, want: number, short: TtlvErrorCode): void {
  if (len !== want) err(st, 'BAD_LENGTH', `${hex6(tag)} has length ${len}, its type requires ${want}`, off + 4, tag);
  if (off + 16 > end) err(st, short, `value of ${hex6(tag)} overruns its container`, off, tag);
}
