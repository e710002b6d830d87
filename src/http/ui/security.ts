/**
 * The console's request guards: response headers (a strict Content-Security-Policy, no framing,
 * no caching), CSRF tokens bound to the caller (HMAC under a per-process key of the certificate
 * identity and fingerprint, or of the token login's session id) together with an Origin /
 * Sec-Fetch-Site check on every POST, a per-identity request rate (console.requestsPerMinute),
 * and the token logins (sessions) held in memory (console.sessionTtlMs, console.maxSessions).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  // same-origin, not no-referrer: under no-referrer chromium sends `Origin: null` with the console's own form POSTs.
  'Referrer-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
  Pragma: 'no-cache',
};

export class Csrf {
  private readonly key = randomBytes(32);

  /** The token for a caller (`subject`: "cert:<identity>:<fingerprint>" or "session:<id>"). */
  token(subject: string): string {
    return createHmac('sha256', this.key).update(subject, 'utf8').digest('base64url');
  }

  check(subject: string, given: string | undefined): boolean {
    if (typeof given !== 'string' || given.length === 0 || given.length > 128) return false;
    const want = Buffer.from(this.token(subject));
    const got = Buffer.from(given);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

/**
 * A POST must come from the console's own pages: Sec-Fetch-Site, when the browser sends it, is
 * same-origin; Origin, when sent, is this listener's own origin (https://<Host>). A request with
 * neither (curl, scripts) still needs the CSRF token.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return false;
  const origin = req.headers.origin;
  if (origin !== undefined) {
    const host = req.headers.host;
    if (!host || origin !== `https://${host}`) return false;
  }
  return true;
}

/** A fixed-window-per-minute token bucket per key (identity, or address before login). */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly maxKeys = 10_000,
  ) {}

  /** True when `key` may make one more request now. */
  take(key: string, now = Date.now()): boolean {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.prune(now);
      b = { tokens: this.perMinute, at: now };
      this.buckets.set(key, b);
    }
    b.tokens = Math.min(this.perMinute, b.tokens + ((now - b.at) * this.perMinute) / 60_000);
    b.at = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  private prune(now: number): void {
    for (const [k, b] of this.buckets) if (now - b.at > 60_000) this.buckets.delete(k);
    // Still full (a flood of distinct keys): drop the oldest half.
    if (this.buckets.size >= this.maxKeys) [...this.buckets.keys()].slice(0, this.maxKeys >> 1).forEach((k) => this.buckets.delete(k));
  }
}

export interface Session {
  readonly id: string;
  readonly tokenId: string;
  readonly identity: string;
  readonly expires: number;
}

export const SESSION_COOKIE = 'kms_console';

export class Sessions {
  private readonly byId = new Map<string, Session>();

  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
  ) {}

  open(tokenId: string, identity: string, tokenExpires: number, now = Date.now()): Session {
    if (this.byId.size >= this.max) {
      const oldest = this.byId.keys().next().value;
      if (oldest !== undefined) this.byId.delete(oldest);
    }
    const s: Session = { id: randomBytes(32).toString('base64url'), tokenId, identity, expires: Math.min(now + this.ttlMs, tokenExpires) };
    this.byId.set(s.id, s);
    return s;
  }

  get(id: string | undefined, now = Date.now()): Session | undefined {
    if (!id) return undefined;
    const s = this.byId.get(id);
    if (!s) return undefined;
    if (s.expires <= now) {
      this.byId.delete(id);
      return undefined;
    }
    return s;
  }

  close(id: string): void {
    this.byId.delete(id);
  }
}

export function cookieOf(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}
