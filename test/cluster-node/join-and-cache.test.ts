/**
 * Joining a cluster and keeping caches right across nodes (docs/cluster-nodes.md):
 * - `kms init --store URL` on a database whose keys another node made is refused with how to
 *   join; `--join --master-key FILE` with another key is refused (MISMATCH), with the node's
 *   key it joins (the file copied 0600), and the joined node serves the cluster's keys;
 * - a folder is locked by its running server (a second `kms serve` on it: IN_USE), and a dead
 *   server's lock does not hold it;
 * - a Destroy on node A drops node B's cached plaintext at once: B's next Get answers as for a
 *   destroyed object, and B's key cache no longer holds the key.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Operation, ResultReason, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { getPayload } from '../../src/client/requests.js';
import { runKms, startServeProcess, writeServeConfig, type ServeProcess } from '../support/kms-process.js';
import { call, createKey, destroy, keyBytes, metricOf, newClusterDatabase, newFolder, startNode } from './nodes.js';

const root = mkdtempSync(join(tmpdir(), 'kms-join-'));
const recoveryPub = join(root, 'recovery.pub');
const nodes: ServeProcess[] = [];
let url: string;
let a: ServeProcess;
let dirA: string;

beforeAll(async () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(recoveryPub, rsa.publicKey.export({ type: 'spki', format: 'pem' }));
  url = await newClusterDatabase();
  dirA = newFolder('a');
  a = await startNode(dirA, url);
  nodes.push(a);
});

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
});

describe('joining the cluster with kms init', () => {
  it('refuses a folder without the keys, refuses another master key, joins with the node’s key', async () => {
    const dirB = newFolder('b');
    const plain = await runKms(['init', '--data-dir', dirB, '--store', url, '--recovery-key', recoveryPub]);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toMatch(/--join --master-key FILE/);
    expect(existsSync(join(dirB, 'custody.json'))).toBe(false);

    const wrong = join(root, 'wrong.key');
    writeFileSync(wrong, randomBytes(32), { mode: 0o600 });
    const mismatch = await runKms(['init', '--data-dir', dirB, '--store', url, '--join', '--master-key', wrong, '--recovery-key', recoveryPub]);
    expect(mismatch.code).not.toBe(0);
    expect(mismatch.stderr).toMatch(/cannot join/);
    expect(existsSync(join(dirB, 'master.key'))).toBe(false);

    const joined = await runKms(['init', '--data-dir', dirB, '--store', url, '--join', '--master-key', join(dirA, 'master.key'), '--recovery-key', recoveryPub]);
    expect(joined.stderr).toBe('');
    expect(joined.code).toBe(0);
    // The password of the URL (none here) is never printed; the store line says it joined.
    expect(joined.stdout).toMatch(/store: .*\(joined its keys\)/);
    expect(statSync(join(dirB, 'master.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dirB, 'master.key')).equals(readFileSync(join(dirA, 'master.key')))).toBe(true);

    const b = await startNode(dirB, url);
    nodes.push(b);
    const ca = await a.client();
    const cb = await b.client();
    const uid = await createKey(ca);
    expect((await keyBytes(cb, uid)).equals(await keyBytes(ca, uid))).toBe(true);

    // The folder is B's: a second server on it is refused (IN_USE), and exits.
    const second = await runKms(['serve', '--config', writeServeConfig(dirB, { store: url })]);
    expect(second.code).toBe(3);
    expect(second.stderr).toMatch(/in use by a running server/);
  });

  it('a folder whose server was killed is not locked forever', async () => {
    const dir = newFolder('c');
    const { copyFileSync, mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    copyFileSync(join(dirA, 'master.key'), join(dir, 'master.key'));
    const c = await startNode(dir, url);
    expect(existsSync(join(dir, 'kms.lock'))).toBe(true);
    await c.kill();
    expect(existsSync(join(dir, 'kms.lock'))).toBe(true); // left behind by the killed process
    const again = await startServeProcess(writeServeConfig(dir, { store: url }), 60_000);
    nodes.push(again);
    const cc = await again.client();
    expect((await keyBytes(cc, await createKey(cc))).length).toBe(32);
  });
});

describe('caches across nodes', () => {
  it('a Destroy on A drops the key from B’s cache: B’s next Get answers as for a destroyed object', async () => {
    const dirB = newFolder('cache-b');
    const { copyFileSync, mkdirSync } = await import('node:fs');
    mkdirSync(dirB, { recursive: true, mode: 0o700 });
    copyFileSync(join(dirA, 'master.key'), join(dirB, 'master.key'));
    const b = await startNode(dirB, url);
    nodes.push(b);
    const ca = await a.client();
    const cb = await b.client();
    const uid = await createKey(ca);
    const before = await metricOf(b, 'kms_key_cache_entries');
    // B hears of A's Create through the change feed a moment later (and drops what it cached of
    // the key then): Get until B serves the key from its cache.
    let hit = false;
    for (const end = Date.now() + 5000; !hit && Date.now() < end;) {
      await keyBytes(cb, uid);
      const hits0 = await metricOf(b, 'kms_key_cache_hits_total');
      await keyBytes(cb, uid);
      hit = (await metricOf(b, 'kms_key_cache_hits_total')) === hits0 + 1;
    }
    expect(hit).toBe(true);
    expect(await metricOf(b, 'kms_key_cache_entries')).toBe(before + 1);

    const d = await destroy(ca, uid);
    expect(d.status).toBe(ResultStatus.Success);
    // At once: the notification is handled before A's Destroy answers on A… and B hears it
    // through the database's change feed; the next Get on B must not be served from the cache.
    const deadline = Date.now() + 5000;
    while ((await metricOf(b, 'kms_key_cache_entries')) !== before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await metricOf(b, 'kms_key_cache_entries')).toBe(before);
    const g = await call(cb, Operation.Get, getPayload(uid));
    expect(g.status).toBe(ResultStatus.OperationFailed);
    expect(g.reason).toBe(ResultReason.ObjectDestroyed);
    const gA = await call(ca, Operation.Get, getPayload(uid));
    expect(gA.reason).toBe(g.reason);
  });
});
