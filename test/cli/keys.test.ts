/**
 * `kms keys list|show` as a user runs it (the built CLI): through KMIP against a running
 * `kms serve`, and from the data folder once it is stopped (refused while it runs). Both
 * modes must describe the same objects; neither may print key material.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KmipClient } from '../../src/client/index.js';
import {
  activatePayload,
  attr,
  createSymmetricKeyPayload,
  destroyPayload,
  expectSuccess,
  findChild,
  parseResponse,
  registerPayload,
  requestMessage,
  symmetricKeyObject,
  uniqueIdentifierOf,
  type RequestBatchItemSpec,
} from '../../src/client/requests.js';
import { CryptographicAlgorithm, ObjectType, Operation } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { t, type StructureNode } from '../../src/ttlv/index.js';
import { CERTS } from '../support/kms.js';
import { runKms, runKmsHere, startServeProcess, writeServeConfig, type ServeProcess } from '../support/kms-process.js';
import type { KeySummary } from '../../src/cli/keys-source.js';

const V = { major: 2, minor: 1 };
const KEY_BYTES = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

/** A row of `kms keys list --json`. */
type Row = KeySummary;

let dataDir: string;
let server: ServeProcess | undefined;
const uids: Record<string, string> = {};

async function ok(c: KmipClient, batch: RequestBatchItemSpec[]): Promise<StructureNode[]> {
  const r = parseResponse(await c.send(requestMessage({ version: V, batch })));
  return r.items.map((it) => expectSuccess(it));
}

const create = (name: string, length = 256): RequestBatchItemSpec => ({
  operation: Operation.Create,
  payload: createSymmetricKeyPayload(V, { algorithm: CryptographicAlgorithm.AES, length, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt, name }),
});

function remote(identity: string): string[] {
  const base = identity === 'kms-client' ? 'client' : identity;
  return ['--server', `127.0.0.1:${server!.port}`, '--cert', join(CERTS, `${base}.pem`), '--key', join(CERTS, `${base}.key`), '--ca', join(CERTS, 'ca.pem'), '--servername', 'localhost'];
}

function noKeyMaterial(out: string): void {
  expect(out.toLowerCase()).not.toContain(KEY_BYTES.toString('hex'));
  expect(out).not.toContain(KEY_BYTES.toString('base64'));
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'kms-keys-'));
  server = await startServeProcess(writeServeConfig(dataDir, { access: { administrators: ['admin'] } }));
  const c = await server.client('kms-client');
  const [one] = await ok(c, [create('k-one'), { operation: Operation.Activate, payload: activatePayload() }]);
  uids.one = uniqueIdentifierOf(one);
  const [two] = await ok(c, [
    {
      operation: Operation.Register,
      payload: registerPayload(V, ObjectType.SymmetricKey, symmetricKeyObject(KEY_BYTES, CryptographicAlgorithm.AES), [
        attr.name('k-two'),
        attr.cryptographicUsageMask(CryptographicUsageMask.Encrypt),
      ]),
    },
  ]);
  uids.two = uniqueIdentifierOf(two);
  const [three] = await ok(c, [create('k-three', 128), { operation: Operation.Destroy, payload: destroyPayload() }]);
  uids.three = uniqueIdentifierOf(three);
  const [pair] = await ok(c, [
    {
      operation: Operation.CreateKeyPair,
      payload: [
        t.struct(Tag.CommonAttributes, [attr.cryptographicAlgorithm(CryptographicAlgorithm.RSA), attr.cryptographicLength(2048)]),
        t.struct(Tag.PrivateKeyAttributes, [attr.cryptographicUsageMask(CryptographicUsageMask.Sign), attr.name('k-pair-private')]),
        t.struct(Tag.PublicKeyAttributes, [attr.cryptographicUsageMask(CryptographicUsageMask.Verify), attr.name('k-pair-public')]),
      ],
    },
  ]);
  uids.priv = (findChild(pair, Tag.PrivateKeyUniqueIdentifier) as { value: string }).value;
  uids.pub = (findChild(pair, Tag.PublicKeyUniqueIdentifier) as { value: string }).value;
  const alice = await server.client('alice');
  uids.alice = uniqueIdentifierOf((await ok(alice, [create('alice-key')]))[0]);
});

afterAll(async () => {
  if (server) await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The fields both modes know (KMIP has no owner). */
const comparable = (rows: Row[]) => rows.map(({ owner: _o, ...r }) => r);

let remoteRows: Row[] = [];
let remoteShow: { attributes: unknown[]; links: unknown[] } | undefined;

/** The CLI in this process (same runCli as the binary); a few checks below spawn the real one. */
const kms = runKmsHere;

describe('kms keys through KMIP (running server)', () => {
  it('list --json: every object an administrator may see, with type, algorithm, length, state, names', async () => {
    const r = await kms(['keys', 'list', '--json', ...remote('admin')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    remoteRows = JSON.parse(r.stdout) as Row[];
    const byUid = new Map(remoteRows.map((x) => [x.uid, x]));
    expect([...byUid.keys()].sort()).toEqual(Object.values(uids).sort());
    expect(byUid.get(uids.one!)).toEqual({ uid: uids.one, objectType: 'SymmetricKey', algorithm: 'AES', length: 256, state: 'Active', names: ['k-one'] });
    expect(byUid.get(uids.two!)).toMatchObject({ algorithm: 'AES', length: 128, state: 'PreActive', names: ['k-two'] });
    expect(byUid.get(uids.three!)).toMatchObject({ length: 128, state: 'Destroyed', names: ['k-three'] });
    expect(byUid.get(uids.priv!)).toMatchObject({ objectType: 'PrivateKey', algorithm: 'RSA', length: 2048, names: ['k-pair-private'] });
    noKeyMaterial(r.stdout);
  });

  it("an identity sees only what it may: kms-client not alice's key; filters go to Locate", async () => {
    const mine = JSON.parse((await kms(['keys', 'list', '--json', ...remote('kms-client')])).stdout) as Row[];
    expect(mine.map((x) => x.uid)).not.toContain(uids.alice);
    expect(mine).toHaveLength(5);
    const active = JSON.parse((await kms(['keys', 'list', '--json', '--state', 'active', ...remote('admin')])).stdout) as Row[];
    expect(active.map((x) => x.uid)).toEqual([uids.one]);
    const named = JSON.parse((await kms(['keys', 'list', '--json', '--name', 'k-two', ...remote('admin')])).stdout) as Row[];
    expect(named.map((x) => x.uid)).toEqual([uids.two]);
    const pubs = JSON.parse((await kms(['keys', 'list', '--json', '--type', 'public-key', ...remote('admin')])).stdout) as Row[];
    expect(pubs.map((x) => x.uid)).toEqual([uids.pub]);
  });

  it('show: attributes and links, never key material; unknown uid exits 5', async () => {
    const r = await kms(['keys', 'show', uids.priv!, '--json', ...remote('kms-client')]);
    expect(r.code).toBe(0);
    const d = JSON.parse(r.stdout) as { links: { type: string; uid: string }[]; attributes: { name: string }[]; content: string };
    expect(d.links).toEqual([{ type: 'PublicKeyLink', uid: uids.pub }]);
    remoteShow = d as unknown as typeof remoteShow;
    expect(d.attributes.map((a) => a.name)).toEqual(expect.arrayContaining(['CryptographicAlgorithm', 'CryptographicUsageMask', 'Name', 'State', 'Link']));
    const two = await kms(['keys', 'show', uids.two!, ...remote('kms-client')]);
    expect(two.stdout).toMatch(/Name\s+.*k-two/);
    noKeyMaterial(two.stdout);
    // Not found and not visible read the same.
    expect((await runKms(['keys', 'show', 'no-such-uid', ...remote('admin')])).code).toBe(5); // the real process's exit code
    expect((await kms(['keys', 'show', uids.alice!, ...remote('kms-client')])).code).toBe(5);
  });

  it('the data folder is refused while the server holds it (exit 3, says why)', async () => {
    const r = await runKms(['keys', 'list', '--data-dir', dataDir]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/in use by a running server/);
  });

  it('cannot connect: exit 3', async () => {
    const args = remote('admin');
    args[1] = '127.0.0.1:1';
    expect((await kms(['keys', 'list', ...args])).code).toBe(3);
  });
});

describe('kms keys from a stopped data folder', () => {
  beforeAll(async () => {
    expect(await server!.stop()).toBe(0);
    server = undefined;
  });

  it('list --json describes what the server described, plus the owner', async () => {
    const r = await kms(['keys', 'list', '--json', '--data-dir', dataDir]);
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Row[];
    expect(comparable(rows)).toEqual(comparable(remoteRows));
    const owners = Object.fromEntries(rows.map((x) => [x.uid, x.owner]));
    expect(owners[uids.alice!]).toBe('alice');
    expect(owners[uids.one!]).toBe('kms-client');
    noKeyMaterial(r.stdout);
  });

  it('table and csv; filters by state, type, name', async () => {
    const table = await kms(['keys', 'list', '--data-dir', dataDir]);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^UID\s+TYPE\s+ALGORITHM\s+LENGTH\s+STATE\s+NAMES\s+OWNER$/);
    expect(lines.at(-1)).toBe('6 objects');
    expect(table.stdout).toMatch(new RegExp(`${uids.one}\\s+SymmetricKey\\s+AES\\s+256\\s+Active\\s+k-one\\s+kms-client`));
    const csv = await kms(['keys', 'list', '--csv', '--state', 'Destroyed', '--data-dir', dataDir]);
    expect(csv.stdout).toBe(`uid,type,algorithm,length,state,names,owner\r\n${uids.three},SymmetricKey,AES,128,Destroyed,k-three,kms-client\r\n`);
    const sym = JSON.parse((await kms(['keys', 'list', '--json', '--type', 'SYMMETRIC_KEY', '--data-dir', dataDir])).stdout) as Row[];
    expect(sym.map((x) => x.uid).sort()).toEqual([uids.one, uids.two, uids.three, uids.alice].sort());
    const named = JSON.parse((await kms(['keys', 'list', '--json', '--name', 'alice-key', '--data-dir', dataDir])).stdout) as Row[];
    expect(named.map((x) => x.uid)).toEqual([uids.alice]);
  });

  it('show: owner, content sealed or destroyed, links; never key material', async () => {
    const two = JSON.parse((await kms(['keys', 'show', uids.two!, '--json', '--data-dir', dataDir])).stdout) as {
      owner: string;
      content: string;
      attributes: { name: string; values: unknown[] }[];
    };
    expect(two.owner).toBe('kms-client');
    expect(two.content).toMatch(/^sealed under sw:/);
    expect(two.attributes.find((a) => a.name === 'CryptographicLength')?.values).toEqual([128]);
    const three = await kms(['keys', 'show', uids.three!, '--data-dir', dataDir]);
    expect(three.stdout).toMatch(/Key material\s+none \(destroyed\)/);
    expect(three.stdout).toMatch(/State\s+Destroyed/);
    // The same attributes and links as the server gave for the private key.
    const priv = JSON.parse((await kms(['keys', 'show', uids.priv!, '--json', '--data-dir', dataDir])).stdout) as { attributes: unknown[]; links: unknown[] };
    expect(priv.attributes).toEqual(remoteShow!.attributes);
    expect(priv.links).toEqual(remoteShow!.links);
    const pub = await kms(['keys', 'show', uids.pub!, '--data-dir', dataDir]);
    expect(pub.stdout).toContain(`PrivateKeyLink -> ${uids.priv}`);
    expect(pub.stdout).toMatch(/^Owner\s+kms-client$/m);
    expect(pub.stdout).not.toContain('$'); // the server's internal bookkeeping is no attribute
    for (const u of Object.values(uids)) noKeyMaterial((await kms(['keys', 'show', u, '--json', '--data-dir', dataDir])).stdout);
    const missing = await kms(['keys', 'show', 'nope', '--data-dir', dataDir]);
    expect(missing.code).toBe(5);
    expect(missing.stderr).toMatch(/no object nope/);
  });

  it('usage errors exit 2; a folder without a database exits 3', async () => {
    expect((await kms(['keys', 'list', '--state', 'sleeping', '--data-dir', dataDir])).code).toBe(2);
    expect((await kms(['keys', 'show', '--data-dir', dataDir])).code).toBe(2);
    expect((await kms(['keys', 'list', '--server', 'localhost:5696'])).code).toBe(2);
    expect((await kms(['keys', 'list', '--cert', 'x.pem', '--data-dir', dataDir])).code).toBe(2);
    expect((await kms(['keys', 'frobnicate'])).code).toBe(2);
    const help = await runKms(['keys', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: kms keys list/);
    const empty = mkdtempSync(join(tmpdir(), 'kms-keys-empty-'));
    const r = await kms(['keys', 'list', '--data-dir', empty]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/holds no database/);
    rmSync(empty, { recursive: true, force: true });
  });
});
