/**
 * KEK rotation over a cluster's PostgreSQL store, in one process: data folders of several
 * nodes (DataFolder over one database and one SoftHSM2 token). A rotation on one folder makes
 * every other folder seal under the new KEK (the cluster custody record, watched); the lease
 * refuses a second rotation and fences a holder that lost it; a node that missed the
 * notification re-reads the record when it meets the new KEK; a folder that was closed during
 * the rotation opens afterwards (its history moved on) while other keys are still refused;
 * --destroy-old refuses while a node entry still seals under the old KEK, naming it.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLUSTER_CUSTODY_KEY } from '../../src/folder/cluster-custody.js';
import { ClusterKekError, listNodes, nodeKey, NODE_PREFIX, RotationLease } from '../../src/folder/cluster-kek.js';
import { CustodyError } from '../../src/folder/custody.js';
import { DataFolder } from '../../src/folder/data-folder.js';
import { kekUsage, rotateKek, RotationError } from '../../src/folder/kek-rotation.js';
import { Pkcs11Backend } from '../../src/hsm/pkcs11/pkcs11-backend.js';
import type { ObjectRecord } from '../../src/objects/managed-object.js';
import { createSoftHsmToken, type SoftHsmToken } from '../hsm/softhsm.js';
import { newClusterDatabase, newFolder } from './nodes.js';

let token: SoftHsmToken;
let hsm: { module: string; tokenLabel: string; pin: string };
let url: string;
const open: DataFolder[] = [];
/** uid → the plaintext it was sealed from. */
const plain = new Map<string, Buffer>();

async function openNode(dir: string, pool: Record<string, number> = {}): Promise<DataFolder> {
  const f = await DataFolder.open({ dataDir: dir, keys: 'create', storeUrl: url, hsm, storePool: { kekNodesWaitMs: 2000, ...pool } });
  open.push(f);
  return f;
}

async function close(f: DataFolder): Promise<void> {
  await f.close();
  open.splice(open.indexOf(f), 1);
}

/** A record sealed by `f`'s protector now (as a Create on that node would). */
async function put(f: DataFolder): Promise<string> {
  const uid = randomBytes(8).toString('hex');
  const body = randomBytes(32);
  const kekId = f.protector.kekId;
  const sealedBody = await f.protector.seal(uid, body);
  const record: ObjectRecord = { v: 1, uid, objectType: 2, owner: 'kms-client', state: 1, attributes: new Map(), sealedBody, kekId, revision: 0 };
  await f.store.commit([{ type: 'put', record, expectedRevision: 0 }]);
  plain.set(uid, body);
  return uid;
}

async function expectAllOpen(f: DataFolder): Promise<void> {
  for (const [uid, body] of plain) {
    const r = await f.store.get(uid);
    expect(Buffer.from(await f.protector.open(uid, r!.sealedBody!, r!.kekId!)).equals(body), uid).toBe(true);
  }
}

async function until(what: string, f: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) if (await f()) return;
  throw new Error(`timed out waiting for ${what}`);
}

const custodyOf = (dir: string) =>
  JSON.parse(readFileSync(join(dir, 'custody.json'), 'utf8')) as { protector: { keks: { label: string; id: string; state: string }[]; auditKey: { label: string; id: string } } };

async function tokenLabels(): Promise<string[]> {
  const b = await Pkcs11Backend.open(hsm);
  try {
    return (await b.findKeys({ token: true })).map((k) => k.label ?? '').filter((l) => l.startsWith('kms-kek-'));
  } finally {
    await b.close();
  }
}

const dirA = newFolder('kf-a');
const dirB = newFolder('kf-b');
const dirC = newFolder('kf-c');
let a: DataFolder;
let b: DataFolder;

beforeAll(async () => {
  token = createSoftHsmToken('kms-kek-follow');
  hsm = { module: token.module, tokenLabel: token.label, pin: token.pin };
  url = await newClusterDatabase();
  a = await openNode(dirA);
  b = await openNode(dirB);
  for (let i = 0; i < 20; i++) await put(i % 2 ? a : b);
}, 60_000);

afterAll(async () => {
  for (const f of open.splice(0).reverse()) await f.close().catch(() => undefined);
  token?.cleanup();
});

describe('a rotation on one node reaches every node', () => {
  it('node B seals under the new KEK, its custody.json follows, every record is rewrapped and opens on both', async () => {
    // C is a node that is down during the rotation: opened (joined) once, then closed.
    await close(await openNode(dirC));
    const before = a.protector.kekId;
    expect(b.protector.kekId).toBe(before);
    const r = await rotateKek({ store: a.store, protector: a.protector, dataDir: dirA });
    expect(r.previous).toBe(before);
    expect(r.current).not.toBe(before);
    expect(r.fencingToken).toBe(1);
    expect(r.rewrapped).toBe(20);
    expect(a.protector.kekId).toBe(r.current);
    await until('node B to switch', () => b.protector.kekId === r.current);
    const cb = custodyOf(dirB).protector.keks;
    expect(cb.map((k) => [k.label, k.state])).toEqual([
      [before.slice(4), 'retired'],
      [r.current.slice(4), 'current'],
    ]);
    expect(custodyOf(dirA).protector.keks).toEqual(cb);
    // New objects on B are sealed under the new KEK (what B stamps too).
    const uid = await put(b);
    expect((await a.store.get(uid))!.kekId).toBe(r.current);
    await until('node B to stamp the new KEK', async () => (await listNodes(a.store)).every((n) => n.kekId === r.current));
    expect((await listNodes(a.store)).map((n) => n.node).sort()).toEqual([`${hostname()}:${dirA}`, `${hostname()}:${dirB}`].sort());
    expect([...(await kekUsage(a.store)).keys()]).toEqual([r.current]);
    await expectAllOpen(a);
    await expectAllOpen(b);
    // The lease is given back.
    const lease = JSON.parse(Buffer.from((await a.store.meta.get('lease/kek-rotation'))!.value).toString('utf8')) as { expiresAt: number; token: number };
    expect(lease.expiresAt).toBe(0);
  });

  it('a node that was down during the rotation starts: its folder’s history moved on and is adopted', async () => {
    const before = custodyOf(dirC);
    expect(before.protector.keks).toHaveLength(1);
    const c = await openNode(dirC);
    expect(c.protector.kekId).toBe(a.protector.kekId);
    expect(custodyOf(dirC).protector.keks).toEqual(custodyOf(dirA).protector.keks);
    await expectAllOpen(c);
    await close(c);
  });

  it('a folder with another audit key, or a KEK the cluster never had, is still refused MISMATCH', async () => {
    const saved = readFileSync(join(dirC, 'custody.json'), 'utf8');
    const c = JSON.parse(saved) as { protector: { keks: { label: string; id: string; state: string }[]; auditKey: { id: string } } };
    try {
      // Another audit key (an older history of KEKs, so only the audit key differs from "moved on").
      const olderKeks = c.protector.keks.slice(0, 1).map((k) => ({ ...k, state: 'current' }));
      writeFileSync(join(dirC, 'custody.json'), JSON.stringify({ ...c, protector: { ...c.protector, keks: olderKeks, auditKey: { ...c.protector.auditKey, id: 'ab'.repeat(16) } } }));
      await expect(DataFolder.open({ dataDir: dirC, keys: 'create', storeUrl: url, hsm })).rejects.toSatisfy((e: unknown) => e instanceof CustodyError && e.code === 'MISMATCH');
      // A KEK of its own the cluster never recorded.
      const foreign = [
        ...olderKeks.map((k) => ({ ...k, state: 'retired' })),
        { label: 'kms-kek-f0f0f0f0', id: 'cd'.repeat(16), made: true, since: '2026-01-01T00:00:00Z', state: 'current' },
      ];
      writeFileSync(join(dirC, 'custody.json'), JSON.stringify({ ...c, protector: { ...c.protector, keks: foreign } }));
      await expect(DataFolder.open({ dataDir: dirC, keys: 'create', storeUrl: url, hsm })).rejects.toSatisfy((e: unknown) => e instanceof CustodyError && e.code === 'MISMATCH');
    } finally {
      writeFileSync(join(dirC, 'custody.json'), saved);
    }
  });

  it('a node that has not heard of the rotation yet re-reads the cluster record when it meets the new KEK', async () => {
    const c = await openNode(dirC);
    // C stops hearing of changes (as if the notification were late).
    (c.follower as unknown as { unwatch(): void }).unwatch();
    const r = await rotateKek({ store: b.store, protector: b.protector, dataDir: dirB });
    expect(r.fencingToken).toBe(2);
    expect(c.protector.kekId).toBe(r.previous);
    const uid = [...plain.keys()][0]!;
    const rec = await c.store.get(uid);
    expect(rec!.kekId).toBe(r.current);
    expect(Buffer.from(await c.protector.open(uid, rec!.sealedBody!, rec!.kekId!)).equals(plain.get(uid)!)).toBe(true);
    expect(c.protector.kekId).toBe(r.current);
    await close(c);
  });
});

describe('the lease', () => {
  it('a second rotation while one holds the lease is refused, naming the holder; nothing changes', async () => {
    const held = await RotationLease.take(b.store, 'other-host:/srv/kms', 60_000);
    const record = (await a.store.meta.get(CLUSTER_CUSTODY_KEY))!.revision;
    const kek = a.protector.kekId;
    try {
      await expect(rotateKek({ store: a.store, protector: a.protector, dataDir: dirA })).rejects.toSatisfy(
        (e: unknown) => e instanceof RotationError && /already running on other-host:\/srv\/kms/.test(e.message),
      );
      expect((await a.store.meta.get(CLUSTER_CUSTODY_KEY))!.revision).toBe(record);
      expect(a.protector.kekId).toBe(kek);
    } finally {
      await held.release();
    }
  });

  it('a holder whose lease expired and was taken by another commits nothing', async () => {
    const first = await RotationLease.take(a.store, 'slow-node', 1000);
    await new Promise((r) => setTimeout(r, 1100));
    const second = await RotationLease.take(b.store, 'fast-node', 60_000);
    expect(second.token).toBe(first.token + 1);
    await expect(first.commit([{ type: 'meta-put', key: 'test/fenced', value: Buffer.from('x'), expectedRevision: 0 }])).rejects.toSatisfy(
      (e: unknown) => e instanceof ClusterKekError && /lost its lease/.test(e.message) && /fast-node/.test(e.message),
    );
    expect(await a.store.meta.get('test/fenced')).toBeUndefined();
    await second.commit([{ type: 'meta-put', key: 'test/fenced', value: Buffer.from('y'), expectedRevision: 0 }]);
    expect((await a.store.meta.get('test/fenced'))?.revision).toBe(1);
    await second.release();
  });
});

describe('an interrupted rotation', () => {
  it('one that recorded its new KEK and died is finished by the next run on another node, with that KEK', async () => {
    const e = (await a.store.meta.get(CLUSTER_CUSTODY_KEY))!;
    const cc = JSON.parse(Buffer.from(e.value).toString('utf8')) as Record<string, unknown>;
    const pending = { label: 'kms-kek-0badc0de', id: 'ef'.repeat(16), holder: 'crashed-host:/srv/kms', started: '2026-01-01T00:00:00Z' };
    await a.store.commit([{ type: 'meta-put', key: CLUSTER_CUSTODY_KEY, value: Buffer.from(JSON.stringify({ ...cc, rotation: pending })), expectedRevision: e.revision }]);
    // Nothing switched: the pending KEK is not current anywhere.
    await new Promise((r) => setTimeout(r, 300));
    expect(b.protector.kekId).not.toBe('hsm:kms-kek-0badc0de');
    const r = await rotateKek({ store: b.store, protector: b.protector, dataDir: dirB });
    expect(r.current).toBe('hsm:kms-kek-0badc0de');
    const after = JSON.parse(Buffer.from((await a.store.meta.get(CLUSTER_CUSTODY_KEY))!.value).toString('utf8')) as {
      rotation?: unknown;
      protector: { keks: { label: string; id: string; state: string }[] };
    };
    expect(after.rotation).toBeUndefined();
    expect(after.protector.keks.at(-1)).toMatchObject({ label: 'kms-kek-0badc0de', id: 'ef'.repeat(16), state: 'current' });
    await until('node A to switch', () => a.protector.kekId === r.current);
    expect([...(await kekUsage(a.store)).keys()]).toEqual([r.current]);
    await expectAllOpen(a);
  });
});

describe('--destroy-old over the cluster', () => {
  it('refused while a node entry still seals under an old KEK (named); with --forget-node the unused old KEKs go and every record opens', async () => {
    // A node that died before the rotations: its entry names the first KEK.
    const first = `hsm:${custodyOf(dirA).protector.keks[0]!.label}`;
    const dead = 'dead-host:/var/lib/kms';
    await a.store.commit([
      { type: 'meta-put', key: nodeKey(dead), value: Buffer.from(JSON.stringify({ node: dead, pid: 4242, kekId: first, since: '2026-01-01T00:00:00Z' })), expectedRevision: 0 },
    ]);
    const labelsBefore = (await tokenLabels()).sort();
    expect(labelsBefore).toHaveLength(4);
    const r = await rotateKek({ store: a.store, protector: a.protector, dataDir: dirA, destroyOld: true });
    expect(r.destroyRefused).toMatch(/dead-host:\/var\/lib\/kms \(pid 4242/);
    expect(r.destroyed).toEqual([]);
    expect((await tokenLabels()).length).toBe(5);
    await expectAllOpen(b);

    const r2 = await rotateKek({ store: b.store, protector: b.protector, dataDir: dirB, destroyOld: true, forgetNodes: [dead] });
    expect(r2.destroyRefused).toBeUndefined();
    expect(r2.destroyed).toHaveLength(5);
    expect(await tokenLabels()).toEqual([r2.current.slice(4)]);
    expect((await a.store.meta.list(NODE_PREFIX, { limit: 10 })).length).toBe(2);
    await until('node A to drop the destroyed KEKs', () => custodyOf(dirA).protector.keks.filter((k) => k.state === 'destroyed').length === 5);
    await expectAllOpen(a);
    await expectAllOpen(b);
  });
});
