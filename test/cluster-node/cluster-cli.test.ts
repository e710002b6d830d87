/**
 * `kms keys list|show --store URL` and `kms hsm status --store URL` against a cluster's
 * PostgreSQL database while its nodes run: two `kms serve` nodes over one database and one
 * SoftHSM2 token make objects (on both nodes, by two identities, one destroyed, one resident in
 * the token, a key pair); the commands read the database read-only (no data folder, no lock)
 * and must describe exactly what the nodes serve: the same rows as an administrator's KMIP
 * listing through either node (plus the owner), and the same `hsm status` lines as a node
 * answers through its admin socket. A URL that is not one is a usage error (exit 2); an
 * unreachable database exits 3 with a message that names it without its password.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attr, findChild, type KmipClient } from '../../src/client/index.js';
import { CryptographicAlgorithm, ObjectType, Operation } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask as M } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type TtlvNode } from '../../src/ttlv/index.js';
import { CERTS } from '../support/kms.js';
import { runKms, runKmsHere, type ServeProcess } from '../support/kms-process.js';
import { createSoftHsmToken, type SoftHsmToken } from '../hsm/softhsm.js';
import { attrs, ok, uidNode, uidOf, V2_1 } from '../operations/object-kit.js';
import { newClusterDatabase, newFolder, startNode } from './nodes.js';
import type { KeySummary } from '../../src/cli/keys-source.js';

/** A row of `kms keys list --json`. */
type Row = KeySummary;

let token: SoftHsmToken | undefined;
let url: string;
let dirA: string;
let dirB: string;
const nodes: ServeProcess[] = [];
const clients: KmipClient[] = [];
const uids: Record<string, string> = {};

async function create(c: KmipClient, name: string, extra: TtlvNode[] = [], activate = true): Promise<string> {
  const uid = uidOf(
    await ok(c, V2_1, Operation.Create, [
      t.enum(Tag.ObjectType, ObjectType.SymmetricKey),
      attrs(V2_1, [attr.cryptographicAlgorithm(CryptographicAlgorithm.AES), attr.cryptographicLength(256), attr.cryptographicUsageMask(M.Encrypt | M.Decrypt), attr.name(name), ...extra]),
    ]),
  );
  if (activate) await ok(c, V2_1, Operation.Activate, [uidNode(uid)]);
  return uid;
}

function remote(node: ServeProcess, identity: string): string[] {
  const base = identity === 'kms-client' ? 'client' : identity;
  return ['--server', `127.0.0.1:${node.port}`, '--cert', join(CERTS, `${base}.pem`), '--key', join(CERTS, `${base}.key`), '--ca', join(CERTS, 'ca.pem'), '--servername', 'localhost'];
}

/** The fields both sources know (KMIP has no owner). */
const comparable = (rows: Row[]) => rows.map(({ owner: _o, ...r }) => r);

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** An empty folder: no server's admin socket there, so the commands read the database. */
const nowhere = () => mkdtempSync(join(tmpdir(), 'kms-cli-nowhere-'));

beforeAll(async () => {
  token = createSoftHsmToken('kms-cluster-cli');
  const hsm = { hsm: { module: token.module, tokenLabel: token.label, pin: token.pin }, access: { administrators: ['admin'] } };
  url = await newClusterDatabase();
  dirA = newFolder('cli-a');
  dirB = newFolder('cli-b');
  const a = await startNode(dirA, url, hsm);
  nodes.push(a);
  const b = await startNode(dirB, url, hsm);
  nodes.push(b);
  const ca = await a.client();
  const cb = await b.client();
  const alice = await b.client('alice');
  clients.push(ca, cb, alice);
  uids.onA = await create(ca, 'made-on-a');
  uids.onB = await create(cb, 'made-on-b', [], false);
  uids.destroyed = await create(ca, 'destroyed-on-a', [], false);
  await ok(ca, V2_1, Operation.Destroy, [uidNode(uids.destroyed)]);
  uids.resident = await create(cb, 'resident-on-b', [t.bool(Tag.Extractable, false)]);
  const pair = await ok(ca, V2_1, Operation.CreateKeyPair, [
    t.struct(Tag.CommonAttributes, [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)]),
    t.struct(Tag.PrivateKeyAttributes, [attr.cryptographicUsageMask(M.Sign), attr.name('pair-private')]),
    t.struct(Tag.PublicKeyAttributes, [attr.cryptographicUsageMask(M.Verify), attr.name('pair-public')]),
  ]);
  uids.priv = (findChild(pair, Tag.PrivateKeyUniqueIdentifier) as { value: string }).value;
  uids.pub = (findChild(pair, Tag.PublicKeyUniqueIdentifier) as { value: string }).value;
  uids.alice = await create(alice, 'alice-on-b');
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await Promise.all(nodes.map((n) => n.stop()));
  token?.cleanup();
});

describe('kms keys --store URL (a cluster database, while the nodes run)', () => {
  it('list describes exactly what either node serves an administrator over KMIP, plus the owner', async () => {
    const [a, b] = nodes as [ServeProcess, ServeProcess];
    const overKmipA = await runKmsHere(['keys', 'list', '--json', ...remote(a, 'admin')]);
    const overKmipB = await runKmsHere(['keys', 'list', '--json', ...remote(b, 'admin')]);
    expect(overKmipA.code).toBe(0);
    const fromA = JSON.parse(overKmipA.stdout) as Row[];
    expect(JSON.parse(overKmipB.stdout)).toEqual(fromA);
    const r = await runKmsHere(['keys', 'list', '--json', '--store', url, '--data-dir', nowhere()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Row[];
    expect(rows.map((x) => x.uid).sort()).toEqual(Object.values(uids).sort());
    expect(comparable(rows)).toEqual(comparable(fromA));
    const byUid = new Map(rows.map((x) => [x.uid, x]));
    expect(byUid.get(uids.onA!)).toEqual({ uid: uids.onA, objectType: 'SymmetricKey', algorithm: 'AES', length: 256, state: 'Active', names: ['made-on-a'], owner: 'kms-client' });
    expect(byUid.get(uids.onB!)).toMatchObject({ state: 'PreActive', owner: 'kms-client' });
    expect(byUid.get(uids.destroyed!)).toMatchObject({ state: 'Destroyed' });
    expect(byUid.get(uids.alice!)).toMatchObject({ state: 'Active', owner: 'alice' });
    // A node's own config file names the store: the same rows, from the database (not the folder, which has no db/).
    const viaConfig = await runKmsHere(['keys', 'list', '--json', '--config', join(dirB, 'kms-test-config.json')]);
    expect(viaConfig.code).toBe(0);
    expect(JSON.parse(viaConfig.stdout)).toEqual(rows);
    // Filters work on the database as on a folder.
    const named = JSON.parse((await runKmsHere(['keys', 'list', '--json', '--name', 'resident-on-b', '--store', url])).stdout) as Row[];
    expect(named.map((x) => x.uid)).toEqual([uids.resident]);
    const destroyed = JSON.parse((await runKmsHere(['keys', 'list', '--json', '--state', 'destroyed', '--store', url])).stdout) as Row[];
    expect(destroyed.map((x) => x.uid)).toEqual([uids.destroyed]);
  });

  it('show: attributes as a node gives them; a resident key is said to be in the HSM; an unknown uid exits 5', async () => {
    const r = await runKmsHere(['keys', 'show', uids.resident!, '--json', '--store', url]);
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout) as { content: string; owner: string; attributes: { name: string; values: unknown[] }[] };
    expect(d.content).toMatch(/^in the HSM \(non-extractable\)/);
    expect(d.owner).toBe('kms-client');
    expect(d.attributes.find((a) => a.name === 'Extractable')?.values).toEqual([false]);
    const priv = JSON.parse((await runKmsHere(['keys', 'show', uids.priv!, '--json', '--store', url])).stdout) as { links: unknown[] };
    expect(priv.links).toEqual([{ type: 'PublicKeyLink', uid: uids.pub }]);
    const missing = await runKms(['keys', 'show', 'no-such-uid', '--store', url]);
    expect(missing.code).toBe(5);
  });

  it('the node folders stay the nodes’: --store takes no lock (the nodes keep serving) and --server with --store is a usage error', async () => {
    const r = await runKms(['keys', 'list', '--store', url, '--data-dir', dirA]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\n7 objects\n$/);
    const both = await runKmsHere(['keys', 'list', '--store', url, ...remote(nodes[0]!, 'admin')]);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/either --server or --data-dir\/--config\/--store/);
    expect(await create(clients[0]!, 'after-the-listing')).toMatch(/.+/);
  });
});

describe('kms hsm status --store URL', () => {
  it('prints the same lines as a running node answers through its admin socket: the cluster’s KEK and each KEK’s objects', async () => {
    const viaA = await runKmsHere(['hsm', 'status', '--config', join(dirA, 'kms-test-config.json')]);
    expect(viaA.stderr).toBe('');
    expect(viaA.code).toBe(0);
    const viaB = await runKmsHere(['hsm', 'status', '--config', join(dirB, 'kms-test-config.json')]);
    expect(viaB.stdout).toBe(viaA.stdout);
    const shared = await runKms(['hsm', 'status', '--store', url, '--data-dir', nowhere()]);
    expect(shared.stderr).toBe('');
    expect(shared.code).toBe(0);
    expect(shared.stdout).toBe(viaA.stdout);
    // What it says: the KEK node A's custody names, and every record with content sealed under it.
    const custody = JSON.parse(readFileSync(join(dirA, 'custody.json'), 'utf8')) as { protector: { keks: { label: string; state: string }[] } };
    const kek = custody.protector.keks.find((k) => k.state === 'current')!.label;
    expect(shared.stdout).toMatch(new RegExp(`^current KEK: hsm:${kek}\\n`));
    const rows = JSON.parse((await runKmsHere(['keys', 'list', '--json', '--store', url])).stdout) as Row[];
    const sealed = rows.filter((x) => x.state !== 'Destroyed').length;
    expect(shared.stdout).toMatch(new RegExp(`\\* hsm:${kek}\\s+${sealed} objects`));
  });

  it('a database no node has opened: exit 3, says so', async () => {
    const empty = await newClusterDatabase();
    const r = await runKms(['hsm', 'status', '--store', empty, '--data-dir', nowhere()]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/holds no kms store yet/);
    const keys = await runKmsHere(['keys', 'list', '--store', empty]);
    expect(keys.code).toBe(3);
    expect(keys.stderr).toMatch(/holds no kms store yet/);
    // Read-only commands created nothing in it.
    const c = new pg.Client({ connectionString: empty });
    await c.connect();
    try {
      expect((await c.query<{ t: string | null }>("SELECT to_regclass('kms_schema')::text AS t")).rows[0]!.t).toBeNull();
    } finally {
      await c.end();
    }
  });
});

describe('kms status on a node of the cluster', () => {
  it('says the store is the cluster database (no password) and which node answered; its object count is the database’s', async () => {
    const rows = JSON.parse((await runKmsHere(['keys', 'list', '--json', '--store', url])).stdout) as Row[];
    type Status = { objects: { total: number }; store: { kind: string; where: string; nodeId: string } };
    const sa = JSON.parse((await runKmsHere(['status', '--json', '--config', join(dirA, 'kms-test-config.json')])).stdout) as Status;
    const sb = JSON.parse((await runKmsHere(['status', '--json', '--config', join(dirB, 'kms-test-config.json')])).stdout) as Status;
    expect(sa.store.kind).toBe('postgresql');
    expect(sa.store.where).toBe(sb.store.where);
    expect(new URL(sa.store.where).pathname).toBe(new URL(url).pathname);
    expect(sa.store.nodeId).not.toBe(sb.store.nodeId);
    expect(sa.objects.total).toBe(rows.length);
    expect(sb.objects.total).toBe(rows.length);
    const text = await runKmsHere(['status', '--config', join(dirA, 'kms-test-config.json')]);
    expect(text.stdout).toMatch(new RegExp(`^store: PostgreSQL .*\\(this node: ${sa.store.nodeId};`, 'm'));
  });
});

describe('a bad or unreachable --store', () => {
  it('not a postgresql:// URL: usage error (exit 2) naming the setting, for keys and hsm status', async () => {
    for (const cmd of [
      ['keys', 'list'],
      ['hsm', 'status'],
    ]) {
      const r = await runKms([...cmd, '--store', 'mysql://root@127.0.0.1/kms', '--data-dir', nowhere()]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/store must be a postgresql:\/\/ URL/);
    }
  });

  it('an unreachable database: exit 3, the URL named without its password', async () => {
    const dead = `postgresql://kms:Sup3rSecretPw@127.0.0.1:${await closedPort()}/kms`;
    for (const cmd of [
      ['keys', 'list'],
      ['keys', 'show', 'some-uid'],
      ['hsm', 'status'],
    ]) {
      const r = await runKms([...cmd, '--store', dead, '--data-dir', nowhere()], { KMS_STORE_CONNECT_TIMEOUT_MS: '3000' });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/cannot open the PostgreSQL store postgresql:\/\/kms:\*\*\*@127\.0\.0\.1:\d+\/kms/);
      expect(r.stderr + r.stdout).not.toContain('Sup3rSecretPw');
    }
  });

  it('--help shows the option', async () => {
    expect((await runKmsHere(['keys', '--help'])).stdout).toMatch(/--store URL\s+a cluster's PostgreSQL database \(KMS_STORE; config key store\):\s+read-only, while the nodes run/);
    expect((await runKmsHere(['hsm', '--help'])).stdout).toMatch(
      /--store URL\s+the postgresql:\/\/ database of a cluster[^]*status with\s+no server on DIR: the database alone, read-only while the nodes\s+run/,
    );
  });
});
