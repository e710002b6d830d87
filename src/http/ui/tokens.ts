/**
 * Console bearer tokens (`kms admin token create|list|revoke`): for the web console and
 * /metrics only, never for KMIP. Kept in DATA/console-tokens.json (0600, replaced atomically);
 * only each token's SHA-256 is stored, the token itself is printed once. A token acts as the
 * identity it was made for, which must be one of access.administrators when it is used.
 *
 * Token text: `kmsc_<id>_<secret>` (id 12 hex digits, secret 43 base64url characters). The
 * server re-reads the file when it changed, so a revocation takes effect at the next request.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { folderLayout } from '../../folder/layout.js';

export interface StoredToken {
  readonly id: string;
  readonly name: string;
  /** The identity the token acts as (checked against access.administrators at each use). */
  readonly identity: string;
  /** SHA-256 (hex) of the secret part. */
  readonly sha256: string;
  readonly created: string;
  readonly expires: string;
  readonly revoked?: string;
}

export class TokenError extends Error {
  override readonly name = 'TokenError';
}

const TOKEN_RE = /^kmsc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret, 'utf8').digest();
}

export function tokensPath(dataDir: string): string {
  return folderLayout(dataDir).consoleTokens;
}

export function readTokens(dataDir: string): StoredToken[] {
  const file = tokensPath(dataDir);
  if (!existsSync(file)) return [];
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { v?: number; tokens?: StoredToken[] };
  if (parsed.v !== 1 || !Array.isArray(parsed.tokens)) throw new TokenError(`${file}: not a console token file`);
  return parsed.tokens;
}

function writeTokens(dataDir: string, tokens: readonly StoredToken[]): void {
  const file = tokensPath(dataDir);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ v: 1, tokens }, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

/** Make a token; returns the token text (shown once) and what is stored. */
export function createToken(dataDir: string, o: { identity: string; name: string; ttlMs: number; now?: number }): { token: string; stored: StoredToken } {
  const now = o.now ?? Date.now();
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const stored: StoredToken = {
    id,
    name: o.name,
    identity: o.identity,
    sha256: digest(secret).toString('hex'),
    created: new Date(now).toISOString(),
    expires: new Date(now + o.ttlMs).toISOString(),
  };
  writeTokens(dataDir, [...readTokens(dataDir), stored]);
  return { token: `kmsc_${id}_${secret}`, stored };
}

/** Revoke by id; false when there is no such token (or it was revoked already). */
export function revokeToken(dataDir: string, id: string, now = Date.now()): boolean {
  const tokens = readTokens(dataDir);
  const i = tokens.findIndex((t) => t.id === id && !t.revoked);
  if (i < 0) return false;
  tokens[i] = { ...tokens[i]!, revoked: new Date(now).toISOString() };
  writeTokens(dataDir, tokens);
  return true;
}

/** The server's view: the file re-read when its modification time or size changes. */
export class TokenVerifier {
  private cache: { key: string; tokens: Map<string, StoredToken> } | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly onError?: (e: Error) => void,
  ) {}

  private tokens(): Map<string, StoredToken> {
    const file = tokensPath(this.dataDir);
    let key = 'absent';
    try {
      const st = statSync(file);
      key = `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      // no file: no tokens
    }
    if (this.cache?.key === key) return this.cache.tokens;
    let list: StoredToken[] = [];
    try {
      if (key !== 'absent') list = readTokens(this.dataDir);
    } catch (e) {
      // A damaged file lets no token in (fail closed) until it is fixed; certificates still work.
      this.onError?.(e as Error);
    }
    const tokens = new Map(list.map((t) => [t.id, t]));
    this.cache = { key, tokens };
    return tokens;
  }

  /** The token's record when `text` is a current (unexpired, unrevoked) token, else undefined. */
  verify(text: string, now = Date.now()): StoredToken | undefined {
    const m = TOKEN_RE.exec(text.trim());
    if (!m) return undefined;
    const t = this.tokens().get(m[1]!);
    // The digest is compared in constant time even when the id is unknown.
    const want = t ? Buffer.from(t.sha256, 'hex') : Buffer.alloc(32);
    const ok = timingSafeEqual(digest(m[2]!), want.length === 32 ? want : Buffer.alloc(32));
    if (!t || !ok) return undefined;
    return this.current(t.id, now);
  }

  /** The token by id if it is still current (a session re-checks its token at each request). */
  current(id: string, now = Date.now()): StoredToken | undefined {
    const t = this.tokens().get(id);
    if (!t || t.revoked || Date.parse(t.expires) <= now) return undefined;
    return t;
  }
}
