/**
 * The operator commands around the HTTPS face: `kms status` (admin socket) against a running
 * server, `kms ttlv --send` (KMIP over HTTPS from the command line), `kms config check`, and
 * `kms serve --log-file` reopening its file on SIGHUP.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSymmetricKeyPayload, expectSuccess, parseResponse, requestMessage, uniqueIdentifierOf } from '../../src/client/requests.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../../src/kmip/generated/masks.gen.js';
import type { ServerStatus } from '../../src/http/status.js';
import { KMS_MAIN, runKmsHere, writeServeConfig } from '../support/kms-process.js';
import { CERTS, startTestKms, type TestKms } from '../support/kms.js';

const V21 = { major: 2, minor: 1 };

describe('kms status and kms ttlv --send against a running server', () => {
  let kms: TestKms;
  beforeAll(async () => {
    kms = await startTestKms({ httpsPort: 'ephemeral' });
  });
  afterAll(async () => {
    await kms.dispose();
  });

  it('kms status shows readiness, both listeners, object counts and the KEK', async () => {
    const c = await kms.client();
    const uid = uniqueIdentifierOf(
      expectSuccess(
        parseResponse(
          await c.send(
            requestMessage({
              version: V21,
              batch: [
                { operation: Operation.Create, payload: createSymmetricKeyPayload(V21, { algorithm: CryptographicAlgorithm.AES, length: 128, usageMask: CryptographicUsageMask.Encrypt }) },
              ],
            }),
          ),
        ).items[0]!,
      ),
    );
    expect(uid).toBeTruthy();
    const r = await runKmsHere(['status', '--data-dir', kms.dataDir, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as ServerStatus;
    expect(s.readiness.ready).toBe(true);
    expect(s.listeners).toEqual([
      { name: 'kmip', address: '127.0.0.1', port: kms.port, connections: 1 },
      { name: 'https', address: '127.0.0.1', port: kms.kms.httpsAddress!.port, connections: 0 },
    ]);
    expect(s.objects.total).toBe(1);
    expect(s.objects.byType).toEqual({ SymmetricKey: 1 });
    expect(s.objects.byState).toEqual({ PreActive: 1 });
    expect(s.protector.currentKek).toBe(kms.kms.services.protector.kekId);
    expect(s.audit.head).toBe(kms.kms.services.store.audit.head().seq);

    const text = await runKmsHere(['status', '--data-dir', kms.dataDir]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^ready: yes$/m);
    expect(text.stdout).toMatch(new RegExp(`^  https +127\\.0\\.0\\.1:${kms.kms.httpsAddress!.port}`, 'm'));
  });

  it('kms status on a folder with no running server exits 3', async () => {
    const r = await runKmsHere(['status', '--data-dir', mkdtempSync(join(tmpdir(), 'kms-no-server-'))]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/no server is running/);
  });

  it.each(['ttlv', 'xml', 'json'])('kms ttlv --send --encoding %s: Discover Versions over HTTPS, reply printed as XML', async (encoding) => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-ttlv-send-'));
    const req = join(dir, 'req.xml');
    writeFileSync(
      req,
      '<RequestMessage><RequestHeader><ProtocolVersion><ProtocolVersionMajor type="Integer" value="1"/><ProtocolVersionMinor type="Integer" value="2"/></ProtocolVersion><BatchCount type="Integer" value="1"/></RequestHeader><BatchItem><Operation type="Enumeration" value="DiscoverVersions"/><RequestPayload/></BatchItem></RequestMessage>',
    );
    const r = await runKmsHere([
      'ttlv',
      '--send',
      `https://127.0.0.1:${kms.kms.httpsAddress!.port}/kmip`,
      '--servername',
      'localhost',
      '--encoding',
      encoding,
      '--cert',
      join(CERTS, 'client.pem'),
      '--key',
      join(CERTS, 'client.key'),
      '--ca',
      join(CERTS, 'ca.pem'),
      '--to',
      'xml',
      req,
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^<ResponseMessage>/);
    expect(r.stdout).toContain('<ResultStatus type="Enumeration" value="Success"/>');
    // Answered in the version asked (1.2), listing 2.1 first.
    expect(r.stdout.replace(/\s+/g, '')).toMatch(/<ResponseHeader><ProtocolVersion><ProtocolVersionMajortype="Integer"value="1"\/><ProtocolVersionMinortype="Integer"value="2"\/>/);
  });
});

describe('kms config check', () => {
  it('accepts a good configuration and names each problem of a bad one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-config-check-'));
    const good = writeServeConfig(dir, { httpsPort: 15697 });
    const ok = await runKmsHere(['config', 'check', '--config', good]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^HTTPS: +15697$/m);
    expect(ok.stdout).toMatch(/configuration OK/);

    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...JSON.parse(readFileSync(good, 'utf8')), key: join(CERTS, 'client.key'), metrics: { access: 'token', tokenFile: join(dir, 'missing-token') } }));
    const no = await runKmsHere(['config', 'check', '--config', bad]);
    expect(no.code).toBe(2);
    expect(no.stderr).toMatch(/does not belong to the certificate/);
    expect(no.stderr).toMatch(/metrics\.tokenFile .*missing-token/);

    const unknown = join(dir, 'unknown.json');
    writeFileSync(unknown, JSON.stringify({ httpsPrt: 1 }));
    const u = await runKmsHere(['config', 'check', '--config', unknown]);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/unknown key httpsPrt/);
  });
});

describe('kms serve --log-file', () => {
  it('logs to the file, not stdout, and reopens it on SIGHUP (log rotation)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-log-file-'));
    const logFile = join(dir, 'kms.log');
    const config = writeServeConfig(dir, { logFile });
    const child = spawn(process.execPath, [KMS_MAIN, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const waitFor = async (text: string) => {
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && !(existsSync(logFile) && readFileSync(logFile, 'utf8').includes(text))) await new Promise((r) => setTimeout(r, 100));
    };
    await waitFor('HTTPS listening');
    const first = readFileSync(logFile, 'utf8');
    expect(first).toContain('"msg":"KMIP server listening"');
    expect(first).toContain('"msg":"HTTPS listening');
    renameSync(logFile, `${logFile}.1`);
    child.kill('SIGHUP');
    await new Promise((r) => setTimeout(r, 300));
    // After the reopen, the next lines go to a new file at the configured path.
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await waitFor('KMIP server stopped');
    expect(readFileSync(logFile, 'utf8')).toContain('"msg":"KMIP server stopped"');
    expect(readFileSync(`${logFile}.1`, 'utf8')).not.toContain('KMIP server stopped');
    expect(stdout).toBe('');
  });
});
