/**
 * State of multi-part cryptographic operations (KMIP 1.4 §4.29 / 2.1 §6.1.17: Init Indicator,
 * Final Indicator, Correlation Value). Kept in memory only, so a restart forgets them (clients
 * then get Invalid Correlation Value and start over). Bound to the principal that opened it and
 * to the operation: another principal presenting the value is told it is unknown, as is a MAC
 * continuing an Encrypt.
 *
 * Budgets (policy/budgets.ts, config `limits`): a count of open operations and the bytes of data
 * they hold (`hold`: what a mode collects until its end), per identity and in total. A new
 * operation, or a part, that would pass one is refused with Server Limit Exceeded (the part's
 * operation is then closed and its data dropped); one identity never evicts another's
 * operations. An operation idle longer than `idleMs` is forgotten.
 *
 * The Correlation Value is 16 random bytes: it names the state, and reveals nothing.
 */
import { randomBytes } from 'node:crypto';
import { budgetExceeded, exceeds } from '../policy/budgets.js';

export interface MultipartLimits {
  /** Open operations, all identities together. */
  readonly maxOperations: number;
  /** Open operations of one identity. */
  readonly maxPerIdentity: number;
  /** Bytes held, all identities together. */
  readonly maxBytes: number;
  /** Bytes held by one identity's operations. */
  readonly maxBytesPerIdentity: number;
  readonly idleMs: number;
}

interface Entry<T> {
  readonly owner: string;
  readonly operation: string;
  readonly uid: string | undefined;
  readonly state: T;
  expires: number;
  bytes: number;
}

export interface Session<T> {
  readonly uid: string | undefined;
  readonly state: T;
}

interface Usage {
  count: number;
  bytes: number;
}

export class MultipartStore<T> {
  /** Insertion-ordered; re-inserted on use, so the first entry is the least recently used. */
  private readonly entries = new Map<string, Entry<T>>();
  private readonly usage = new Map<string, Usage>();
  private totalBytes = 0;

  constructor(
    private readonly limits: MultipartLimits,
    private readonly clock: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Bytes held by open operations: of `owner`, or of everyone. */
  heldBytes(owner?: string): number {
    return owner === undefined ? this.totalBytes : (this.usage.get(owner)?.bytes ?? 0);
  }

  /** Open operations: of `owner`, or of everyone. */
  count(owner?: string): number {
    return owner === undefined ? this.entries.size : (this.usage.get(owner)?.count ?? 0);
  }

  /**
   * Keep `state` for a new operation holding `bytes` of data; returns its Correlation Value.
   * Throws KmipError Server Limit Exceeded when a budget does not allow it.
   */
  open(owner: string, operation: string, uid: string | undefined, state: T, bytes = 0): Uint8Array {
    this.sweep();
    const { limits } = this;
    if (exceeds(this.entries.size + 1, limits.maxOperations)) throw budgetExceeded('maxMultipartOperations', limits.maxOperations, 'too many open multi-part operations on this server');
    if (exceeds(this.count(owner) + 1, limits.maxPerIdentity)) throw budgetExceeded('maxMultipartPerIdentity', limits.maxPerIdentity, 'too many open multi-part operations for this client');
    this.checkBytes(owner, bytes);
    const cv = new Uint8Array(randomBytes(16));
    this.entries.set(key(cv), { owner, operation, uid, state, expires: this.clock() + limits.idleMs, bytes });
    const u = this.usage.get(owner) ?? { count: 0, bytes: 0 };
    u.count++;
    u.bytes += bytes;
    this.usage.set(owner, u);
    this.totalBytes += bytes;
    return cv;
  }

  /** The state of an open operation of `owner` and `operation`, else undefined. Refreshes its idle time. */
  get(owner: string, operation: string, cv: Uint8Array): Session<T> | undefined {
    const k = key(cv);
    const e = this.entries.get(k);
    if (!e) return undefined;
    if (e.expires <= this.clock()) {
      this.remove(k, e);
      return undefined;
    }
    if (e.owner !== owner || e.operation !== operation) return undefined;
    e.expires = this.clock() + this.limits.idleMs;
    this.entries.delete(k);
    this.entries.set(k, e);
    return { uid: e.uid, state: e.state };
  }

  /**
   * The open operation `cv` now holds `bytes` of data. Past a byte budget the operation is
   * closed (its state dropped) and KmipError Server Limit Exceeded thrown.
   */
  hold(cv: Uint8Array, bytes: number): void {
    const k = key(cv);
    const e = this.entries.get(k);
    if (!e || bytes === e.bytes) return;
    try {
      if (bytes > e.bytes) this.checkBytes(e.owner, bytes - e.bytes);
    } catch (err) {
      this.remove(k, e);
      throw err;
    }
    const u = this.usage.get(e.owner);
    if (u) u.bytes += bytes - e.bytes;
    this.totalBytes += bytes - e.bytes;
    e.bytes = bytes;
  }

  /** Forget an operation (finished or failed). */
  close(cv: Uint8Array): void {
    const k = key(cv);
    const e = this.entries.get(k);
    if (e) this.remove(k, e);
  }

  private checkBytes(owner: string, more: number): void {
    if (more <= 0) return;
    const { limits } = this;
    if (exceeds(this.heldBytes(owner) + more, limits.maxBytesPerIdentity)) {
      throw budgetExceeded('maxMultipartBytesPerIdentity', limits.maxBytesPerIdentity, "the data held by this client's multi-part operations would pass its byte limit");
    }
    if (exceeds(this.totalBytes + more, limits.maxBytes)) {
      throw budgetExceeded('maxMultipartBytes', limits.maxBytes, 'the data held by multi-part operations would pass the server-wide byte limit');
    }
  }

  private remove(k: string, e: Entry<T>): void {
    this.entries.delete(k);
    const u = this.usage.get(e.owner);
    if (u) {
      u.count--;
      u.bytes -= e.bytes;
      if (u.count <= 0) this.usage.delete(e.owner);
    }
    this.totalBytes -= e.bytes;
  }

  private sweep(): void {
    const now = this.clock();
    for (const [k, e] of this.entries) if (e.expires <= now) this.remove(k, e);
  }
}

function key(cv: Uint8Array): string {
  return Buffer.from(cv).toString('hex');
}
