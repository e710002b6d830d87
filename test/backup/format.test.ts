/**
 * The backup file format in process (no server): a backup of a memory store with sealed
 * bodies round-trips through scanBackup; with 512-byte chunks the file has dozens of
 * chunks, and a flipped bit in the header, in any chunk's length, ciphertext or tag (the
 * first, a middle and the last chunk, the final tag, and a sample of every position),
 * truncation at every chunk boundary and elsewhere, appended bytes, dropped, duplicated or
 * swapped chunks are all refused. Recovery: RSA-OAEP and ECIES recipients open it, a
 * stranger key does not, M of N shares do and M-1 do not.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sealRecord } from '../../src/audit/record.js';
import { scanBackup, writeBackup, type Frame } from '../../src/backup/content.js';
import { BackupError } from '../../src/backup/errors.js';
import { BackupFile } from '../../src/backup/format.js';
import { makeSharedRecipient, privateKeyFromShares, recipientFromPem, unwrapFileKey, type RecoveryConfig } from '../../src/backup/recovery.js';
import { verifyBackupFile } from '../../src/backup/restore.js';
import { SoftwareProtector } from '../../src/hsm/software/software-protector.js';
import { ObjectType, State } from '../../src/kmip/generated/enums.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { MemoryStore } from '../../src/store/memory.js';
import { t } from '../../src/ttlv/index.js';

const dir = mkdtempSync(join(tmpdir(), 'kms-backup-format-'));
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const shared = makeSharedRecipient(3, 5);
const pem = (k: { export(o: object): string | Buffer }) => k.export({ type: 'spki', format: 'pem' });
const recovery: RecoveryConfig = { format: 1, recipients: [recipientFromPem(pem(rsa.publicKey)), recipientFromPem(pem(ec.publicKey)), shared.recipient] };
const file = join(dir, 'b.kbk');
const bodies = new Map<string, Buffer>();
let good: Buffer;
/** Offsets of each chunk (its length field) and the end of the header. */
let chunks: { start: number; end: number }[];
let bodyStart: number;

async function refused(bytes: Buffer, codes: readonly string[] = ['TAMPERED']): Promise<string> {
  const p = join(dir, `t-${randomBytes(4).toString('hex')}.kbk`);
  writeFileSync(p, bytes);
  try {
    await verifyBackupFile(p, rsa.privateKey);
  } catch (e) {
    expect(e).toBeInstanceOf(BackupError);
    expect(codes).toContain((e as BackupError).code);
    return (e as BackupError).message;
  } finally {
    rmSync(p);
  }
  throw new Error('accepted a damaged backup');
}

beforeAll(async () => {
  const { protector } = SoftwareProtector.openOrCreate(join(dir, 'master.key'));
  const store = new MemoryStore();
  await store.open();
  for (let i = 0; i < 40; i++) {
    const uid = `obj-${String(i).padStart(3, '0')}`;
    const body = randomBytes(40 + i * 3);
    bodies.set(uid, body);
    const record = {
      v: 1 as const,
      uid,
      objectType: ObjectType.SymmetricKey,
      owner: i % 2 ? 'alice' : 'bob',
      state: i % 3 ? State.Active : State.PreActive,
      attributes: new Map([['Name', [t.struct(Tag.Name, [t.text(Tag.NameValue, `n${i}`), t.enum(Tag.NameType, 1)])]]]),
      revision: 0,
      ...(i === 7 ? {} : { sealedBody: await protector.seal(uid, body), kekId: protector.kekId }),
    };
    await store.commit([{ type: 'put', record, expectedRevision: 0 }], {
      audit: [{ seal: (seq, prev) => sealRecord({ kind: 'op', time: new Date(0).toISOString(), ref: `c/${i}`, op: 'Create', status: 'Success', uids: [uid] }, seq, prev) }],
    });
  }
  // The client registry travels (content.ts BACKED_UP_META); a lease, one store's business, does not.
  const meta = (key: string, value: string) => ({ type: 'meta-put' as const, key, value: Buffer.from(value), expectedRevision: 0 });
  await store.commit([meta('clients/crl', '{"number":3}'), meta('clients/cert/ab12', '{"name":"array-1"}'), meta('lease/rotation', '{"holder":"n1"}')]);
  const snapshot = await store.snapshot();
  const parts: Buffer[] = [];
  await writeBackup({ snapshot, protector, recovery, chunkSize: 512, files: [{ name: 'ca.pem', bytes: Buffer.from('CA') }] }, async (b) => {
    parts.push(b);
  });
  good = Buffer.concat(parts);
  writeFileSync(file, good);
  bodyStart = 16 + good.readUInt32BE(12);
  chunks = [];
  for (let pos = bodyStart; pos < good.length;) {
    const end = pos + 4 + good.readUInt32BE(pos) + 16;
    chunks.push({ start: pos, end });
    pos = end;
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('round trip', () => {
  it('every object, body, audit entry and file comes back, in order', async () => {
    expect(chunks.length).toBeGreaterThan(10);
    expect(chunks.at(-1)!.end).toBe(good.length);
    const f = await BackupFile.open(file);
    const seen: Frame[] = [];
    try {
      const key = unwrapFileKey(f.header.recipients, ec.privateKey);
      const r = await scanBackup(f, key, async (fr) => void seen.push(fr));
      expect(r).toMatchObject({ objects: 40, meta: 2, auditEntries: 40, files: 1 });
    } finally {
      await f.close();
    }
    const objs = seen.filter((x): x is Extract<Frame, { type: 'object' }> => x.type === 'object');
    expect(objs.map((o) => o.record.uid)).toEqual([...bodies.keys()]);
    for (const o of objs) {
      if (o.record.uid === 'obj-007') expect(o.body).toBeUndefined();
      else expect(o.body!.equals(bodies.get(o.record.uid)!)).toBe(true);
      expect(o.record.sealedBody).toBeUndefined();
    }
    expect(seen.filter((x) => x.type === 'audit').map((x) => (x as { seq: number }).seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const metas = seen.filter((x): x is Extract<Frame, { type: 'meta' }> => x.type === 'meta');
    expect(metas.map((m) => [m.key, m.value.toString()])).toEqual([
      ['clients/cert/ab12', '{"name":"array-1"}'],
      ['clients/crl', '{"number":3}'],
    ]);
    // After the last object, before the first audit entry.
    const kinds = seen.map((x) => x.type);
    expect(kinds.indexOf('meta')).toBe(kinds.lastIndexOf('object') + 1);
    expect(kinds.indexOf('audit')).toBe(kinds.lastIndexOf('meta') + 1);
    // No body appears in the clear in the file.
    for (const b of bodies.values()) expect(good.includes(b)).toBe(false);
  });

  it('the header names recipients by key id and holds no key material in the clear', () => {
    const header = JSON.parse(good.subarray(16, bodyStart).toString('utf8')) as { recipients: { kind: string; keyId: string }[] };
    expect(header.recipients.map((r) => r.kind)).toEqual(['rsa-oaep-sha256', 'ecies-p256', 'ecies-p256']);
    expect(header.recipients.map((r) => r.keyId)).toEqual(recovery.recipients.map((r) => r.keyId));
  });
});

describe('damage is refused', () => {
  it('a flipped bit in the header (magic, length, JSON, the wrapped key)', async () => {
    for (const pos of [0, 5, 10, 11, 12, 15, 16, 20, Math.floor((16 + bodyStart) / 2), bodyStart - 2]) {
      const b = Buffer.from(good);
      b[pos]! ^= 0x04;
      // A header edit may also make the key id name no recipient: refused either way.
      await refused(b, ['TAMPERED', 'WRONG_CREDENTIAL']);
    }
    const text = good.subarray(16, bodyStart).toString('latin1');
    const wrapped = text.indexOf('"wrapped":"') + 20;
    const b = Buffer.from(good);
    b[16 + wrapped] = b[16 + wrapped] === 0x41 ? 0x42 : 0x41; // still base64
    expect(await refused(b)).toMatch(/does not unwrap/);
    // A well-formed header edit that keeps the key valid fails every chunk (the header hash is in the AAD).
    const c = Buffer.from(good);
    const created = text.indexOf('"created":"') + 11;
    c[16 + created + 3] = c[16 + created + 3] === 0x31 ? 0x32 : 0x31;
    expect(await refused(c)).toMatch(/chunk 0 .*fails authentication/);
  });

  it('a flipped bit in the first, a middle and the last chunk: length, ciphertext, tag, final tag', async () => {
    const mid = chunks[Math.floor(chunks.length / 2)]!;
    const first = chunks[0]!;
    const last = chunks.at(-1)!;
    for (const c of [first, mid, last]) {
      for (const pos of [c.start, c.start + 3, c.start + 4, Math.floor((c.start + c.end) / 2), c.end - 16, c.end - 1]) {
        if (pos >= c.end) continue;
        const b = Buffer.from(good);
        b[pos]! ^= 0x80;
        await refused(b);
      }
    }
    const b = Buffer.from(good);
    b[good.length - 1]! ^= 0x01;
    expect(await refused(b)).toMatch(/chunk \d+ .*fails authentication/);
  });

  it('a flipped byte at a sample of every position', async () => {
    const step = Math.max(1, Math.floor(good.length / 150));
    let n = 0;
    for (let pos = 0; pos < good.length; pos += step) {
      const b = Buffer.from(good);
      b[pos]! ^= 1 << (pos % 8);
      await refused(b, pos < bodyStart ? ['TAMPERED', 'WRONG_CREDENTIAL'] : ['TAMPERED']);
      n++;
    }
    expect(n).toBeGreaterThan(100);
  });

  it('truncation at every chunk boundary, inside chunks, inside the header, to nothing', async () => {
    for (const c of chunks) expect(await refused(good.subarray(0, c.start))).toMatch(/truncated|without its final chunk/);
    for (const c of chunks.slice(0, 5)) await refused(good.subarray(0, c.start + 10));
    await refused(good.subarray(0, good.length - 1));
    await refused(good.subarray(0, 20));
    await refused(Buffer.alloc(0));
  });

  it('appended bytes, a repeated final chunk, a dropped or swapped chunk', async () => {
    await refused(Buffer.concat([good, Buffer.from([0])]));
    const last = chunks.at(-1)!;
    await refused(Buffer.concat([good, good.subarray(last.start, last.end)]));
    const [a, b] = [chunks[2]!, chunks[3]!];
    await refused(Buffer.concat([good.subarray(0, a.start), good.subarray(b.start)])); // chunk 2 dropped
    const swapped = Buffer.concat([good.subarray(0, a.start), good.subarray(b.start, b.end), good.subarray(a.start, a.end), good.subarray(b.end)]);
    expect(swapped.length).toBe(good.length);
    expect(await refused(swapped)).toMatch(/chunk 2 .*fails authentication/);
  });
});

describe('recovery credentials', () => {
  it('RSA, ECIES and any 3 of 5 shares open it; a stranger key and 2 shares do not', async () => {
    expect((await verifyBackupFile(file, rsa.privateKey)).objects).toBe(40);
    expect((await verifyBackupFile(file, ec.privateKey)).objects).toBe(40);
    const s = shared.shares;
    for (const pick of [
      [0, 1, 2],
      [4, 2, 0],
      [1, 3, 4],
      [0, 1, 2, 3, 4],
    ]) {
      expect((await verifyBackupFile(file, privateKeyFromShares(pick.map((i) => s[i]!)))).objects).toBe(40);
    }
    await expect(verifyBackupFile(file, stranger.privateKey)).rejects.toMatchObject({ code: 'WRONG_CREDENTIAL' });
    expect(() => privateKeyFromShares([s[0]!, s[1]!])).toThrow(/2 distinct share\(s\) given, 3 of 5 are needed/);
    expect(() => privateKeyFromShares([s[0]!, s[0]!, s[1]!])).toThrow(/needed/);
    // Two shares that claim a threshold of 2 interpolate the wrong key: refused, not used.
    const lying = [s[0]!, s[1]!].map((x) => ({ ...x, threshold: 2 }));
    expect(() => privateKeyFromShares(lying)).toThrow(BackupError);
    // A share with one altered byte reconstructs a different key: refused.
    const bad = { ...s[2]!, share: (s[2]!.share[0] === 'a' ? 'b' : 'a') + s[2]!.share.slice(1) };
    expect(() => privateKeyFromShares([s[0]!, s[1]!, bad])).toThrow(/do not reconstruct/);
  });

  it('the file is not readable without a recipient: no recovery keys, no backup', async () => {
    const store = new MemoryStore();
    await store.open();
    const { protector } = SoftwareProtector.openOrCreate(join(dir, 'master.key'));
    await expect(writeBackup({ snapshot: await store.snapshot(), protector, recovery: { format: 1, recipients: [] } }, async () => undefined)).rejects.toMatchObject({ code: 'NO_RECOVERY' });
    expect(readFileSync(file).length).toBe(good.length);
  });
});
