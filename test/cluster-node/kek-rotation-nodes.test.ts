/**
 * KEK rotation over a cluster, end to end: three real `kms serve --store postgresql://…` nodes
 * over one database and one SoftHSM2 token directory. `kms hsm rotate-kek` on node A (through
 * its admin socket) while clients Get and Create on A and B; a rotation asked of B meanwhile
 * is refused, naming A. Afterwards every key reads the same bytes on every node, every record
 * (and every object B creates) is sealed under the new KEK, node C (stopped during the
 * rotation) starts and serves, `kms audit verify` passes, and `rotate-kek --destroy-old` on B
 * leaves one KEK on the token and no record unreadable; the offline `kms hsm rotate-kek` on a
 * stopped node's folder rotates the cluster too.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestRotation } from '../../src/admin/requests.js';
import type { KmipClient } from '../../src/client/index.js';
import { getPayload, keyMaterialOf } from '../../src/client/requests.js';
import { adminSocketPath } from '../../src/folder/layout.js';
import { Pkcs11Backend } from '../../src/hsm/pkcs11/pkcs11-backend.js';
import { Operation, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { openStore, type ObjectStore } from '../../src/store/index.js';
import { ensureBuilt } from '../audit/helpers.js';
import { runKms, startServeProcess, writeServeConfig, type ServeProcess } from '../support/kms-process.js';
import { createSoftHsmToken, type SoftHsmToken } from '../hsm/softhsm.js';
import { call, createKey, keyBytes, newClusterDatabase, newFolder } from './nodes.js';

let token: SoftHsmToken;
let url: string;
let db: ObjectStore;
const running = new Set<ServeProcess>();
const dirs = { a: newFolder('kr-a'), b: newFolder('kr-b'), c: newFolder('kr-c') };
const configs: Record<keyof typeof dirs, string> = { a: '', b: '', c: '' };
/** uid → key bytes (hex) as first read. */
const keys = new Map<string, string>();

async function start(n: keyof typeof dirs): Promise<ServeProcess> {
  const p = await startServeProcess(configs[n], 60_000);
  running.add(p);
  return p;
}

async function stop(p: ServeProcess): Promise<void> {
  expect(await p.stop()).toBe(0);
  running.delete(p);
}

async function kekOf(uid: string): Promise<string | undefined> {
  return (await db.get(uid))?.kekId;
}

async function allKekIds(): Promise<Map<string, number>> {
  const usage = new Map<string, number>();
  for (let after: string | undefined; ;) {
    const uids = await db.list(after, 500);
    if (uids.length === 0) return usage;
    for (const uid of uids) {
      const k = await kekOf(uid);
      if (k) usage.set(k, (usage.get(k) ?? 0) + 1);
    }
    after = uids[uids.length - 1];
  }
}

async function expectAllRead(client: KmipClient, where: string): Promise<void> {
  for (const [uid, hex] of keys) expect((await keyBytes(client, uid)).toString('hex'), `${uid} on ${where}`).toBe(hex);
}

async function leaseHolder(): Promise<string | undefined> {
  const e = await db.meta.get('lease/kek-rotation');
  if (!e) return undefined;
  const v = JSON.parse(Buffer.from(e.value).toString('utf8')) as { holder: string; expiresAt: number };
  return v.expiresAt > Date.now() ? v.holder : undefined;
}

async function tokenKeks(): Promise<string[]> {
  const b = await Pkcs11Backend.open({ module: token.module, tokenLabel: token.label, pin: token.pin });
  try {
    return (await b.findKeys({ token: true }))
      .map((k) => k.label ?? '')
      .filter((l) => l.startsWith('kms-kek-'))
      .sort();
  } finally {
    await b.close();
  }
}

let a: ServeProcess;
let b: ServeProcess;

beforeAll(async () => {
  ensureBuilt();
  token = createSoftHsmToken('kms-kek-nodes');
  url = await newClusterDatabase();
  for (const n of ['a', 'b', 'c'] as const) {
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dirs[n], { recursive: true, mode: 0o700 });
    configs[n] = writeServeConfig(dirs[n], {
      store: url,
      hsm: { module: token.module, tokenLabel: token.label, pin: token.pin },
      storePool: { kekNodesWaitMs: 20_000 },
    });
  }
  a = await start('a');
  b = await start('b');
  // C joins, then is down during the rotation.
  await stop(await start('c'));
  db = await openStore({ kind: 'postgresql', url, poolSize: 2 });
  const [ca, cb] = [await a.client(), await b.client()];
  for (let i = 0; i < 240; i++) {
    const c = i % 2 ? ca : cb;
    const uid = await createKey(c);
    keys.set(uid, (await keyBytes(c, uid)).toString('hex'));
  }
}, 180_000);

afterAll(async () => {
  await Promise.all([...running].map((p) => p.kill()));
  await db?.close();
  token?.cleanup();
});

describe('KEK rotation across kms nodes', () => {
  let previous = '';
  let current = '';

  it('rotates on node A under load on A and B; a rotation asked of B meanwhile is refused, naming A', async () => {
    previous = [...(await allKekIds()).keys()][0]!;
    expect((await allKekIds()).size).toBe(1);
    let stopLoad = false;
    const failures: string[] = [];
    const created: string[] = [];
    const worker = async (node: ServeProcess, n: number) => {
      const client = await node.client();
      const uids = [...keys.keys()];
      for (let i = n; !stopLoad; i += 7) {
        const uid = uids[i % uids.length]!;
        const r = await call(client, Operation.Get, getPayload(uid));
        if (r.status !== ResultStatus.Success) failures.push(`Get ${uid}: ${r.reason} ${r.message ?? ''}`);
        else if (Buffer.from(keyMaterialOf(r.payload)).toString('hex') !== keys.get(uid)) failures.push(`Get ${uid}: other bytes`);
        if (i % 3 === 0) {
          try {
            const nu = await createKey(client);
            created.push(nu);
            keys.set(nu, (await keyBytes(client, nu)).toString('hex'));
          } catch (e) {
            failures.push(`Create: ${(e as Error).message}`);
          }
        }
      }
    };
    const load = [worker(a, 0), worker(a, 1), worker(b, 2), worker(b, 3)];
    const rotation = runKms(['hsm', 'rotate-kek', '--config', configs.a]);
    // Once A holds the lease, A is paused so that its rotation is certainly still running.
    for (const end = Date.now() + 30_000; !(await leaseHolder())?.endsWith(dirs.a) && Date.now() < end;) await new Promise((r) => setTimeout(r, 5));
    a.child.kill('SIGSTOP');
    let refused: unknown;
    try {
      expect(await leaseHolder()).toMatch(new RegExp(`${dirs.a}$`));
      await requestRotation(adminSocketPath(dirs.b), {}).catch((e: unknown) => (refused = e));
    } finally {
      a.child.kill('SIGCONT');
    }
    expect(String(refused)).toMatch(new RegExp(`a KEK rotation is already running on .*${dirs.a}`));
    const r = await rotation;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/KEK rotated by the running server: (\S+) -> (\S+);/);
    current = /-> (\S+);/.exec(r.stdout)![1]!;
    expect(current).not.toBe(previous);
    // The load goes on a moment after the rotation, then stops.
    await new Promise((r) => setTimeout(r, 300));
    stopLoad = true;
    await Promise.all(load);
    expect(failures).toEqual([]);
    expect(created.length).toBeGreaterThan(0);
  }, 180_000);

  it('afterwards every record is sealed under the new KEK, objects B creates too, and every key reads the same on A and B', async () => {
    expect([...(await allKekIds()).keys()]).toEqual([current]);
    const cb = await b.client();
    for (let i = 0; i < 5; i++) {
      const uid = await createKey(cb);
      keys.set(uid, (await keyBytes(cb, uid)).toString('hex'));
      expect(await kekOf(uid)).toBe(current);
    }
    await expectAllRead(await a.client(), 'A');
    await expectAllRead(cb, 'B');
  }, 120_000);

  it('node C, down during the rotation, starts and serves; it seals under the new KEK', async () => {
    const c = await start('c');
    const cc = await c.client();
    await expectAllRead(cc, 'C');
    const uid = await createKey(cc);
    keys.set(uid, (await keyBytes(cc, uid)).toString('hex'));
    expect(await kekOf(uid)).toBe(current);
  }, 120_000);

  it('kms audit verify passes on the cluster’s trail', async () => {
    const v = await runKms(['audit', 'verify', '--config', configs.a]);
    expect(v.code, `${v.stdout}\n${v.stderr}`).toBe(0);
    expect(v.stdout).toMatch(/^OK: \d+ entries, \d+ checkpoints/);
  }, 120_000);

  it('rotate-kek --destroy-old on node B: one KEK left on the token, every key still reads on every node', async () => {
    expect(await tokenKeks()).toEqual([previous.slice(4), current.slice(4)].sort());
    const r = await runKms(['hsm', 'rotate-kek', '--config', configs.b, '--destroy-old', '--label', `kms-kek-${randomBytes(4).toString('hex')}`]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    const newest = /-> (\S+);/.exec(r.stdout)![1]!;
    expect(r.stdout).toContain(`destroyed: `);
    expect(await tokenKeks()).toEqual([newest.slice(4)]);
    expect([...(await allKekIds()).keys()]).toEqual([newest]);
    for (const p of running) await expectAllRead(await p.client(), `node on port ${p.port}`);
    // A node's own custody.json follows: the old KEKs destroyed, the newest current.
    const { readFileSync } = await import('node:fs');
    const states = () => (JSON.parse(readFileSync(join(dirs.a, 'custody.json'), 'utf8')) as { protector: { keks: { state: string }[] } }).protector.keks.map((k) => k.state).join(',');
    for (const end = Date.now() + 10_000; states() !== 'destroyed,destroyed,current' && Date.now() < end;) await new Promise((r) => setTimeout(r, 50));
    expect(states()).toBe('destroyed,destroyed,current');
  }, 180_000);

  it('offline on a stopped node’s folder (kms hsm rotate-kek --config with the store): the running nodes follow', async () => {
    const c = [...running].find((p) => p !== a && p !== b)!;
    await stop(c);
    const r = await runKms(['hsm', 'rotate-kek', '--config', configs.c]);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^KEK rotated: \S+ -> \S+;/);
    expect(r.stdout).toMatch(/fencing token 3/);
    const newest = /-> (\S+);/.exec(r.stdout)![1]!;
    const ca = await a.client();
    const uid = await createKey(ca);
    keys.set(uid, (await keyBytes(ca, uid)).toString('hex'));
    expect(await kekOf(uid)).toBe(newest);
    expect([...(await allKekIds()).keys()]).toEqual([newest]);
    await expectAllRead(await b.client(), 'B');
  }, 120_000);
});
