/**
 * The embedded default key protector: AES-256-GCM under a 256-bit master key kept in a
 * file created with mode 0600 on first start. It is NOT an HSM, and says so loudly.
 *
 * Sealed format (version 1): 0x01 | nonce (12) | ciphertext | tag (16).
 * Associated data: "kms-object-v1\0" + uid, so a body cannot be moved to another object.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { ProtectorError, type KeyProtector } from '../key-protector.js';
import { createFileDurably } from './durable-file.js';

const VERSION = 1;
const NONCE = 12;
const TAG = 16;

function aad(uid: string): Buffer {
  return Buffer.concat([Buffer.from('kms-object-v1\0'), Buffer.from(uid, 'utf8')]);
}

export class SoftwareProtector implements KeyProtector {
  readonly kekId: string;
  readonly description: string;

  private constructor(
    private readonly key: Buffer,
    path: string,
  ) {
    // The id names the key without revealing it.
    this.kekId = 'sw:' + createHash('sha256').update('kms-kek-id\0').update(key).digest('hex').slice(0, 16);
    this.description = `software master key at ${path} (not an HSM)`;
  }

  /** Load the master key file, creating it (mode 0600, durably: durable-file.ts) if absent. */
  static openOrCreate(path: string): { protector: SoftwareProtector; created: boolean } {
    // Never half written, even if killed meanwhile (a 0-byte key file used to stop every later start).
    const created = !existsSync(path) && createFileDurably(path, randomBytes(32));
    const mode = statSync(path).mode & 0o777;
    if (mode & 0o077) chmodSync(path, 0o600);
    const key = readFileSync(path);
    if (key.length !== 32) throw new ProtectorError('BAD_KEY_FILE', `master key file ${path} must hold 32 bytes, it holds ${key.length}`);
    return { protector: new SoftwareProtector(key, path), created };
  }

  async seal(uid: string, plaintext: Uint8Array): Promise<Uint8Array> {
    const nonce = randomBytes(NONCE);
    const c = createCipheriv('aes-256-gcm', this.key, nonce);
    c.setAAD(aad(uid));
    const body = Buffer.concat([c.update(plaintext), c.final()]);
    return Buffer.concat([Buffer.from([VERSION]), nonce, body, c.getAuthTag()]);
  }

  async open(uid: string, sealed: Uint8Array, kekId: string): Promise<Uint8Array> {
    if (kekId !== this.kekId) throw new ProtectorError('UNKNOWN_KEK', `object was sealed under ${kekId}, this server holds ${this.kekId}`);
    const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (b.length < 1 + NONCE + TAG || b[0] !== VERSION) throw new ProtectorError('TAMPERED', `sealed body of ${uid} is malformed`);
    const d = createDecipheriv('aes-256-gcm', this.key, b.subarray(1, 1 + NONCE));
    d.setAAD(aad(uid));
    d.setAuthTag(b.subarray(b.length - TAG));
    try {
      return Buffer.concat([d.update(b.subarray(1 + NONCE, b.length - TAG)), d.final()]);
    } catch (e) {
      throw new ProtectorError('TAMPERED', `sealed body of ${uid} failed authentication`, { cause: e });
    }
  }

  async close(): Promise<void> {
    this.key.fill(0);
  }
}
