/**
 * `kms serve` as a user runs it: a child process on an empty data folder makes development
 * certificates, listens, answers a client holding the generated client certificate, and on
 * SIGTERM stops cleanly with exit code 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, describe, expect, it } from 'vitest';
import { KmipClient } from '../../src/client/index.js';
import { discoverVersionsPayload, parseResponse, requestMessage } from '../../src/client/requests.js';
import { Operation, ResultStatus } from '../../src/kmip/generated/enums.gen.js';

const KMS = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;
const children: ChildProcess[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
});

interface LogLine {
  msg: string;
  [k: string]: unknown;
}

function serve(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [KMS, 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const lines: LogLine[] = [];
  const waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (raw) => {
    const line = JSON.parse(raw) as LogLine;
    lines.push(line);
    for (const w of waiters.filter((w) => w.pred(line))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(line);
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = (pred: (l: LogLine) => boolean, ms = 20_000) =>
    new Promise<LogLine>((resolve, reject) => {
      const found = lines.find(pred);
      if (found) return resolve(found);
      waiters.push({ pred, resolve });
      setTimeout(() => reject(new Error(`timed out; log so far: ${JSON.stringify(lines)}`)), ms);
    });
  return { child, lines, exited, waitFor };
}

describe('kms serve', () => {
  it('first start on an empty data folder: dev certificates, listening, served, SIGTERM exits 0', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kms-serve-'));
    const s = serve(['--port', '0', '--data-dir', dataDir]);
    const certs = await s.waitFor((l) => l.msg.startsWith('using development certificates'));
    const listening = await s.waitFor((l) => l.msg === 'KMIP server listening');
    expect(listening.host).toBe('127.0.0.1');
    const port = listening.port as number;
    // The log says where the client material is; it is there, private keys 0600.
    const clientKey = certs.clientKey as string;
    expect(existsSync(clientKey)).toBe(true);
    expect(statSync(clientKey).mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, 'master.key')).mode & 0o777).toBe(0o600);

    const client = await KmipClient.connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: readFileSync(certs.ca as string),
      cert: readFileSync(certs.clientCert as string),
      key: readFileSync(clientKey),
    });
    const r = parseResponse(await client.send(requestMessage({ version: { major: 2, minor: 1 }, batch: [{ operation: Operation.DiscoverVersions, payload: discoverVersionsPayload([]) }] })));
    expect(r.items[0]!.status).toBe(ResultStatus.Success);
    await client.close();

    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(s.lines.some((l) => l.msg === 'KMIP server stopped')).toBe(true);
  });

  it('flags and KMS_ environment variables configure it; a bad value exits 2', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kms-serve-'));
    const s = serve(['--data-dir', dataDir], { KMS_PORT: '0', KMS_LOG_LEVEL: 'warn' });
    // At warn level the "listening" info line is not printed, but the dev-certificate warning is.
    await s.waitFor((l) => l.msg.startsWith('using development certificates'));
    s.child.kill('SIGINT');
    expect(await s.exited).toBe(0);
    expect(s.lines.some((l) => l.msg === 'KMIP server listening')).toBe(false);

    const bad = serve(['--port', 'abc', '--data-dir', dataDir]);
    expect(await bad.exited).toBe(2);
  });

  it('a port already in use: exit 3 with a message', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'kms-serve-'));
    const first = serve(['--port', '0', '--data-dir', dataDir]);
    const port = (await first.waitFor((l) => l.msg === 'KMIP server listening')).port as number;
    const second = serve(['--port', String(port), '--data-dir', mkdtempSync(join(tmpdir(), 'kms-serve-'))]);
    expect(await second.exited).toBe(3);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
  });
});
