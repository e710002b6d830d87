/**
 * The PKCS#11 sessions of one backend: the logged-in anchor, the bounded pool, and recovery.
 *
 * Sessions
 *   - One "anchor" session is opened first and logged in (C_Login once: PKCS#11 login state is
 *     per application and token, so every later session shares it). The anchor also owns every
 *     session object (CKA_TOKEN false), so they live as long as the backend, not as long as
 *     whichever pooled session happened to create them. Anchor calls are serialised.
 *   - Operations borrow a session from a pool bounded by min(configured maxSessions, the
 *     token's ulMaxSessionCount / ulMaxRwSessionCount minus the anchor). A session on which a
 *     call failed is closed, never reused (a failed C_*Init/C_* pair can leave an operation
 *     active on it).
 *
 * Recovery
 *   A call that fails with CKR_SESSION_HANDLE_INVALID, CKR_SESSION_CLOSED or
 *   CKR_USER_NOT_LOGGED_IN drops every idle session, re-opens (and logs in) the anchor if it
 *   is gone, and is retried once. CKR_CRYPTOKI_NOT_INITIALIZED re-initialises the module;
 *   CKR_DEVICE_REMOVED / CKR_TOKEN_NOT_PRESENT finalise and re-initialise it and look the
 *   token up again by label. Key handles are cached per "generation" (here) and looked up again
 *   by CKA_ID after a recovery (pkcs11-backend.ts), so a KeyRef stays valid; session keys do not
 *   survive the loss of the anchor (KEY_NOT_FOUND). A second failure, or a failed recovery, is
 *   SESSION_LOST. Only one retry: a call is never repeated after it may have taken effect,
 *   because the recoverable codes all mean the call was refused before it ran.
 *
 * Objects another process made (a cluster's nodes on one token)
 *   A token may keep a per-process index of its objects that another process's new objects do
 *   not reach at once: SoftHSM2 (file store) re-reads its token folder only when the token's
 *   generation counter moved since this process last looked, and a write of this process
 *   takes the counter past another process's change without re-reading, so that change is
 *   missed until the next one. A key lookup that finds nothing (KEY_NOT_FOUND, raised before
 *   the call ran) therefore re-reads the token once (`refreshObjects`): new calls wait, the
 *   calls in flight finish, every session is closed and the library finalised and initialised
 *   again (a fresh index), the anchor logged in again; then the call is retried once. At most
 *   one re-read per `refreshIntervalMs` (a key that is really gone does not make every request
 *   re-read the token), and none while another backend of this process shares the library.
 */
import { HsmError, type HsmErrorCode } from '../key-backend.js';
import { acquireModule, ckrCode, ckrName, moduleUsers, pkcs11js, reinitialize, releaseModule, type Pkcs11 } from './module.js';

export interface SessionPoolOptions {
  /** Path of the PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so). */
  readonly module: string;
  /** The token, by label (preferred) or by slot id. */
  readonly tokenLabel?: string;
  readonly slot?: number;
  /** The user PIN (see resolvePin for where it comes from). */
  readonly pin: string;
  /** Cap on pooled sessions (default 8), further bounded by the token. */
  readonly maxSessions?: number;
  /** Least time between two re-reads of the token's objects after a lookup miss (default 1000; 0: never). */
  readonly refreshIntervalMs?: number;
  /** Told about recoveries and other events worth a log line. */
  readonly log?: { warn(obj: object, msg: string): void };
}

export const DEFAULT_REFRESH_INTERVAL_MS = 1000;

const SESSION_CODES = new Set(['CKR_SESSION_HANDLE_INVALID', 'CKR_SESSION_CLOSED', 'CKR_USER_NOT_LOGGED_IN']);
const MODULE_CODES = new Set(['CKR_CRYPTOKI_NOT_INITIALIZED', 'CKR_DEVICE_REMOVED', 'CKR_TOKEN_NOT_PRESENT']);
const CK_UNAVAILABLE = 0xffffffff;
/** Session states (PKCS#11 §5.7; pkcs11js does not export them). */
const CKS_RO_USER_FUNCTIONS = 1;
const CKS_RW_USER_FUNCTIONS = 3;
const DEFAULT_MAX_SESSIONS = 8;

interface Session {
  readonly h: Buffer;
  readonly gen: number;
}

export class SessionPool {
  private readonly P = pkcs11js();
  readonly p11: Pkcs11;
  private slotHandle: Buffer;
  private anchor: Buffer | undefined;
  private anchorChain: Promise<unknown> = Promise.resolve();
  private readonly idle: Session[] = [];
  private count = 0;
  private readonly waiters: Array<() => void> = [];
  private gen = 0;
  private readonly handles = new Map<string, { gen: number; h: Buffer }>();
  private closed = false;
  /** The pool's bound: min(maxSessions, what the token allows minus the anchor). */
  readonly cap: number;
  /** How many recoveries have run (for tests and metrics). */
  recoveries = 0;
  /** How many times the token's objects were re-read after a lookup miss (for tests and metrics). */
  refreshes = 0;
  private refreshing: Promise<boolean> | undefined;
  private lastRefresh = Number.NEGATIVE_INFINITY;
  private readonly drained: Array<() => void> = [];

  /** Load the module and find the token; `login` opens the anchor. On failure the module is released. */
  constructor(private readonly opts: SessionPoolOptions) {
    if (opts.tokenLabel === undefined && opts.slot === undefined) throw new HsmError('BAD_ARGUMENT', 'give the token label or the slot');
    this.p11 = acquireModule(opts.module);
    try {
      this.slotHandle = this.findSlot();
      const info = this.p11.C_GetTokenInfo(this.slotHandle);
      const limit = (n: number) => (n === 0 || n >= CK_UNAVAILABLE ? Number.POSITIVE_INFINITY : n);
      const tokenMax = Math.min(limit(info.maxSessionCount), limit(info.maxRwSessionCount));
      this.cap = Math.max(1, Math.min(opts.maxSessions ?? DEFAULT_MAX_SESSIONS, tokenMax - 1));
    } catch (e) {
      releaseModule(opts.module);
      throw e;
    }
  }

  /** The token's slot (it may change after a module-level recovery). */
  get slot(): Buffer {
    return this.slotHandle;
  }

  /** Recoveries so far: cached key handles belong to one generation. */
  get generation(): number {
    return this.gen;
  }

  /** Open and log in the anchor session. */
  login(): void {
    this.openAnchor();
  }

  /** Give the module back without closing sessions (a constructor that failed after login()). */
  abandon(): void {
    releaseModule(this.opts.module);
  }

  /** Sessions open now: the anchor plus the pool. */
  get sessionsOpen(): number {
    return this.count + (this.anchor ? 1 : 0);
  }

  assertOpen(): void {
    if (this.closed) throw new HsmError('CLOSED', 'the key backend is closed');
  }

  // --- key handle cache (per generation) ---------------------------------------------------

  cachedHandle(id: string): Buffer | undefined {
    const c = this.handles.get(id);
    return c && c.gen === this.gen ? c.h : undefined;
  }

  cacheHandle(id: string, h: Buffer): void {
    this.handles.set(id, { gen: this.gen, h });
  }

  forgetHandle(id: string): void {
    this.handles.delete(id);
  }

  // --- running calls -----------------------------------------------------------------------

  /** Run fn on a pooled session; recover and retry once after a session or module failure. */
  async withSession<T>(fn: string, body: (s: Buffer) => T | Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const gen = this.gen;
      let s: Session | undefined;
      try {
        s = await this.acquire();
        const out = await body(s.h);
        this.release(s, false);
        return out;
      } catch (e) {
        if (s) this.release(s, true);
        if (attempt === 0 && e instanceof HsmError && e.code === 'KEY_NOT_FOUND' && (await this.refreshObjects())) continue;
        if (!this.retryAfter(e, gen, attempt, fn)) throw toHsmError(e, fn);
      }
    }
  }

  /**
   * Re-read the token's objects (see the head comment): false when not done (refreshes off,
   * the last one too recent, the library shared with another backend of this process, or the
   * pool closed). Concurrent callers share one re-read.
   */
  refreshObjects(): Promise<boolean> {
    if (this.refreshing) return this.refreshing;
    const interval = this.opts.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
    if (this.closed || interval === 0 || Date.now() - this.lastRefresh < interval || moduleUsers(this.opts.module) > 1) return Promise.resolve(false);
    this.lastRefresh = Date.now();
    const run = async (): Promise<boolean> => {
      // The calls in flight finish first (finalising under them would pull the library from under their threads).
      while (this.count - this.idle.length > 0) await new Promise<void>((resolve) => this.drained.push(resolve));
      await this.anchorChain.catch(() => undefined);
      if (this.closed) return false;
      this.gen++;
      this.refreshes++;
      this.handles.clear();
      for (const s of this.idle.splice(0)) {
        this.closeQuietly(s.h);
        this.count--;
      }
      if (this.anchor) this.closeQuietly(this.anchor);
      this.anchor = undefined;
      reinitialize(this.p11, true);
      this.slotHandle = this.findSlot();
      this.openAnchor();
      this.opts.log?.warn({ generation: this.gen }, 'PKCS#11 key lookup missed: the token objects were re-read (another process may have made the key); retrying the call once');
      return true;
    };
    this.refreshing = run()
      .catch((e: unknown) => {
        this.opts.log?.warn({ err: e }, 'PKCS#11 token objects could not be re-read');
        return false;
      })
      .finally(() => {
        this.refreshing = undefined;
        for (const w of this.waiters.splice(0)) w();
      });
    return this.refreshing;
  }

  /** Objects: token objects on a pooled session; session objects on the anchor (serialised), so they live as long as the backend. */
  async onObjectSession(token: boolean, fn: string, body: (s: Buffer) => Promise<void>): Promise<void> {
    if (token) return this.withSession(fn, body);
    const run = async () => {
      for (let attempt = 0; ; attempt++) {
        const gen = this.gen;
        try {
          this.assertOpen();
          if (!this.anchor) this.openAnchor();
          await body(this.anchor!);
          return;
        } catch (e) {
          if (!this.retryAfter(e, gen, attempt, fn)) throw toHsmError(e, fn);
        }
      }
    };
    const p = this.anchorChain.then(run, run);
    this.anchorChain = p.catch(() => undefined);
    return p;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w();
    for (const d of this.drained.splice(0)) d();
    await this.anchorChain.catch(() => undefined);
    for (const s of this.idle.splice(0)) this.closeQuietly(s.h);
    if (this.anchor) {
      // No C_Logout: login state is per application, so it would log out another backend on
      // the same module too. The token logs out by itself when the application's last session closes.
      this.closeQuietly(this.anchor);
      this.anchor = undefined;
    }
    this.handles.clear();
    releaseModule(this.opts.module);
  }

  // --- sessions ----------------------------------------------------------------------------

  private findSlot(): Buffer {
    const slots = this.p11.C_GetSlotList(true);
    for (const s of slots) {
      if (this.opts.tokenLabel !== undefined) {
        if (this.p11.C_GetTokenInfo(s).label.trim() === this.opts.tokenLabel) return s;
      } else if (slotNumber(s) === this.opts.slot) {
        return s;
      }
    }
    const what = this.opts.tokenLabel !== undefined ? `token labelled "${this.opts.tokenLabel}"` : `slot ${this.opts.slot}`;
    throw new HsmError('MODULE_UNAVAILABLE', `no ${what} in ${this.opts.module}`);
  }

  private openSession(): Buffer {
    const P = this.P;
    return this.p11.C_OpenSession(this.slotHandle, P.CKF_SERIAL_SESSION | P.CKF_RW_SESSION);
  }

  private openAnchor(): void {
    const P = this.P;
    const h = this.openSession();
    try {
      this.p11.C_Login(h, P.CKU_USER, this.opts.pin);
    } catch (e) {
      if (ckrName(e) !== 'CKR_USER_ALREADY_LOGGED_IN') {
        this.closeQuietly(h);
        throw toHsmError(e, 'C_Login');
      }
    }
    this.anchor = h;
  }

  private closeQuietly(h: Buffer): void {
    try {
      this.p11.C_CloseSession(h);
    } catch {
      // already gone
    }
  }

  private async acquire(): Promise<Session> {
    for (;;) {
      this.assertOpen();
      if (this.refreshing) {
        await this.refreshing;
        continue;
      }
      if (!this.anchor) this.openAnchor();
      const s = this.idle.pop();
      if (s) {
        if (s.gen === this.gen) return s;
        this.closeQuietly(s.h);
        this.count--;
        continue;
      }
      if (this.count < this.cap) {
        this.count++;
        try {
          return { h: this.openSession(), gen: this.gen };
        } catch (e) {
          this.count--;
          throw e;
        }
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  private release(s: Session, discard: boolean): void {
    if (discard || s.gen !== this.gen || this.closed) {
      this.closeQuietly(s.h);
      this.count--;
    } else {
      this.idle.push(s);
    }
    if (this.count - this.idle.length === 0) for (const d of this.drained.splice(0)) d();
    this.waiters.shift()?.();
  }

  /** true when the error was a lost session/module, recovery worked, and one retry is left. */
  private retryAfter(e: unknown, gen: number, attempt: number, fn: string): boolean {
    const code = ckrName(e);
    if (code === undefined || (!SESSION_CODES.has(code) && !MODULE_CODES.has(code))) return false;
    if (attempt > 0) throw new HsmError('SESSION_LOST', `${fn} failed with ${code} again after recovering the session`, { cause: e, ckr: ckrCode(e), fn });
    try {
      this.recover(code, gen);
    } catch (re) {
      throw new HsmError('SESSION_LOST', `${fn} failed with ${code} and the session could not be recovered`, { cause: re, ckr: ckrCode(e), fn });
    }
    return true;
  }

  /** Synchronous, so it runs whole before any other call starts; a no-op if another call already recovered this generation. */
  private recover(code: string, gen: number): void {
    if (this.closed) throw new HsmError('CLOSED', 'the key backend is closed');
    if (gen !== this.gen) return;
    this.gen++;
    this.recoveries++;
    this.handles.clear();
    for (const s of this.idle.splice(0)) {
      this.closeQuietly(s.h);
      this.count--;
    }
    const moduleLevel = MODULE_CODES.has(code);
    if (moduleLevel) {
      this.anchor = undefined;
      reinitialize(this.p11, code !== 'CKR_CRYPTOKI_NOT_INITIALIZED');
      this.slotHandle = this.findSlot();
    } else if (this.anchor && !this.alive(this.anchor)) {
      this.closeQuietly(this.anchor);
      this.anchor = undefined;
    }
    if (!this.anchor) this.openAnchor();
    this.opts.log?.warn({ code, generation: this.gen, moduleReinitialised: moduleLevel }, 'PKCS#11 session recovered; retrying the call once');
  }

  private alive(h: Buffer): boolean {
    try {
      const st = this.p11.C_GetSessionInfo(h).state;
      return st === CKS_RO_USER_FUNCTIONS || st === CKS_RW_USER_FUNCTIONS;
    } catch {
      return false;
    }
  }
}

function slotNumber(s: Buffer): number {
  return s.length >= 8 ? Number(s.readBigUInt64LE(0)) : s.readUInt32LE(0);
}

/** PKCS#11 failures become coded HsmErrors; HsmErrors pass through. */
export function toHsmError(e: unknown, fn: string): HsmError {
  if (e instanceof HsmError) return e;
  const name = ckrName(e);
  if (name) return new HsmError(name as HsmErrorCode, `${fn}: ${name}`, { cause: e, ckr: ckrCode(e), fn });
  if (e instanceof TypeError) return new HsmError('BAD_ARGUMENT', `${fn}: ${e.message}`, { cause: e, fn });
  return new HsmError('CKR_GENERAL_ERROR', `${fn}: ${(e as Error)?.message ?? String(e)}`, { cause: e, fn });
}
