/**
 * The multi-part state store (src/crypto/multipart.ts) on its own, with a fake clock: bound to
 * owner and operation, forgotten after the idle time, bounded by counts and bytes per identity
 * and in total (a new operation past a budget is refused; nobody's is evicted).
 */
import { describe, expect, it } from 'vitest';
import { MultipartStore, type MultipartLimits } from '../../src/crypto/multipart.js';
import { KmipError } from '../../src/kmip/errors.js';
import { ResultReason } from '../../src/kmip/generated/enums.gen.js';

const limits = (l: Partial<MultipartLimits> & { maxSessions?: number }): MultipartLimits => ({
  maxOperations: l.maxSessions ?? l.maxOperations ?? 1024,
  maxPerIdentity: l.maxPerIdentity ?? 1024,
  maxBytes: l.maxBytes ?? 1 << 30,
  maxBytesPerIdentity: l.maxBytesPerIdentity ?? 1 << 30,
  idleMs: l.idleMs ?? 1000,
});

function refusedWith(f: () => unknown, setting: string): void {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(KmipError);
    expect((e as KmipError).reason).toBe(ResultReason.ServerLimitExceeded);
    expect((e as KmipError).message).toContain(`limits.${setting}`);
    return;
  }
  throw new Error(`not refused (expected limits.${setting})`);
}

describe('MultipartStore', () => {
  it('returns state only to the owner and operation that opened it, until closed', () => {
    const s = new MultipartStore<string>(limits({ maxSessions: 4 }), () => 0);
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
    const s = new MultipartStore<number>(limits({ maxSessions: 4 }), () => now);
    const cv = s.open('a', 'Hash', undefined, 1);
    now = 900;
    expect(s.get('a', 'Hash', cv)).toBeDefined();
    now = 1800;
    expect(s.get('a', 'Hash', cv)).toBeDefined();
    now = 2801;
    expect(s.get('a', 'Hash', cv)).toBeUndefined();
    expect(s.size).toBe(0);
  });

  it('maxOperations: past the total count a new operation is refused; the open ones are all kept', () => {
    const s = new MultipartStore<number>(limits({ maxOperations: 2 }), () => 0);
    const a = s.open('p', 'MAC', 'u', 1);
    const b = s.open('q', 'MAC', 'u', 2);
    refusedWith(() => s.open('r', 'MAC', 'u', 3), 'maxMultipartOperations');
    expect(s.get('p', 'MAC', a)?.state).toBe(1);
    expect(s.get('q', 'MAC', b)?.state).toBe(2);
    s.close(a);
    expect(s.open('r', 'MAC', 'u', 3)).toHaveLength(16);
  });

  it("maxPerIdentity: one identity's operations never evict another's", () => {
    const s = new MultipartStore<number>(limits({ maxPerIdentity: 2 }), () => 0);
    const victim = s.open('victim', 'Sign', 'u', 0);
    s.open('greedy', 'Sign', 'u', 1);
    s.open('greedy', 'Sign', 'u', 2);
    refusedWith(() => s.open('greedy', 'Sign', 'u', 3), 'maxMultipartPerIdentity');
    expect(s.get('victim', 'Sign', victim)?.state).toBe(0);
    expect(s.open('victim', 'Sign', 'u', 4)).toHaveLength(16);
    expect(s.count('greedy')).toBe(2);
  });

  it('maxBytesPerIdentity and maxBytes: held bytes are counted per identity and in total; the part that passes one ends its operation', () => {
    const s = new MultipartStore<number>(limits({ maxBytesPerIdentity: 100, maxBytes: 150 }), () => 0);
    const a = s.open('a', 'Encrypt', 'u', 1, 60);
    s.hold(a, 90);
    expect(s.heldBytes('a')).toBe(90);
    refusedWith(() => s.hold(a, 101), 'maxMultipartBytesPerIdentity');
    expect(s.get('a', 'Encrypt', a)).toBeUndefined(); // closed, its data dropped
    expect(s.heldBytes('a')).toBe(0);
    const b = s.open('b', 'Encrypt', 'u', 2, 100);
    refusedWith(() => s.open('c', 'Encrypt', 'u', 3, 60), 'maxMultipartBytes');
    const c = s.open('c', 'Encrypt', 'u', 3, 50);
    expect(s.heldBytes()).toBe(150);
    s.close(b);
    s.hold(c, 100);
    expect(s.heldBytes()).toBe(100);
  });

  it('an idle operation frees its count and bytes', () => {
    let now = 0;
    const s = new MultipartStore<number>(limits({ maxPerIdentity: 1, maxBytesPerIdentity: 10, idleMs: 1000 }), () => now);
    s.open('a', 'Hash', undefined, 1, 10);
    refusedWith(() => s.open('a', 'Hash', undefined, 2), 'maxMultipartPerIdentity');
    now = 1001;
    expect(s.open('a', 'Hash', undefined, 2, 10)).toHaveLength(16);
    expect(s.heldBytes('a')).toBe(10);
  });
});
