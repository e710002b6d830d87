/**
 * Index key bytes, shared by the memory and LevelDB stores so both order and match alike.
 *
 * An index key is `esc(field) 00 01  esc(value) 00 01  uid` where `field` is UTF-8, `value`
 * is an index value (index-encoding.ts) and `uid` is UTF-8. `esc` writes every 0x00 byte as
 * 0x00 0xFF and leaves the others alone; `00 01` terminates a component. This keeps
 * components unambiguous (a value may hold 0x00 bytes) and keeps the order: for byte
 * strings a < b, esc(a)+00 01 < esc(b)+00 01, because the terminator sorts below both a
 * continuation byte (≥ 01 after a non-zero, or 00 FF for an escaped zero).
 *
 * So all entries of one field share the prefix esc(field) 00 01; all entries of one
 * (field, value) share esc(field) 00 01 esc(value) 00 01; and the entries with
 * from ≤ value ≤ to are exactly the keys k with
 *   esc(field) 00 01 esc(from) 00 01  ≤  k  <  esc(field) 00 01 esc(to) 00 02.
 */
import type { IndexQuery } from './object-store.js';

const TERM = [0x00, 0x01] as const;

/** esc(bytes) followed by the terminator 00 01. */
export function component(bytes: Uint8Array): Buffer {
  let zeros = 0;
  for (const b of bytes) if (b === 0) zeros++;
  const out = Buffer.allocUnsafe(bytes.length + zeros + 2);
  let p = 0;
  for (const b of bytes) {
    out[p++] = b;
    if (b === 0) out[p++] = 0xff;
  }
  out[p++] = TERM[0];
  out[p] = TERM[1];
  return out;
}

/** The key prefix shared by every entry of `field`. */
export function fieldPrefix(field: string): Buffer {
  return component(Buffer.from(field, 'utf8'));
}

/** The part of an entry key after the field prefix: esc(value) 00 01 uid. */
export function valueKey(value: Uint8Array, uid: string): Buffer {
  const c = component(value);
  const u = Buffer.from(uid, 'utf8');
  const out = Buffer.allocUnsafe(c.length + u.length);
  c.copy(out, 0);
  u.copy(out, c.length);
  return out;
}

/**
 * The uid of a value key (the bytes after the field prefix), found by skipping the escaped
 * value up to its terminator. Returns undefined if the key is malformed.
 */
export function uidOfValueKey(key: Uint8Array, start = 0): string | undefined {
  for (let i = start; i + 1 < key.length; i++) {
    if (key[i] !== 0) continue;
    const next = key[i + 1];
    if (next === 0xff) {
      i++;
      continue;
    }
    if (next !== 0x01) return undefined;
    return Buffer.from(key.buffer, key.byteOffset + i + 2, key.length - i - 2).toString('utf8');
  }
  return undefined;
}

/**
 * Bounds over value keys (the part after the field prefix) for one query:
 * `gte` inclusive, `lt` exclusive; either may be absent (open end). `empty` when the
 * range cannot match anything (from > to).
 */
export function valueBounds(q: IndexQuery): { gte?: Buffer; lt?: Buffer; empty?: true } {
  if ('equals' in q) {
    const c = component(q.equals);
    return { gte: c, lt: upper(c) };
  }
  if ('exists' in q) return {};
  const r: { gte?: Buffer; lt?: Buffer; empty?: true } = {};
  if (q.from !== undefined) r.gte = component(q.from);
  if (q.to !== undefined) r.lt = upper(component(q.to));
  if (q.from !== undefined && q.to !== undefined && Buffer.compare(Buffer.from(q.from), Buffer.from(q.to)) > 0) r.empty = true;
  return r;
}

/** The terminated component c (ending 00 01) with its last byte raised to 02: just past every key starting with c. */
function upper(c: Buffer): Buffer {
  const u = Buffer.from(c);
  u[u.length - 1] = 0x02;
  return u;
}

/**
 * Compare two uids in Unicode code point order, which is the UTF-8 byte order LevelDB
 * keeps (JavaScript's `<` compares UTF-16 code units, which differs above U+D7FF).
 */
export function compareUids(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (D800-DFFF, code points ≥ 10000) sort after E000-FFFF.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}
