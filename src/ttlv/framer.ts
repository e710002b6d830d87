/**
 * Splits a byte stream into whole TTLV items (KMIP messages). Handles partial and
 * coalesced chunks. The length in the 8-byte header is checked against the limit before
 * anything beyond the header is buffered, so a peer announcing 4 GiB costs 8 bytes.
 *
 * Frames that arrive whole inside one chunk are returned as views of that chunk (zero
 * copy; socket chunks are never reused by Node). A frame spanning chunks is assembled in a
 * buffer of exactly its size. After an error the framer stays failed: a stream that cannot
 * be framed cannot be resynchronized, and the connection must be closed.
 */
import { TtlvError } from './errors.js';
import { pad8 } from './item-type.js';
import { DEFAULT_LIMITS } from './limits.js';

export interface FramerOptions {
  readonly maxMessageBytes?: number;
  /**
   * Called with each frame's 8-byte header (and its stream offset) before its body is
   * awaited; throwing a TtlvError fails the framer, so a stream that starts wrong is refused
   * at once instead of after the length it announces.
   */
  readonly checkHeader?: (header: Buffer, offset: number) => void;
}

export class TtlvFramer {
  private readonly max: number;
  private readonly checkHeader: ((header: Buffer, offset: number) => void) | undefined;
  private readonly header = Buffer.alloc(8);
  private headerFill = 0;
  private frame: Buffer | undefined;
  private frameFill = 0;
  private failed: TtlvError | undefined;
  /** Bytes consumed so far, for error offsets. */
  private consumed = 0;

  constructor(opts: FramerOptions = {}) {
    this.max = opts.maxMessageBytes ?? DEFAULT_LIMITS.maxMessageBytes;
    this.checkHeader = opts.checkHeader;
  }

  /** Bytes held for an incomplete frame (header or body). */
  get buffered(): number {
    return this.frame ? this.frameFill : this.headerFill;
  }

  /** Feed a chunk; returns the frames it completes (possibly none). */
  push(chunk: Uint8Array): Buffer[] {
    if (this.failed) throw this.failed;
    const c = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const frames: Buffer[] = [];
    let pos = 0;
    while (pos < c.length) {
      if (this.frame) {
        const n = Math.min(this.frame.length - this.frameFill, c.length - pos);
        c.copy(this.frame, this.frameFill, pos, pos + n);
        this.frameFill += n;
        pos += n;
        if (this.frameFill === this.frame.length) {
          frames.push(this.frame);
          this.consumed += this.frame.length;
          this.frame = undefined;
          this.frameFill = 0;
        }
        continue;
      }
      // Need a header.
      let hdr: Buffer;
      let hdrInChunk: boolean;
      if (this.headerFill === 0 && c.length - pos >= 8) {
        hdr = c.subarray(pos, pos + 8);
        hdrInChunk = true;
      } else {
        const n = Math.min(8 - this.headerFill, c.length - pos);
        c.copy(this.header, this.headerFill, pos, pos + n);
        this.headerFill += n;
        pos += n;
        if (this.headerFill < 8) break;
        hdr = this.header;
        hdrInChunk = false;
      }
      const total = this.frameLength(hdr);
      if (hdrInChunk && c.length - pos >= total) {
        frames.push(c.subarray(pos, pos + total));
        this.consumed += total;
        pos += total;
        continue;
      }
      const f = Buffer.allocUnsafe(total);
      hdr.copy(f, 0, 0, 8);
      this.headerFill = 0;
      if (hdrInChunk) pos += 8;
      if (total === 8) {
        // An empty structure: the header is the whole frame.
        frames.push(f);
        this.consumed += 8;
        continue;
      }
      this.frame = f;
      this.frameFill = 8;
    }
    return frames;
  }

  private frameLength(hdr: Buffer): number {
    if (this.checkHeader) {
      try {
        this.checkHeader(hdr, this.consumed);
      } catch (e) {
        if (e instanceof TtlvError) this.failed = e;
        throw e;
      }
    }
    const type = hdr[3]!;
    const len = hdr.readUInt32BE(4);
    // A structure's length already includes its children's padding; a primitive's does not.
    const total = 8 + (type === 0x01 ? len : pad8(len));
    if (total > this.max) {
      this.failed = new TtlvError('TOO_LARGE', `message announces ${total} bytes, the limit is ${this.max}`, this.consumed, [(hdr[0]! << 16) | (hdr[1]! << 8) | hdr[2]!]);
      throw this.failed;
    }
    return total;
  }
}
