/**
 * AES-CMAC (NIST SP 800-38B; RFC 4493 for AES-128), built on AES-ECB from node:crypto, which has
 * no CMAC of its own. Incremental: `update` any number of times, then `digest` once.
 *
 * Subkeys (SP 800-38B §6.1): L = AES_K(0^128); K1 = L << 1 (xor Rb if the top bit was set);
 * K2 = K1 << 1 likewise; Rb = 0x87 for 128-bit blocks. The last block is xored with K1 when
 * complete, else padded 10…0 and xored with K2 (§6.2).
 */
import { createCipheriv, type Cipher } from 'node:crypto';

const BLOCK = 16;

function shiftLeft(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(BLOCK);
  for (let i = 0; i < BLOCK; i++) out[i] = ((b[i]! << 1) | (i + 1 < BLOCK ? b[i + 1]! >> 7 : 0)) & 0xff;
  if ((b[0]! & 0x80) !== 0) out[BLOCK - 1] = out[BLOCK - 1]! ^ 0x87;
  return out;
}

function ecbName(key: Uint8Array): string {
  if (key.length !== 16 && key.length !== 24 && key.length !== 32) throw new RangeError('AES-CMAC needs a 128, 192 or 256-bit key');
  return `aes-${key.length * 8}-ecb`;
}

export class AesCmac {
  private readonly ecb: Cipher;
  private readonly k1: Uint8Array;
  private readonly k2: Uint8Array;
  private x: Uint8Array = new Uint8Array(BLOCK);
  /** Bytes not yet chained; always kept until more arrive, since the last block is special. */
  private pending: Uint8Array = new Uint8Array(0);
  private done = false;

  constructor(key: Uint8Array) {
    this.ecb = createCipheriv(ecbName(key), key, null);
    this.ecb.setAutoPadding(false);
    const l = this.block(new Uint8Array(BLOCK));
    this.k1 = shiftLeft(l);
    this.k2 = shiftLeft(this.k1);
  }

  private block(b: Uint8Array): Uint8Array {
    return new Uint8Array(this.ecb.update(b));
  }

  update(data: Uint8Array): this {
    if (this.done) throw new Error('AES-CMAC already finished');
    let buf: Uint8Array = new Uint8Array(this.pending.length + data.length);
    buf.set(this.pending);
    buf.set(data, this.pending.length);
    // Chain every full block except the last one seen (it may be the final block).
    while (buf.length > BLOCK) {
      const y = new Uint8Array(BLOCK);
      for (let i = 0; i < BLOCK; i++) y[i] = this.x[i]! ^ buf[i]!;
      this.x = this.block(y);
      buf = buf.subarray(BLOCK);
    }
    this.pending = new Uint8Array(buf);
    return this;
  }

  digest(): Uint8Array {
    if (this.done) throw new Error('AES-CMAC already finished');
    this.done = true;
    const last = new Uint8Array(BLOCK);
    let sub: Uint8Array;
    if (this.pending.length === BLOCK) {
      last.set(this.pending);
      sub = this.k1;
    } else {
      last.set(this.pending);
      last[this.pending.length] = 0x80;
      sub = this.k2;
    }
    const y = new Uint8Array(BLOCK);
    for (let i = 0; i < BLOCK; i++) y[i] = this.x[i]! ^ last[i]! ^ sub[i]!;
    const t = this.block(y);
    this.ecb.final();
    return t;
  }
}
