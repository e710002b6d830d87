/**
 * Binary TTLV encoder. One pass over the tree into a growable scratch buffer, structure
 * lengths back-patched when the structure closes; the result is copied out once.
 * Values are validated against their type's range: an unencodable tree throws TtlvError.
 */
import { TtlvError } from './errors.js';
import type { TtlvNode } from './node.js';
import { FIXED_LENGTH, ItemType, pad8 } from './item-type.js';

const MIN_CAPACITY = 64 * 1024;
/** A scratch buffer that has grown past this is released after use. */
const KEEP_CAPACITY = 4 * 1024 * 1024;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

class Writer {
  buf: Buffer = Buffer.allocUnsafe(MIN_CAPACITY);
  pos = 0;

  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length;
    while (cap < need) cap = Math.ceil(cap * 1.5);
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  header(tag: number, type: number, length: number): void {
    const b = this.buf;
    const p = this.pos;
    b[p] = tag >>> 16;
    b[p + 1] = (tag >>> 8) & 0xff;
    b[p + 2] = tag & 0xff;
    b[p + 3] = type;
    b[p + 4] = length >>> 24;
    b[p + 5] = (length >>> 16) & 0xff;
    b[p + 6] = (length >>> 8) & 0xff;
    b[p + 7] = length & 0xff;
    this.pos = p + 8;
  }

  /** Four bytes, big-endian; `v` is any 32-bit integer (signed or unsigned). */
  u32(v: number): void {
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 24;
    b[p + 1] = (v >>> 16) & 0xff;
    b[p + 2] = (v >>> 8) & 0xff;
    b[p + 3] = v & 0xff;
    this.pos = p + 4;
  }

  /** n zero bytes; n is a padding length (0..7), so a loop beats Buffer#fill's validation. */
  zeros(n: number): void {
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) b[p++] = 0;
    this.pos = p;
  }
}

// Encoding is synchronous and never re-entered, so one scratch writer serves every call.
let scratch: Writer | undefined;

/** Encode one TTLV item (usually a whole message) to bytes. */
export function encode(node: TtlvNode): Buffer {
  const w = scratch ?? new Writer();
  scratch = undefined; // a nested call (never expected) would get its own writer
  w.pos = 0;
  try {
    writeNode(w, node, []);
    return Buffer.from(w.buf.subarray(0, w.pos));
  } finally {
    if (w.buf.length <= KEEP_CAPACITY) scratch = w;
  }
}

/** Encoded size in bytes of a node, without encoding it. */
export function encodedLength(node: TtlvNode): number {
  switch (node.type) {
    case 'Structure': {
      let n = 8;
      for (const c of node.value) n += encodedLength(c);
      return n;
    }
    case 'TextString':
    case 'Identifier':
    case 'Reference':
    case 'NameReference':
      return 8 + pad8(Buffer.byteLength(node.value, 'utf8'));
    case 'ByteString':
    case 'BigInteger':
      return 8 + pad8(node.value.length);
    default:
      return 16;
  }
}

function fail(code: 'BAD_VALUE' | 'BAD_TAG', msg: string, path: number[], tag: number): never {
  throw new TtlvError(code, msg, -1, [...path, tag]);
}

function writeNode(w: Writer, node: TtlvNode, path: number[]): void {
  const tag = node.tag;
  const typeName: string = node.type;
  if (!Number.isInteger(tag) || tag <= 0 || tag > 0xffffff) fail('BAD_TAG', `tag ${tag} is not a 3-byte tag`, path, tag);
  switch (node.type) {
    case 'Structure': {
      w.ensure(8);
      const start = w.pos;
      w.header(tag, ItemType.Structure, 0);
      path.push(tag);
      for (const child of node.value) writeNode(w, child, path);
      path.pop();
      const len = w.pos - start - 8;
      const b = w.buf;
      b[start + 4] = len >>> 24;
      b[start + 5] = (len >>> 16) & 0xff;
      b[start + 6] = (len >>> 8) & 0xff;
      b[start + 7] = len & 0xff;
      return;
    }
    case 'Integer': {
      const v = node.value;
      if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) fail('BAD_VALUE', `Integer ${v} out of range`, path, tag);
      w.ensure(16);
      w.header(tag, ItemType.Integer, FIXED_LENGTH.Integer);
      w.u32(v);
      w.u32(0);
      return;
    }
    case 'Enumeration':
    case 'Interval': {
      const v = node.value;
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) fail('BAD_VALUE', `${node.type} ${v} out of range`, path, tag);
      w.ensure(16);
      w.header(tag, ItemType[node.type], FIXED_LENGTH[node.type]);
      w.u32(v);
      w.u32(0);
      return;
    }
    case 'LongInteger':
    case 'DateTime':
    case 'DateTimeExtended': {
      const v = node.value;
      if (typeof v !== 'bigint' || v < INT64_MIN || v > INT64_MAX) fail('BAD_VALUE', `${node.type} ${String(v)} out of range`, path, tag);
      w.ensure(16);
      w.header(tag, ItemType[node.type], FIXED_LENGTH[node.type]);
      w.buf.writeBigInt64BE(v, w.pos);
      w.pos += 8;
      return;
    }
    case 'Boolean': {
      if (typeof node.value !== 'boolean') fail('BAD_VALUE', 'Boolean value is not a boolean', path, tag);
      w.ensure(16);
      w.header(tag, ItemType.Boolean, FIXED_LENGTH.Boolean);
      w.u32(0);
      w.u32(node.value ? 1 : 0);
      return;
    }
    case 'TextString':
    case 'Identifier':
    case 'Reference':
    case 'NameReference': {
      const s = node.value;
      if (typeof s !== 'string') fail('BAD_VALUE', `${typeName} value is not a string`, path, tag);
      // UTF-8 needs at most 3 bytes per UTF-16 code unit.
      w.ensure(8 + pad8(s.length * 3));
      const start = w.pos;
      w.pos += 8;
      const n = w.buf.write(s, w.pos, 'utf8');
      w.pos = start;
      w.header(tag, ItemType[node.type], n);
      w.pos += n;
      w.zeros(pad8(n) - n);
      return;
    }
    case 'ByteString':
    case 'BigInteger': {
      const v = node.value;
      if (!(v instanceof Uint8Array)) fail('BAD_VALUE', `${typeName} value is not bytes`, path, tag);
      if (node.type === 'BigInteger' && (v.length === 0 || v.length % 8 !== 0)) fail('BAD_VALUE', `Big Integer length ${v.length} is not a positive multiple of 8`, path, tag);
      const n = v.length;
      w.ensure(8 + pad8(n));
      w.header(tag, ItemType[node.type], n);
      w.buf.set(v, w.pos);
      w.pos += n;
      w.zeros(pad8(n) - n);
      return;
    }
    default: {
      const bad: { type: unknown } = node;
      fail('BAD_VALUE', `unknown item type ${String(bad.type)}`, path, tag);
    }
  }
}
