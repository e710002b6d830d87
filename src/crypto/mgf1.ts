/**
 * MGF1, the mask generation function of RFC 8017 §B.2.1: the hash of seed ‖ counter (4 bytes,
 * big-endian) for counter = 0, 1, …, concatenated and cut to `length` bytes. Shared by EMSA-PSS
 * (./pss.ts) and EME-OAEP (./oaep.ts). Its running time depends only on the lengths.
 */
import { createHash } from 'node:crypto';

export function mgf1(hash: string, seed: Uint8Array, length: number): Buffer {
  const out: Buffer[] = [];
  let have = 0;
  const c = Buffer.alloc(4);
  for (let counter = 0; have < length; counter++) {
    c.writeUInt32BE(counter);
    const block = createHash(hash).update(seed).update(c).digest();
    out.push(block);
    have += block.length;
  }
  return Buffer.concat(out).subarray(0, length);
}
