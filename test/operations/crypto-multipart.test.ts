/**
 * The multi-part state store (src/crypto/multipart.ts) on its own, with a fake clock: bound to
 * owner and operation, forgotten after the idle time, bounded by a count (oldest dropped first).
 */
import { describe, expect, it } from 'vitest';
import { MultipartStore } from '../../src/crypto/multipart.js';

describe('MultipartStore', () => {
  it('returns state only to the owner and operation that opened it, until closed', () => {
    const s = new MultipartStore<string>({ maxSessions: 4, idleMs: 1000 }, () => 0);
    const cv = s.open('alice', 'Encrypt', 'uid-1', 'state');
    expect(cv.length).toBe(16);
    expect(s.get('bob', 'Encrypt', cv)).toBeUndefined();
    expect(s.get('alice', 'MAC', cv)).toBeUndefined();
    expect(s.get('alice', 'Encrypt', cv)).toEqual({ uid: 'uid-1', state: 'state' });
    s.close(cv);
    expect(s.get('alice', 'Encrypt', cv)).toBeUndefined();
  });

  it('forgets an operation idle longer than idleMs; use refreshes it', () => {
    let now = 0;
    const s = new MultipartStore<number>({ maxSessions: 4, idleMs: 1000 }, () => now);
    const cv = s.open('a', 'Hash', undefined, 1);
    now = 900;
    expect(s.get('a', 'Hash', cv)).toBeDefined();
    now = 1800;
    expect(s.get('a', 'Hash', cv)).toBeDefined();
    now = 2801;
    expect(s.get('a', 'Hash', cv)).toBeUndefined();
    expect(s.size).toBe(0);
  });

  it('keeps at most maxSessions, dropping the least recently used', () => {
    const s = new MultipartStore<number>({ maxSessions: 2, idleMs: 1000 }, () => 0);
    const a = s.open('p', 'MAC', 'u', 1);
    const b = s.open('p', 'MAC', 'u', 2);
    expect(s.get('p', 'MAC', a)?.state).toBe(1); // a is now the most recently used
    const c = s.open('p', 'MAC', 'u', 3);
    expect(s.size).toBe(2);
    expect(s.get('p', 'MAC', b)).toBeUndefined();
    expect(s.get('p', 'MAC', a)?.state).toBe(1);
    expect(s.get('p', 'MAC', c)?.state).toBe(3);
  });
});
