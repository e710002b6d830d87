/**
 * Our KmipClient against PyKMIP 0.10's reference server (an independent implementation),
 * over mutual TLS 1.2 with the dev certificates, at KMIP 1.2 and 2.0.
 *
 * The server runs on 127.0.0.1 and a free port, with its config file, SQLite database,
 * policy folder and log in a temp folder (nothing in /etc, /var or /tmp/pykmip.database).
 * PyKMIP's TLS1.2 suite offers ECDHE-ECDSA ciphers, so the P-256 dev certificates work;
 * `enable_tls_client_auth` makes it require the clientAuth EKU our client certificate has.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  activatePayload,
  attr,
  createSymmetricKeyPayload,
  destroyPayload,
  discoverVersionsPayload,
  expectSuccess,
  findChild,
  findChildren,
  findPath,
  getPayload,
  KmipClient,
  KmipResultError,
  keyMaterialOf,
  locatePayload,
  parseResponse,
  queryPayload,
  requestMessage,
  uniqueIdentifierOf,
  uniqueIdentifiersOf,
  type KmipVersion,
  type ParsedResponse,
  type RequestBatchItemSpec,
} from '../../src/client/index.js';
import { CryptographicAlgorithm, KeyFormatType, ObjectType, Operation, QueryFunction, ResultReason, ResultStatus, State } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { devCertPaths } from '../../src/pki/dev-certs.js';
import { freePort, stopGroup, writePyKmipServerConfig } from '../../src/bench/servers.js';

const PYTHON = '/usr/bin/python3';
const certs = devCertPaths(resolve('certs/dev'));

let dir: string;
let port: number;
let server: ChildProcess | undefined;
let serverOutput = '';
let tlsMaterial: { ca: Buffer; cert: Buffer; key: Buffer };
const clients: KmipClient[] = [];

async function connect(): Promise<KmipClient> {
  const c = await KmipClient.connect({ host: '127.0.0.1', port, ...tlsMaterial, servername: 'localhost', timeoutMs: 20_000 });
  clients.push(c);
  return c;
}

/** Wait until the server completes a TLS handshake with our client, or give up. */
async function waitForServer(deadlineMs: number): Promise<void> {
  const until = Date.now() + deadlineMs;
  let last: unknown;
  while (Date.now() < until) {
    if (server?.exitCode !== null) throw new Error(`PyKMIP server exited (${server?.exitCode}):\n${serverOutput}`);
    try {
      const c = await KmipClient.connect({ host: '127.0.0.1', port, ...tlsMaterial, servername: 'localhost', timeoutMs: 2000 });
      await c.close();
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`PyKMIP server did not come up: ${String(last)}\n${serverOutput}`);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kms-pykmip-'));
  port = await freePort();
  tlsMaterial = {
    ca: await readFile(certs.ca.cert),
    cert: await readFile(certs.client.cert),
    key: await readFile(certs.client.key),
  };
  await writePyKmipServerConfig(dir, port, certs, 'INFO');
  server = spawn(PYTHON, ['-c', 'import sys; from kmip.services.server.server import main; sys.exit(main())', '-f', join(dir, 'server.conf'), '-l', join(dir, 'server.log')], {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, PYTHONWARNINGS: 'ignore' },
  });
  server.stdout?.on('data', (d: Buffer) => (serverOutput += d.toString()));
  server.stderr?.on('data', (d: Buffer) => (serverOutput += d.toString()));
  await waitForServer(30_000);
});

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  // PyKMIP forks helpers (a multiprocessing Manager and the policy monitor), so the server
  // runs in its own process group and the whole group is stopped: TERM, then KILL.
  if (server?.pid !== undefined) await stopGroup(server.pid, 5000);
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function call(c: KmipClient, version: KmipVersion, batch: RequestBatchItemSpec[]): Promise<ParsedResponse> {
  const res = parseResponse(await c.send(requestMessage({ version, batch })));
  expect(res.header.version).toEqual(version);
  expect(res.items).toHaveLength(batch.length);
  return res;
}

async function one(c: KmipClient, version: KmipVersion, item: RequestBatchItemSpec) {
  const res = await call(c, version, [item]);
  const r = res.items[0]!;
  expect(r.operation).toBe(item.operation);
  return r;
}

const versions: [string, KmipVersion][] = [
  ['1.2', { major: 1, minor: 2 }],
  ['2.0', { major: 2, minor: 0 }],
];

for (const [vs, v] of versions) {
  describe(`KmipClient against the PyKMIP server, KMIP ${vs}`, () => {
    it('Create an AES-256 key, Get it, Locate it, Destroy it', async () => {
      const c = await connect();
      expect(c.tlsProtocol).toBe('TLSv1.2');
      const name = `interop-${vs}-${Date.now()}`;

      const created = await one(c, v, {
        operation: Operation.Create,
        payload: createSymmetricKeyPayload(v, {
          algorithm: CryptographicAlgorithm.AES,
          length: 256,
          usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt,
          name,
        }),
      });
      const createdPayload = expectSuccess(created);
      expect(findChild(createdPayload, Tag.ObjectType)).toMatchObject({ value: ObjectType.SymmetricKey });
      const uid = uniqueIdentifierOf(createdPayload);
      expect(uid).not.toBe('');

      const got = expectSuccess(await one(c, v, { operation: Operation.Get, payload: getPayload(uid) }));
      expect(uniqueIdentifierOf(got)).toBe(uid);
      expect(findChild(got, Tag.ObjectType)).toMatchObject({ value: ObjectType.SymmetricKey });
      const key = keyMaterialOf(got);
      expect(key).toHaveLength(32);
      expect(Buffer.from(key).equals(Buffer.alloc(32))).toBe(false);
      const block = findPath(got, Tag.SymmetricKey, Tag.KeyBlock);
      expect(findChild(block, Tag.KeyFormatType)).toMatchObject({ value: KeyFormatType.Raw });
      expect(findChild(block, Tag.CryptographicAlgorithm)).toMatchObject({ value: CryptographicAlgorithm.AES });
      expect(findChild(block, Tag.CryptographicLength)).toMatchObject({ value: 256 });

      // A second Get returns the same key material.
      const again = expectSuccess(await one(c, v, { operation: Operation.Get, payload: getPayload(uid) }));
      expect(Buffer.from(keyMaterialOf(again)).equals(Buffer.from(key))).toBe(true);

      const located = expectSuccess(await one(c, v, { operation: Operation.Locate, payload: locatePayload(v, [attr.objectType(ObjectType.SymmetricKey), attr.name(name)]) }));
      expect(uniqueIdentifiersOf(located)).toEqual([uid]);

      const destroyed = expectSuccess(await one(c, v, { operation: Operation.Destroy, payload: destroyPayload(uid) }));
      expect(uniqueIdentifierOf(destroyed)).toBe(uid);

      // Gone: Get now fails with a reason, which the client surfaces as KmipResultError.
      const after = await one(c, v, { operation: Operation.Get, payload: getPayload(uid) });
      expect(after.status).toBe(ResultStatus.OperationFailed);
      expect(after.reason).toBe(ResultReason.ItemNotFound);
      let thrown: unknown;
      try {
        expectSuccess(after);
      } catch (err) {
        thrown = err;
      }
      expect(thrown).toBeInstanceOf(KmipResultError);
      expect((thrown as KmipResultError).reason).toBe(ResultReason.ItemNotFound);
    });

    it('Activate moves a key to Active, after which Destroy is refused', async () => {
      const c = await connect();
      const uid = uniqueIdentifierOf(
        expectSuccess(
          await one(c, v, {
            operation: Operation.Create,
            payload: createSymmetricKeyPayload(v, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: CryptographicUsageMask.Encrypt }),
          }),
        ),
      );
      expect(uniqueIdentifierOf(expectSuccess(await one(c, v, { operation: Operation.Activate, payload: activatePayload(uid) })))).toBe(uid);
      const located = expectSuccess(await one(c, v, { operation: Operation.Locate, payload: locatePayload(v, [attr.state(State.Active), attr.objectType(ObjectType.SymmetricKey)]) }));
      expect(uniqueIdentifiersOf(located)).toContain(uid);
      const refused = await one(c, v, { operation: Operation.Destroy, payload: destroyPayload(uid) });
      expect(refused.status).toBe(ResultStatus.OperationFailed);
      expect(refused.reason).toBeDefined();
    });

    it('Query reports the operations and the vendor', async () => {
      // PyKMIP 0.10 answers Query Objects with an empty list, so object types are not checked.
      const c = await connect();
      const q = expectSuccess(
        await one(c, v, {
          operation: Operation.Query,
          payload: queryPayload([QueryFunction.QueryOperations, QueryFunction.QueryObjects, QueryFunction.QueryServerInformation]),
        }),
      );
      const ops = findChildren(q, Tag.Operation).map((n) => n.value);
      expect(ops).toEqual(expect.arrayContaining([Operation.Create, Operation.Get, Operation.Locate, Operation.Destroy, Operation.Query]));
      expect(findChild(q, Tag.VendorIdentification)).toMatchObject({ type: 'TextString', value: 'PyKMIP 0.10.0 Software Server' });
    });

    it('a batch of two items comes back as two results in order', async () => {
      const c = await connect();
      const res = await call(c, v, [
        { operation: Operation.DiscoverVersions, payload: discoverVersionsPayload(), uniqueBatchItemId: new Uint8Array([1]) },
        { operation: Operation.Query, payload: queryPayload([QueryFunction.QueryObjects]), uniqueBatchItemId: new Uint8Array([2]) },
      ]);
      expect(res.items.map((i) => i.operation)).toEqual([Operation.DiscoverVersions, Operation.Query]);
      expect(res.items.map((i) => Buffer.from(i.uniqueBatchItemId ?? []).toString('hex'))).toEqual(['01', '02']);
      const versionsOffered = findChildren(expectSuccess(res.items[0]!), Tag.ProtocolVersion).map((pv) => ({
        major: findChild(pv, Tag.ProtocolVersionMajor)?.value,
        minor: findChild(pv, Tag.ProtocolVersionMinor)?.value,
      }));
      expect(versionsOffered).toEqual(
        expect.arrayContaining([
          { major: 2, minor: 0 },
          { major: 1, minor: 2 },
        ]),
      );
    });
  });
}

describe('the PyKMIP server sandbox', () => {
  it('kept its database and log inside the temp folder', async () => {
    await expect(readFile(join(dir, 'pykmip.db'))).resolves.toBeInstanceOf(Buffer);
    expect(await readFile(join(dir, 'server.log'), 'utf8')).toMatch(/Starting connection service/);
  });

  it('serves two of our clients at once, with two requests queued on one of them', async () => {
    const [a, b] = await Promise.all([connect(), connect()]);
    const v: KmipVersion = { major: 1, minor: 2 };
    const req = { operation: Operation.Query, payload: queryPayload([QueryFunction.QueryObjects]) };
    const results = await Promise.all([one(a, v, req), one(a, v, req), one(b, v, req)]);
    for (const r of results) expect(r.status).toBe(ResultStatus.Success);
  });
});
