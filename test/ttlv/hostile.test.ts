/**
 * Hostile-input catalogue. Each case is numbered (H01…) so a regression names the case.
 * Every input is built by hand; each must be refused with the exact TtlvError code (and,
 * where it matters, offset and tag path), never a RangeError or a silently wrong tree.
 */
import { describe, expect, it } from 'vitest';
import { decode, encode, fromHex, t, TtlvError, type TtlvErrorCode } from '../../src/ttlv/index.js';

const S = 0x420078; // a structure tag
const P = 0x420020; // a primitive tag

function expectCode(bytes: Uint8Array, code: TtlvErrorCode, opts: { offset?: number; path?: number[]; limits?: object } = {}): TtlvError {
  let caught: unknown;
  try {
    decode(bytes, opts.limits);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(TtlvError);
  const e = caught as TtlvError;
  expect(e.code).toBe(code);
  if (opts.offset !== undefined) expect(e.offset).toBe(opts.offset);
  if (opts.path !== undefined) expect(e.path).toEqual(opts.path);
  return e;
}

const valid = fromHex(`
  42 00 78 | 01 | 00 00 00 30
    42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00
    42 00 21 | 07 | 00 00 00 05 | 68 65 6C 6C 6F 00 00 00
    42 00 22 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 01`);

describe('hostile input catalogue', () => {
  it('H00 the baseline message decodes', () => {
    expect(decode(valid)).toEqual(t.struct(S, [t.int(0x420020, 8), t.text(0x420021, 'hello'), t.bool(0x420022, true)]));
  });

  it('H01 truncation at every offset is TRUNCATED, never a crash', () => {
    for (let n = 0; n < valid.length; n++) expectCode(valid.subarray(0, n), 'TRUNCATED');
  });

  it('H02 empty input', () => expectCode(new Uint8Array(0), 'TRUNCATED', { offset: 0 }));

  it('H03 declared structure length beyond the input', () => {
    expectCode(fromHex('42 00 78 | 01 | FF FF FF F0'), 'TRUNCATED', { offset: 0, path: [S] });
  });

  it('H04 a child overrunning its parent is OVERRUN, with the path to the child', () => {
    // Parent claims 16 bytes; its child is a 16-byte Integer item plus more bytes after the parent.
    const b = fromHex(`42 00 78 | 01 | 00 00 00 18
      42 00 77 | 01 | 00 00 00 10
        42 00 20 | 07 | 00 00 00 10 | 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41 41`);
    expectCode(b, 'OVERRUN', { offset: 16, path: [S, 0x420077, P] });
  });

  it('H05 a child header cut by its parent end', () => {
    const b = fromHex(`42 00 78 | 01 | 00 00 00 04 | 42 00 20 02`);
    expectCode(b, 'OVERRUN', { offset: 8, path: [S] });
  });

  it('H06 structure length not filled exactly by children', () => {
    // 12-byte structure holding one 16-byte item: the child overruns.
    const b = fromHex(`42 00 78 | 01 | 00 00 00 0C | 42 00 20 02 00 00 00 04 00 00 00 01 00 00 00 00`);
    expectCode(b, 'OVERRUN', { offset: 8, path: [S, P] });
  });

  it('H07 trailing bytes after the top-level item', () => {
    const b = Buffer.concat([valid, Buffer.alloc(8)]);
    expectCode(b, 'TRAILING', { offset: valid.length });
  });

  it('H08 Integer with length 8 is BAD_LENGTH', () => {
    expectCode(fromHex('42 00 20 | 02 | 00 00 00 08 | 00 00 00 01 00 00 00 00'), 'BAD_LENGTH', { path: [P] });
  });

  it('H09 Enumeration, Interval with wrong length; Long Integer, Date-Time, Boolean with length 4', () => {
    for (const type of ['05', '0A']) expectCode(fromHex(`42 00 20 | ${type} | 00 00 00 02 | 00 01 00 00 00 00 00 00`), 'BAD_LENGTH');
    for (const type of ['03', '09', '06', '0B']) expectCode(fromHex(`42 00 20 | ${type} | 00 00 00 04 | 00 00 00 01 00 00 00 00`), 'BAD_LENGTH');
  });

  it('H10 Big Integer whose length is not a multiple of 8', () => {
    expectCode(fromHex('42 00 20 | 04 | 00 00 00 04 | 00 00 00 01 00 00 00 00'), 'BAD_LENGTH');
    expectCode(fromHex('42 00 20 | 04 | 00 00 00 00'), 'BAD_LENGTH');
  });

  it('H11 non-zero padding after a 4-byte value', () => {
    expectCode(fromHex('42 00 20 | 02 | 00 00 00 04 | 00 00 00 01 00 00 00 01'), 'BAD_PADDING', { offset: 12 });
  });

  it('H12 non-zero padding after a text or byte string', () => {
    expectCode(fromHex('42 00 20 | 07 | 00 00 00 03 | 61 62 63 00 00 00 00 58'), 'BAD_PADDING', { offset: 15 });
    expectCode(fromHex('42 00 20 | 08 | 00 00 00 01 | 01 00 00 00 01 00 00 00'), 'BAD_PADDING', { offset: 12 });
  });

  it('H13 Boolean values other than 0 and 1', () => {
    expectCode(fromHex('42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 02'), 'BAD_BOOLEAN');
    expectCode(fromHex('42 00 20 | 06 | 00 00 00 08 | 01 00 00 00 00 00 00 01'), 'BAD_BOOLEAN');
  });

  it('H14 invalid UTF-8: lone continuation byte, overlong encoding, surrogate, truncated sequence', () => {
    for (const bad of ['80', 'C0 AF', 'ED A0 80', 'E2 82']) {
      const n = bad.split(' ').length;
      const body = (bad + ' 00'.repeat(8 - n)).trim();
      expectCode(fromHex(`42 00 20 | 07 | 00 00 00 0${n} | ${body}`), 'BAD_UTF8');
    }
  });

  it('H15 unknown item types 0x00, 0x0F and 0xFF', () => {
    for (const type of ['00', '0F', 'FF']) expectCode(fromHex(`42 00 20 | ${type} | 00 00 00 04 | 00 00 00 01 00 00 00 00`), 'BAD_TYPE', { offset: 3 });
  });

  it('H16 depth exactly at the limit decodes; one past it is TOO_DEEP', () => {
    const nest = (depth: number) => {
      let node = t.int(P, 1) as ReturnType<typeof t.int> | ReturnType<typeof t.struct>;
      for (let i = 0; i < depth; i++) node = t.struct(S, [node]);
      return encode(node);
    };
    // depth counts items: n structures + 1 leaf.
    expect(() => decode(nest(7), { maxDepth: 8 })).not.toThrow();
    expectCode(nest(8), 'TOO_DEEP', { limits: { maxDepth: 8 } });
    // The default limit holds against a deep bomb (1,000 nested structures), without a stack overflow.
    expectCode(nest(1000), 'TOO_DEEP');
  });

  it('H17 more items than the limit', () => {
    const many = encode(
      t.struct(
        S,
        Array.from({ length: 100 }, () => t.int(P, 1)),
      ),
    );
    expect(() => decode(many, { maxItems: 101 })).not.toThrow();
    expectCode(many, 'TOO_MANY_ITEMS', { limits: { maxItems: 100 } });
  });

  it('H18 a message over the byte limit', () => {
    expectCode(valid, 'TOO_LARGE', { limits: { maxMessageBytes: valid.length - 1 } });
  });

  it('H19 a text string declaring 4 GiB is refused without allocating it', () => {
    expectCode(fromHex('42 00 20 | 07 | FF FF FF FF | 41 41 41 41 41 41 41 41'), 'TRUNCATED');
  });

  it('H20 structure length that is not a multiple of 8 with a short tail', () => {
    expectCode(fromHex('42 00 78 | 01 | 00 00 00 03 | 01 02 03 00 00 00 00 00'), 'OVERRUN');
  });

  it('H21 errors carry the tag path for a deep failure', () => {
    const b = fromHex(`42 00 78 | 01 | 00 00 00 20
      42 00 77 | 01 | 00 00 00 18
        42 00 69 | 01 | 00 00 00 10
          42 00 6A | 02 | 00 00 00 04 | 00 00 00 01 00 00 00 FF`);
    const e = expectCode(b, 'BAD_PADDING', { path: [S, 0x420077, 0x420069, 0x42006a] });
    expect(e.pathString()).toBe('420078/420077/420069/42006A');
  });
});
