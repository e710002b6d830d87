/**
 * Hex helpers for fixtures and debugging. `fromHex` reads annotated hex: `#` starts a
 * comment to the end of the line; whitespace, `|`, `:` and `,` separate nothing; an
 * optional `0x` prefix per group is allowed. `annotate` writes the same form, one item per
 * line, indented by depth:  `42 00 57 | 05 | 00 00 00 04 | 00 00 00 02 00 00 00 00`.
 */
import { TtlvError } from './errors.js';
import { pad8 } from './item-type.js';

export function fromHex(text: string): Buffer {
  const digits: string[] = [];
  for (const rawLine of text.split('\n')) {
    const hash = rawLine.indexOf('#');
    const line = (hash >= 0 ? rawLine.slice(0, hash) : rawLine).replace(/0x/gi, '');
    for (const ch of line) {
      if (/[0-9a-fA-F]/.test(ch)) digits.push(ch);
      else if (!/[\s|:,]/.test(ch)) throw new TtlvError('BAD_VALUE', `unexpected character ${JSON.stringify(ch)} in hex`);
    }
  }
  if (digits.length % 2 !== 0) throw new TtlvError('BAD_VALUE', 'odd number of hex digits');
  return Buffer.from(digits.join(''), 'hex');
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function spaced(b: Buffer, from: number, to: number): string {
  const parts: string[] = [];
  for (let i = from; i < to; i++) parts.push(b[i]!.toString(16).padStart(2, '0'));
  return parts.join(' ');
}

/**
 * Annotated hex of well-formed-looking TTLV bytes, one item per line. It walks headers
 * only and does not validate; bytes it cannot walk are printed raw at the end.
 */
export function annotate(bytes: Uint8Array, indent = '  '): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lines: string[] = [];
  const walk = (off: number, end: number, depth: number): number => {
    while (off + 8 <= end) {
      const type = b[off + 3]!;
      const len = b.readUInt32BE(off + 4);
      const pad = indent.repeat(depth);
      const head = `${spaced(b, off, off + 3)} | ${spaced(b, off + 3, off + 4)} | ${spaced(b, off + 4, off + 8)}`;
      if (type === 0x01) {
        lines.push(pad + head);
        const inner = Math.min(off + 8 + len, end);
        walk(off + 8, inner, depth + 1);
        off = inner;
      } else {
        const size = type === 0x06 || type === 0x03 || type === 0x09 || type === 0x0b ? 8 : pad8(len);
        const vEnd = Math.min(off + 8 + size, end);
        lines.push(`${pad}${head} | ${spaced(b, off + 8, vEnd)}`);
        off = vEnd;
      }
    }
    if (off < end) lines.push(indent.repeat(depth) + spaced(b, off, end) + '  # unparsed');
    return end;
  };
  walk(0, b.length, 0);
  return lines.join('\n');
}
