/**
 * Verifying a restored audit log: the old server's checkpoints are MACs under a key the new
 * server does not have; a restore anchor under the new key vouches for them. Without the
 * anchor, with a forged anchor, with an anchor verified by the wrong key, with an imported
 * entry edited, or with old-key checkpoints spliced in after the anchor, verification fails
 * and names the place.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SoftwareAuditKey } from '../../src/audit/audit-key.js';
import { checkpointInput, decodeRecord, encodeRecord, sealRecord, sha256 } from '../../src/audit/record.js';
import { writeRestoreAnchor } from '../../src/audit/restore-anchor.js';
import { verifyAuditLog } from '../../src/audit/verify.js';
import { MemoryStore } from '../../src/store/memory.js';

const oldKey = SoftwareAuditKey.fromMasterKey(randomBytes(32));
const newKey = SoftwareAuditKey.fromMasterKey(randomBytes(32));
const time = new Date(0).toISOString();

/** The old server's log: 9 operations, a checkpoint after the 4th and after the 9th (positions 5 and 11). */
async function oldLog(): Promise<Buffer[]> {
  const out: Buffer[] = [];
  let link: Buffer = Buffer.alloc(0);
  const add = (body: Parameters<typeof sealRecord>[0]) => {
    const s = sealRecord(body, out.length + 1, link);
    out.push(s.bytes);
    link = s.link;
  };
  const checkpoint = async () => {
    const covers = out.length;
    const mac = Buffer.from(await oldKey.mac(checkpointInput(covers, link))).toString('hex');
    add({ kind: 'checkpoint', time, covers, head: link.toString('hex'), keyId: oldKey.id, mac, why: 'interval' });
  };
  for (let i = 0; i < 9; i++) {
    add({ kind: 'op', time, ref: `1/${i}`, op: 'Create', status: 'Success', uids: [`k${i}`] });
    if (i === 3) await checkpoint();
  }
  await checkpoint();
  return out;
}

/** A new store holding `entries` as they are (what restore does), then the anchor unless told otherwise. */
async function restored(entries: readonly Buffer[], anchor = true): Promise<MemoryStore> {
  const s = new MemoryStore();
  await s.open();
  await s.commit([], { audit: entries.map((bytes) => ({ seal: () => ({ bytes, link: sha256(bytes) }) })) });
  if (anchor) await writeRestoreAnchor(s, newKey, 'backup-1', [oldKey.id]);
  return s;
}

describe('restore anchor', () => {
  it('vouches for the imported checkpoints: the whole log verifies under the new key', async () => {
    const s = await restored(await oldLog());
    const r = await verifyAuditLog(s.audit, newKey);
    expect(r.failure).toBeUndefined();
    expect(r).toMatchObject({ ok: true, entries: 12, checkpoints: 1, sealedThrough: 11, restore: { seq: 12, covers: 11, backup: 'backup-1', importedCheckpoints: 2 } });
    const anchor = decodeRecord((await s.audit.read(12, 1))[0]!.bytes);
    expect(anchor).toMatchObject({ kind: 'restore', covers: 11, keyId: newKey.id, importedKeyIds: [oldKey.id] });
  });

  it('new entries and checkpoints after it verify too', async () => {
    const s = await restored(await oldLog());
    await s.commit([], { audit: [{ seal: (seq, prev) => sealRecord({ kind: 'op', time, ref: '2/1', op: 'Get', status: 'Success' }, seq, prev) }] });
    const head = s.audit.head();
    const mac = Buffer.from(await newKey.mac(checkpointInput(head.seq, head.link))).toString('hex');
    await s.commit([], {
      audit: [
        { seal: (seq, prev) => sealRecord({ kind: 'checkpoint', time, covers: head.seq, head: Buffer.from(head.link).toString('hex'), keyId: newKey.id, mac, why: 'shutdown' }, seq, prev) },
      ],
    });
    expect(await verifyAuditLog(s.audit, newKey)).toMatchObject({ ok: true, entries: 14, checkpoints: 2, sealedThrough: 13 });
  });

  it('without an anchor, the first old-key checkpoint is the break', async () => {
    const r = await verifyAuditLog((await restored(await oldLog(), false)).audit, newKey);
    expect(r.ok).toBe(false);
    expect(r.failure).toMatchObject({ position: 5, seq: 5 });
    expect(r.failure!.message).toMatch(`checkpoint made with audit key ${oldKey.id}, verifying with ${newKey.id}`);
  });

  it('the old key cannot vouch for the anchor: verified with it, the anchor is the break', async () => {
    const r = await verifyAuditLog((await restored(await oldLog())).audit, oldKey);
    expect(r.ok).toBe(false);
    expect(r.failure).toMatchObject({ position: 12 });
    expect(r.failure!.message).toMatch(/restore anchor made with audit key/);
  });

  it('a forged anchor MAC fails at the anchor', async () => {
    const s = await restored(await oldLog());
    const entries: Buffer[] = (await s.audit.read(1, 100)).map((e) => Buffer.from(e.bytes));
    const anchor = decodeRecord(entries[11]!);
    entries[11] = encodeRecord({ ...anchor, mac: '00'.repeat(32) } as typeof anchor);
    const r = await verifyAuditLog((await restored(entries, false)).audit, newKey);
    expect(r.failure).toMatchObject({ position: 12 });
    expect(r.failure!.message).toMatch(/restore anchor MAC does not verify/);
  });

  it('an edited imported entry breaks the chain at the entry after it, anchor or not', async () => {
    const log = await oldLog();
    const edited = [...log];
    edited[2] = encodeRecord({ ...decodeRecord(log[2]!), op: 'Destroy' } as ReturnType<typeof decodeRecord>);
    const r = await verifyAuditLog((await restored(edited)).audit, newKey);
    expect(r.ok).toBe(false);
    expect(r.failure).toMatchObject({ position: 4 });
    expect(r.failure!.message).toMatch(/hash chain broken/);
  });

  it('old-key checkpoints spliced in after the anchor are not covered by it', async () => {
    const s = await restored(await oldLog());
    const head = s.audit.head();
    const mac = Buffer.from(await oldKey.mac(checkpointInput(head.seq, head.link))).toString('hex');
    await s.commit([], {
      audit: [
        { seal: (seq, prev) => sealRecord({ kind: 'checkpoint', time, covers: head.seq, head: Buffer.from(head.link).toString('hex'), keyId: oldKey.id, mac, why: 'shutdown' }, seq, prev) },
      ],
    });
    const r = await verifyAuditLog(s.audit, newKey);
    expect(r.ok).toBe(false);
    expect(r.failure).toMatchObject({ position: 13 });
  });
});
