/**
 * The backup file: a versioned header in the clear, then the body encrypted and
 * authenticated in chunks under a fresh 256-bit file key.
 *
 *   "KMS-BACKUP" 00 01        magic (10 bytes), NUL, format version 1
 *   u32 BE                    header length (≤ 1 MiB)
 *   header                    canonical JSON: format, id, created, chunkSize, cipher,
 *                             recipients (the file key wrapped to each, recovery.ts), source
 *   chunk*                    u32 BE plaintext length L (≤ chunkSize), then L bytes of
 *                             AES-256-GCM ciphertext and its 16-byte tag
 *
 * Chunk i (0, 1, …) uses nonce 00000000 ‖ u64 BE i (the key is fresh per file, so nonces
 * never repeat under it) and associated data
 *   "kms-backup-chunk-v1\0" ‖ SHA-256(magic ‖ length ‖ header) ‖ u64 BE i ‖ final (1 byte)
 * where `final` is 1 only for the last chunk of the file. So any edited header byte fails
 * every chunk; an edited, swapped or moved chunk fails its own tag; a file cut at a chunk
 * boundary ends on a chunk that was not written as final, and bytes appended after the
 * final chunk make it non-final: both are refused. There is always a final chunk (it may
 * be empty).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { canonicalJson } from '../audit/record.js';
import { BackupError } from './errors.js';
import type { WrappedKey } from './recovery.js';

export const MAGIC = Buffer.concat([Buffer.from('KMS-BACKUP'), Buffer.from([0x00, 0x01])]);
export const FORMAT = 1;
export const DEFAULT_CHUNK = 64 * 1024;
const MAX_HEADER = 1024 * 1024;
const MAX_CHUNK = 16 * 1024 * 1024;
const TAG = 16;

export interface BackupHeader {
  readonly format: typeof FORMAT;
  /** Random id of this backup (hex). */
  readonly id: string;
  readonly created: string;
  readonly chunkSize: number;
  readonly cipher: 'AES-256-GCM';
  readonly recipients: readonly WrappedKey[];
  /** Where it was taken (no secrets): server version, key protector kind. */
  readonly source: Readonly<Record<string, string | number>>;
}

export function encodeHeader(h: BackupHeader): { bytes: Buffer; hash: Buffer } {
  const json = Buffer.from(canonicalJson(h), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length);
  const bytes = Buffer.concat([MAGIC, len, json]);
  return { bytes, hash: createHash('sha256').update(bytes).digest() };
}

export function newFileKey(): Buffer {
  return randomBytes(32);
}

export function newBackupId(): string {
  return randomBytes(16).toString('hex');
}

function nonce(i: number): Buffer {
  const n = Buffer.alloc(12);
  n.writeBigUInt64BE(BigInt(i), 4);
  return n;
}

function chunkAad(headerHash: Buffer, i: number, final: boolean): Buffer {
  const b = Buffer.alloc(9);
  b.writeBigUInt64BE(BigInt(i), 0);
  b[8] = final ? 1 : 0;
  return Buffer.concat([Buffer.from('kms-backup-chunk-v1\0'), headerHash, b]);
}

/** Encrypts the body into chunks and hands them to `sink` in order. */
export class ChunkWriter {
  private buf: Buffer;
  private used = 0;
  private index = 0;
  private done = false;
  /** Bytes handed to the sink so far (chunks only). */
  written = 0;

  constructor(
    private readonly key: Buffer,
    private readonly headerHash: Buffer,
    private readonly chunkSize: number,
    private readonly sink: (b: Buffer) => Promise<void>,
  ) {
    this.buf = Buffer.alloc(chunkSize);
  }

  async write(data: Uint8Array): Promise<void> {
    if (this.done) throw new Error('ChunkWriter: write after finish');
    let off = 0;
    while (off < data.length) {
      // A full buffer is only flushed once more data comes, so the last chunk is final.
      if (this.used === this.chunkSize) await this.flush(false);
      const n = Math.min(this.chunkSize - this.used, data.length - off);
      this.buf.set(data.subarray(off, off + n), this.used);
      this.used += n;
      off += n;
    }
  }

  async finish(): Promise<void> {
    await this.flush(true);
    this.done = true;
    this.buf.fill(0);
  }

  private async flush(final: boolean): Promise<void> {
    const c = createCipheriv('aes-256-gcm', this.key, nonce(this.index));
    c.setAAD(chunkAad(this.headerHash, this.index, final));
    const plain = this.buf.subarray(0, this.used);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(this.used);
    const out = Buffer.concat([len, c.update(plain), c.final(), c.getAuthTag()]);
    plain.fill(0); // the body holds key material in the clear
    this.index++;
    this.used = 0;
    this.written += out.length;
    await this.sink(out);
  }
}

/** An open backup file: its header, and its chunks decrypted in order. */
export class BackupFile {
  private constructor(
    private readonly fh: FileHandle,
    readonly header: BackupHeader,
    readonly headerHash: Buffer,
    private readonly bodyStart: number,
    readonly size: number,
  ) {}

  static async open(path: string): Promise<BackupFile> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (e) {
      throw new BackupError('IO', `cannot open ${path}: ${(e as Error).message}`, { cause: e });
    }
    try {
      const size = (await fh.stat()).size;
      const pre = Buffer.alloc(MAGIC.length + 4);
      if (size < pre.length || (await fh.read(pre, 0, pre.length, 0)).bytesRead !== pre.length) throw new BackupError('TAMPERED', 'not a backup file: too short');
      if (!pre.subarray(0, MAGIC.length - 1).equals(MAGIC.subarray(0, MAGIC.length - 1))) throw new BackupError('TAMPERED', 'not a backup file: bad magic');
      if (pre[MAGIC.length - 1] !== FORMAT) throw new BackupError('TAMPERED', `unknown backup format version ${pre[MAGIC.length - 1]}`);
      const hlen = pre.readUInt32BE(MAGIC.length);
      if (hlen > MAX_HEADER || pre.length + hlen > size) throw new BackupError('TAMPERED', 'backup header length out of range');
      const json = Buffer.alloc(hlen);
      await fh.read(json, 0, hlen, pre.length);
      let header: BackupHeader;
      try {
        header = JSON.parse(json.toString('utf8')) as BackupHeader;
      } catch {
        throw new BackupError('TAMPERED', 'backup header is not JSON');
      }
      const okHeader =
        header?.format === FORMAT &&
        header.cipher === 'AES-256-GCM' &&
        Number.isSafeInteger(header.chunkSize) &&
        header.chunkSize >= 1 &&
        header.chunkSize <= MAX_CHUNK &&
        Array.isArray(header.recipients) &&
        typeof header.id === 'string';
      if (!okHeader) throw new BackupError('TAMPERED', 'backup header is not a format 1 header');
      const hash = createHash('sha256').update(pre).update(json).digest();
      return new BackupFile(fh, header, hash, pre.length + hlen, size);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** The body's plaintext chunks, each authenticated before it is yielded; throws TAMPERED. */
  async *chunks(key: Buffer): AsyncGenerator<Buffer> {
    let pos = this.bodyStart;
    let index = 0;
    const lenBuf = Buffer.alloc(4);
    for (;;) {
      if (pos === this.size) throw new BackupError('TAMPERED', `the backup ends after chunk ${index - 1} without its final chunk: truncated`);
      if (pos + 4 + TAG > this.size) throw new BackupError('TAMPERED', `chunk ${index} is cut short: truncated`);
      await this.fh.read(lenBuf, 0, 4, pos);
      const len = lenBuf.readUInt32BE(0);
      if (len > this.header.chunkSize) throw new BackupError('TAMPERED', `chunk ${index} says ${len} bytes, more than the chunk size`);
      const end = pos + 4 + len + TAG;
      if (end > this.size) throw new BackupError('TAMPERED', `chunk ${index} is cut short: truncated`);
      const body = Buffer.alloc(len + TAG);
      await this.fh.read(body, 0, body.length, pos + 4);
      const final = end === this.size;
      const d = createDecipheriv('aes-256-gcm', key, nonce(index));
      d.setAAD(chunkAad(this.headerHash, index, final));
      d.setAuthTag(body.subarray(len));
      let plain: Buffer;
      try {
        plain = Buffer.concat([d.update(body.subarray(0, len)), d.final()]);
      } catch {
        throw new BackupError(
          'TAMPERED',
          `chunk ${index} (at byte ${pos}) fails authentication: the file was altered, truncated, reordered or extended${index === 0 ? ', or its header was' : ''}`,
        );
      }
      yield plain;
      plain.fill(0);
      if (final) return;
      pos = end;
      index++;
    }
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}
