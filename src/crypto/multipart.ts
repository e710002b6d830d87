/**
 * State of multi-part cryptographic operations (KMIP 1.4 §4.29 / 2.1 §6.1.17: Init Indicator,
 * Final Indicator, Correlation Value). Kept in memory only, so a restart forgets them (clients
 * then get Invalid Correlation Value and start over). Bounded by MULTIPART_LIMITS (a total count,
 * the oldest dropped first, and an idle time), and bound to the principal that opened it and to
 * the operation: another principal presenting the value is told it is unknown, as is a MAC
 * continuing an Encrypt.
 *
 * The Correlation Value is 16 random bytes: it names the state, and reveals nothing.
 */
import { randomBytes } from 'node:crypto';

export interface MultipartLimits {
  readonly maxSessions: number;
  readonly idleMs: number;
}

interface Entry<T> {
  readonly owner: string;
  readonly operation: string;
  readonly uid: string | undefined;
  readonly state: T;
  expires: number;
}

export interface Session<T> {
  readonly uid: string | undefined;
  readonly state: T;
}

export class MultipartStore<T> {
  /** Insertion-ordered; re-inserted on use, so the first entry is the least recently used. */
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    private readonly limits: MultipartLimits,
    private readonly clock: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Keep `state` for a new operation; returns its Correlation Value. */
  open(owner: string, operation: string, uid: string | undefined, state: T): Uint8Array {
    this.sweep();
    while (this.entries.size >= this.limits.maxSessions) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    const cv = new Uint8Array(randomBytes(16));
    this.entries.set(Buffer.from(cv).toString('hex'), { owner, operation, uid, state, expires: this.clock() + this.limits.idleMs });
    return cv;
  }

  /** The state of an open operation of `owner` and `operation`, else undefined. Refreshes its idle time. */
  get(owner: string, operation: string, cv: Uint8Array): Session<T> | undefined {
    const k = Buffer.from(cv).toString('hex');
    const e = this.entries.get(k);
    if (!e) return undefined;
    if (e.expires <= this.clock()) {
      this.entries.delete(k);
      return undefined;
    }
    if (e.owner !== owner || e.operation !== operation) return undefined;
    e.expires = this.clock() + this.limits.idleMs;
    this.entries.delete(k);
    this.entries.set(k, e);
    return { uid: e.uid, state: e.state };
  }

  /** Forget an operation (finished or failed). */
  close(cv: Uint8Array): void {
    this.entries.delete(Buffer.from(cv).toString('hex'));
  }

  private sweep(): void {
    const now = this.clock();
    for (const [k, e] of this.entries) if (e.expires <= now) this.entries.delete(k);
  }
}
