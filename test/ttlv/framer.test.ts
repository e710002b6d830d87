/** The stream framer: chunking independence, caps checked from the header, failure is final. */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encode, fromHex, TtlvError, TtlvFramer } from '../../src/ttlv/index.js';
import { ttlvArb } from '../support/arbitraries.js';

afterEach(() => vi.restoreAllMocks());

function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

describe('TtlvFramer', () => {
  it('yields the same frames for every way of chunking a stream', () => {
    const structures = ttlvArb({ maxDepth: 4 }).map((n) => (n.type === 'Structure' ? n : { tag: 0x420078, type: 'Structure' as const, value: [n] }));
    fc.assert(
      fc.property(fc.array(structures, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 12 }), (msgs, cuts) => {
        const encoded = msgs.map((m) => encode(m));
        const stream = Buffer.concat(encoded);
        const framer = new TtlvFramer();
        const frames = splitAt(stream, cuts).flatMap((c) => framer.push(c));
        expect(frames.map((f) => f.toString('hex'))).toEqual(encoded.map((e) => e.toString('hex')));
        expect(framer.buffered).toBe(0);
      }),
      { numRuns: 1000 },
    );
  });

  it('delivers byte-at-a-time input', () => {
    const msg = encode({ tag: 0x420078, type: 'Structure', value: [{ tag: 0x420094, type: 'TextString', value: 'abc' }] });
    const framer = new TtlvFramer();
    const frames: Buffer[] = [];
    for (const byte of msg) frames.push(...framer.push(Buffer.from([byte])));
    expect(frames).toHaveLength(1);
    expect(frames[0]!.equals(msg)).toBe(true);
  });

  it('frames a primitive top-level item by its padded length', () => {
    const text = fromHex('42 00 20 | 07 | 00 00 00 03 | 61 62 63 00 00 00 00 00');
    const framer = new TtlvFramer();
    expect(framer.push(Buffer.concat([text, text]))).toHaveLength(2);
  });

  it('refuses a huge declared length from the header alone, allocating nothing beyond the limit', () => {
    const allocs: number[] = [];
    const real = Buffer.allocUnsafe;
    vi.spyOn(Buffer, 'allocUnsafe').mockImplementation((n: number) => {
      allocs.push(n);
      return real(n);
    });
    const framer = new TtlvFramer({ maxMessageBytes: 1024 });
    // Header only, split across two chunks: 4 GiB announced.
    expect(framer.push(fromHex('42 00 78 01'))).toEqual([]);
    let caught: unknown;
    try {
      framer.push(fromHex('FF FF FF F8 00 00 00 00'));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(TtlvError);
    expect((caught as TtlvError).code).toBe('TOO_LARGE');
    expect((caught as TtlvError).path).toEqual([0x420078]);
    expect(Math.max(0, ...allocs)).toBeLessThanOrEqual(1024);
    // The failure is final: the stream cannot be resynchronized.
    expect(() => framer.push(Buffer.alloc(8))).toThrow(TtlvError);
  });

  it('accepts a frame exactly at the limit and refuses one byte more', () => {
    const msg = encode({ tag: 0x420078, type: 'Structure', value: [{ tag: 0x420020, type: 'ByteString', value: Buffer.alloc(100) }] });
    expect(new TtlvFramer({ maxMessageBytes: msg.length }).push(msg)).toHaveLength(1);
    expect(() => new TtlvFramer({ maxMessageBytes: msg.length - 1 }).push(msg)).toThrow(TtlvError);
  });

  it('holds exactly the announced frame while a large message is in flight', () => {
    const msg = encode({ tag: 0x420078, type: 'Structure', value: [{ tag: 0x420020, type: 'ByteString', value: Buffer.alloc(10_000, 7) }] });
    const framer = new TtlvFramer();
    expect(framer.push(msg.subarray(0, 5000))).toEqual([]);
    expect(framer.buffered).toBe(5000);
    const [frame] = framer.push(msg.subarray(5000));
    expect(frame!.equals(msg)).toBe(true);
  });
});
