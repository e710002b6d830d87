/**
 * New-connection benchmark: a new mutual-TLS connection plus one Get, one after another
 * from one client, against this build's server run as a child process (temporary data
 * folder, the development certificates). Two rounds: full handshakes (no session offered)
 * and resumed ones (the session ticket of the previous connection offered each time).
 *
 *   npm run build && node dist/bench/connect.js [--n 300] [--tls 1.2|1.3] [--certs certs/dev]
 *
 * Prints ops/s, p50/p99 in milliseconds, and how many connections were resumed. Numbers
 * depend on the machine's load; they are for before/after comparisons, never for tests.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { createSecureContext } from 'node:tls';
import { KmipClient } from '../src/client/index.js';
import { createSymmetricKeyPayload, expectSuccess, getPayload, parseResponse, requestMessage, uniqueIdentifierOf } from '../src/client/requests.js';
import { CryptographicAlgorithm, Operation } from '../src/kmip/generated/enums.gen.js';

const { values } = parseArgs({ options: { n: { type: 'string' }, tls: { type: 'string' }, certs: { type: 'string' } } });
const n = Number(values.n ?? 300);
const certs = values.certs ?? 'certs/dev';
const maxVersion = values.tls === '1.2' ? 'TLSv1.2' : 'TLSv1.3';
const V = { major: 2, minor: 1 };

async function startServer(): Promise<{ port: number; stop: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kms-bench-connect-'));
  const child = spawn(
    process.execPath,
    [
      new URL('../src/cli/main.js', import.meta.url).pathname,
      'serve',
      '--port',
      '0',
      '--data-dir',
      dataDir,
      '--cert',
      join(certs, 'server.pem'),
      '--key',
      join(certs, 'server.key'),
      '--ca',
      join(certs, 'ca.pem'),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      try {
        const rec = JSON.parse(line) as { msg?: string; port?: number };
        if (rec.msg === 'KMIP server listening' && rec.port) resolve(rec.port);
      } catch {
        // not a log line
      }
    });
  });
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const server = await startServer();
  const material = { ca: readFileSync(join(certs, 'ca.pem')), cert: readFileSync(join(certs, 'client.pem')), key: readFileSync(join(certs, 'client.key')) };
  const secureContext = createSecureContext({ ...material, maxVersion });
  const base = { host: '127.0.0.1', port: server.port, servername: 'localhost', ...material, secureContext };
  try {
    const setup = await KmipClient.connect(base);
    const created = parseResponse(
      await setup.send(
        requestMessage({
          version: V,
          batch: [{ operation: Operation.Create, payload: createSymmetricKeyPayload(V, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: 0x0c /* Encrypt | Decrypt */ }) }],
        }),
      ),
    );
    const uid = uniqueIdentifierOf(expectSuccess(created.items[0]!));
    await setup.close();
    const get = requestMessage({ version: V, batch: [{ operation: Operation.Get, payload: getPayload(uid) }] });

    for (const resume of [false, true]) {
      let session: Buffer | undefined;
      let resumed = 0;
      const times: number[] = [];
      const t0 = performance.now();
      for (let i = 0; i < n + 20; i++) {
        const start = performance.now();
        const c = await KmipClient.connect({ ...base, ...(resume && session ? { session } : {}) });
        expectSuccess(parseResponse(await c.send(get)).items[0]!);
        if (i >= 20) {
          times.push(performance.now() - start);
          if (c.sessionReused) resumed++;
        }
        session = c.tlsSession ?? session;
        await c.close();
      }
      const total = performance.now() - t0;
      times.sort((a, b) => a - b);
      console.log(
        `${resume ? 'resumed' : 'full   '} ${maxVersion}: ${((n + 20) / (total / 1000)).toFixed(0)} conn+Get/s, p50 ${pct(times, 50).toFixed(2)} ms, p99 ${pct(times, 99).toFixed(2)} ms, resumed ${resumed}/${n}`,
      );
    }
  } finally {
    await server.stop();
  }
}

await main();
