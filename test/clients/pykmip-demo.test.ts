/**
 * Tolerance T1 with a real client: PyKMIP 0.10's own Create Key Pair demo
 * (kmip/demos/units/create_key_pair.py, shipped in Debian's python3-pykmip) sends the key
 * pair's Name in the Common Template-Attribute and again in the Private and Public Key ones.
 * Run unchanged against our server (KMIP 1.2, mutual TLS, a PyKMIP config file naming our dev
 * certificates); then our typed client checks both keys carry the Name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ObjectType, Operation, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { parseResponse, requestMessage } from '../../src/client/index.js';
import { startTestKms, CERTS, type TestKms } from '../support/kms.js';
import { stopGroup } from '../support/process-group.js';
import { V1_2 } from '../support/kmip-session.js';
import { locateByName } from './payloads.js';
import { located } from './replay.js';

const PYTHON = '/usr/bin/python3';
const DEMO = '/usr/lib/python3/dist-packages/kmip/demos/units/create_key_pair.py';

let kms: TestKms;
let dir: string;
const running = new Set<ChildProcess>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kms-pykmip-demo-'));
  kms = await startTestKms();
  await writeFile(
    join(dir, 'pykmip.conf'),
    [
      '[client]',
      'host=127.0.0.1',
      `port=${kms.port}`,
      `certfile=${join(CERTS, 'client.pem')}`,
      `keyfile=${join(CERTS, 'client.key')}`,
      `ca_certs=${join(CERTS, 'ca.pem')}`,
      'cert_reqs=CERT_REQUIRED',
      'ssl_version=PROTOCOL_SSLv23',
      'do_handshake_on_connect=True',
      'suppress_ragged_eofs=True',
      '',
    ].join('\n'),
  );
});

afterAll(async () => {
  await Promise.all([...running].map(stopGroup));
  await kms?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function runDemo(args: string[]): Promise<{ code: number | null; log: string }> {
  const child = spawn(PYTHON, [DEMO, ...args], { cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONWARNINGS: 'ignore', HOME: dir } });
  running.add(child);
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  const code = await new Promise<number | null>((res) => {
    const timer = setTimeout(() => void stopGroup(child), 60_000);
    child.on('exit', (c) => {
      clearTimeout(timer);
      res(c);
    });
  });
  running.delete(child);
  return { code, log };
}

it('T1 PyKMIP 0.10 create_key_pair demo (Name in the Common, Private and Public sets) succeeds, and both keys carry the Name', async () => {
  const name = `pykmip-demo-pair-${process.pid}`;
  const { code, log } = await runDemo(['-c', 'client', '--config-file', join(dir, 'pykmip.conf'), '-a', 'RSA', '-l', '2048', '-n', name]);
  expect(code, log).toBe(0);
  expect(log, log).toMatch(/create_key_pair\(\) result status: ResultStatus\.SUCCESS|result status: SUCCESS/);
  const priv = /private key UUID: (\S+)/.exec(log)?.[1];
  const pub = /public key UUID: (\S+)/.exec(log)?.[1];
  expect(priv, log).toBeDefined();
  expect(pub, log).toBeDefined();

  const c = await kms.client();
  const find = async (objectType?: number) => {
    const res = parseResponse(await c.send(requestMessage({ version: V1_2, batch: [{ operation: Operation.Locate, payload: locateByName(V1_2, name, objectType) }] })));
    expect(res.items[0]!.status).toBe(ResultStatus.Success);
    return located(res.items[0]!.payload!);
  };
  expect((await find()).sort()).toEqual([priv, pub].sort());
  expect(await find(ObjectType.PublicKey)).toEqual([pub]);
  expect(await find(ObjectType.PrivateKey)).toEqual([priv]);
});
