/**
 * A bounded in-memory cache of opened (unwrapped) object bodies in front of a KeyProtector,
 * so a hot key is not sent through the HSM on every request.
 *
 * - Bounded: at most `maxEntries` bodies and `maxBytes` of plaintext; least recently used
 *   first out. Entries expire `ttlMs` after they were opened. Evicted plaintext is zeroed.
 * - Never stale: an entry is found by the uid, the KEK id and a SHA-256 of the sealed bytes,
 *   and every write seals afresh (a new IV), so a changed, rewrapped or tampered record
 *   misses the cache and goes to the protector, which checks it.
 * - `forget(uid)` drops an object's entry at once (destroy, delete, any write).
 * - Callers get their own copy, which they may zero.
 */
import { createHash } from 'node:crypto';
import type { KeyProtector } from './key-protector.js';

export interface KeyCacheConfig {
  /** Bodies kept (0 disables the cache). Default 10,000. */
  readonly maxEntries?: number;
  /** Plaintext bytes kept. Default 16 MiB. */
  readonly maxBytes?: number;
  /** Lifetime of an entry in milliseconds. Default 300,000 (5 minutes). */
  readonly ttlMs?: number;
}

export const DEFAULT_KEY_CACHE: Required<KeyCacheConfig> = { maxEntries: 10_000, maxBytes: 16 * 1024 * 1024, ttlMs: 300_000 };

interface Entry {
  readonly digest: Buffer;
  readonly plain: Buffer;
  readonly expires: number;
}

export interface KeyCacheStats {
  readonly entries: number;
  readonly bytes: number;
  readonly hits: number;
  readonly misses: number;
}

export class CachingProtector implements KeyProtector {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private readonly limits: Required<KeyCacheConfig>;

  constructor(
    readonly inner: KeyProtector,
    config: KeyCacheConfig = {},
    private readonly clock: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULT_KEY_CACHE, ...config };
    const { rotate, destroyKek, keks } = inner;
    if (rotate) this.rotate = (label, id) => rotate.call(inner, label, id);
    if (destroyKek) {
      this.destroyKek = (kekId) => {
        for (const uid of [...this.entries.keys()]) this.drop(uid); // nothing opened under it may outlive it
        return destroyKek.call(inner, kekId);
      };
    }
    if (keks) this.keks = () => keks.call(inner);
  }

  get kekId(): string {
    return this.inner.kekId;
  }

  get description(): string {
    return this.inner.description;
  }

  seal(uid: string, plaintext: Uint8Array): Promise<Uint8Array> {
    return this.inner.seal(uid, plaintext);
  }

  async open(uid: string, sealed: Uint8Array, kekId: string): Promise<Uint8Array> {
    if (this.limits.maxEntries <= 0) return this.inner.open(uid, sealed, kekId);
    const digest = createHash('sha256').update(kekId).update('\0').update(sealed).digest();
    const e = this.entries.get(uid);
    if (e && e.expires > this.clock() && e.digest.equals(digest)) {
      this.entries.delete(uid); // most recently used goes last
      this.entries.set(uid, e);
      this.hits++;
      return Buffer.from(e.plain);
    }
    this.misses++;
    const plain = await this.inner.open(uid, sealed, kekId);
    if (plain.length <= this.limits.maxBytes) {
      this.drop(uid);
      const copy = Buffer.from(plain);
      this.entries.set(uid, { digest, plain: copy, expires: this.clock() + this.limits.ttlMs });
      this.bytes += copy.length;
      this.evict();
    }
    return plain;
  }

  /** Drop an object's cached body (its record changed or is gone). */
  forget(uid: string): void {
    this.drop(uid);
  }

  /** Drop every cached body (another node's changes are not known one by one). */
  forgetAll(): void {
    for (const uid of [...this.entries.keys()]) this.drop(uid);
  }

  stats(): KeyCacheStats {
    return { entries: this.entries.size, bytes: this.bytes, hits: this.hits, misses: this.misses };
  }

  async close(): Promise<void> {
    for (const uid of [...this.entries.keys()]) this.drop(uid);
    await this.inner.close();
  }

  /** Present when the inner protector rotates (see rotation.ts). */
  readonly rotate?: (label: string, id?: string) => Promise<{ previous: string; current: string }>;
  readonly destroyKek?: (kekId: string) => Promise<void>;
  readonly keks?: () => Promise<string[]>;

  private drop(uid: string): void {
    const e = this.entries.get(uid);
    if (!e) return;
    this.entries.delete(uid);
    this.bytes -= e.plain.length;
    e.plain.fill(0);
  }

  private evict(): void {
    const now = this.clock();
    for (const [uid, e] of this.entries) {
      if (this.entries.size <= this.limits.maxEntries && this.bytes <= this.limits.maxBytes && e.expires > now) break;
      this.drop(uid);
    }
  }
}
