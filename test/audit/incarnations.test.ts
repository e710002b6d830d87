/**
 * trailIncarnations (src/audit/anchor.ts): the anchor file names each line's incarnation by
 * entry 1 or the latest restore record before it, so the restore records must be found in a
 * trail of either record format (format 1, canonical JSON; format 2, binary), and nothing else
 * taken for one (an op record whose text or bytes merely resemble one).
 */
import { describe, expect, it } from 'vitest';
import { trailIncarnations } from '../../src/audit/anchor.js';
import { sealRecord, sha256, type RecordFormat } from '../../src/audit/record.js';
import { MemoryStore } from '../../src/store/memory.js';

const time = '2026-12-06T16:00:00.000Z';
const restore = { kind: 'restore' as const, time, covers: 1, head: 'ab'.repeat(32), keyId: 'sw:new', mac: 'cd'.repeat(32), backup: 'b'.repeat(32), importedKeyIds: ['sw:old'] };
// An op whose message holds the JSON text of a restore record's kind.
const op = { kind: 'op' as const, time, ref: 'c/1', op: 'Get', status: 'Success', message: '"kind":"restore"' };

describe('trailIncarnations', () => {
  it.each<[RecordFormat]>([['binary'], ['json']])('finds entry 1 and every restore record (%s), and only those', async (format) => {
    const s = new MemoryStore();
    await s.open();
    const bodies = [op, restore, op, op, restore, op];
    await s.commit([], { audit: bodies.map((b) => ({ seal: (seq: number, prev: Uint8Array) => sealRecord(b, seq, prev, format) })) });
    const entries = await s.audit.read(1, 100);
    const found = await trailIncarnations(s.audit);
    expect(found.map((f) => f.seq)).toEqual([1, 2, 5]);
    for (const f of found) expect(f.id.equals(sha256(entries[f.seq - 1]!.bytes))).toBe(true);
    // A range: only what lies in it.
    expect((await trailIncarnations(s.audit, 3, 6)).map((f) => f.seq)).toEqual([5]);
  });
});
