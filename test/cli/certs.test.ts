/**
 * Enrolling an agent: `kms certs issue --client NAME` (the built command, as an operator runs
 * it) makes a certificate the server accepts, and the server knows the agent as NAME.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { KmipClient } from '../../src/client/index.js';
import { createSymmetricKeyPayload, parseResponse, requestMessage, uniqueIdentifierOf } from '../../src/client/requests.js';
import { DEFAULT_CONFIG } from '../../src/config/config.js';
import { CryptographicAlgorithm, Operation, ResultStatus } from '../../src/kmip/generated/enums.gen.js';
import { startKms, type RunningKms } from '../../src/server/bootstrap.js';
import { runKms } from '../support/kms-process.js';

const KMS = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;
const run = (args: string[]) => spawnSync(process.execPath, [KMS, ...args], { encoding: 'utf8', timeout: 30_000 });

let kms: RunningKms | undefined;
afterAll(async () => kms?.close());

describe('kms certs issue', () => {
  it('issues a clientAuth certificate from the data folder CA; the server knows the agent by its name', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kms-certs-'));
    // No CA yet: a clear message, exit 3.
    const none = run(['certs', 'issue', '--client', 'tape-lib-7', '--data-dir', dataDir]);
    expect(none.status).toBe(3);
    expect(none.stderr).toContain('no CA');

    // The first server start makes the CA; then the operator enrolls the agent.
    kms = await startKms({ ...DEFAULT_CONFIG, port: 0, dataDir }, { log: pino({ level: 'silent' }) });
    // Asynchronously: with a server running, the command asks it through its admin socket, and
    // this process (the server's) must keep answering meanwhile.
    const r = await runKms(['certs', 'issue', '--client', 'tape-lib-7', '--data-dir', dataDir]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const cert = join(dataDir, 'certs', 'clients', 'tape-lib-7.pem');
    const key = join(dataDir, 'certs', 'clients', 'tape-lib-7.key');
    expect(statSync(key).mode & 0o777).toBe(0o600);

    const client = await KmipClient.connect({
      host: '127.0.0.1',
      port: kms.address.port,
      servername: 'localhost',
      ca: readFileSync(join(dataDir, 'certs', 'ca.pem')),
      cert: readFileSync(cert),
      key: readFileSync(key),
    });
    const v = { major: 2, minor: 1 };
    const created = parseResponse(
      await client.send(
        requestMessage({
          version: v,
          batch: [{ operation: Operation.Create, payload: createSymmetricKeyPayload(v, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: 12 }) }],
        }),
      ),
    );
    expect(created.items[0]!.status).toBe(ResultStatus.Success);
    const record = await kms.services.store.get(uniqueIdentifierOf(created.items[0]!.payload));
    expect(record?.owner).toBe('tape-lib-7');
    await client.close();
  });

  it('usage errors exit 2', () => {
    expect(run(['certs']).status).toBe(2);
    expect(run(['certs', 'issue']).status).toBe(2);
    expect(run(['certs', 'issue', '--client', 'bad name!']).status).toBe(2);
    expect(run(['certs', 'issue', '--client', 'ok', '--days', '0']).status).toBe(2);
  });
});
