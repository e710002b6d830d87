/**
 * The server's CPU per Get without the network: a real server stack in this process (startKms:
 * LevelDB data folder, software key protector, record cache, audit trail with its default
 * read durability), and C concurrent request loops that each take a Get request message as
 * bytes, decode it, hand it to the dispatcher and encode the response, as a connection's
 * session does. TLS and sockets are left out, so what remains is the part of a Get this
 * process spends in our code, LevelDB's threads included (process CPU time, all threads).
 *
 *   npm run build && node dist/bench/get-path.js [--concurrency 16] [--seconds 5] [--keys 32] [--metrics]
 *   node --cpu-prof --cpu-prof-dir DIR dist/bench/get-path.js …   (then bench/cpuprofile.ts)
 *   … --alloc-prof FILE   a sampling heap profile of the measured period that keeps what GC
 *                         collected (every allocation, not only what survives), for DevTools
 *
 * `--metrics` turns the HTTPS listener on (an ephemeral port), which is when the server keeps
 * metrics. Prints ops/s, CPU µs per Get and the store's group writes per Get. Figures depend on
 * the machine's load; they are for before/after comparisons in one sitting, never for tests.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createSymmetricKeyPayload, getPayload, parseResponse, requestMessage, uniqueIdentifierOf } from '../src/client/requests.js';
import { DEFAULT_CONFIG, type KmsConfig } from '../src/config/config.js';
import { CryptographicAlgorithm, Operation, ResultStatus } from '../src/kmip/generated/enums.gen.js';
import { CryptographicUsageMask } from '../src/kmip/generated/masks.gen.js';
import { dispatch } from '../src/operations/dispatcher.js';
import { HANDLERS } from '../src/operations/index.js';
import { ensureDevCerts } from '../src/pki/dev-certs.js';
import { startKms } from '../src/server/bootstrap.js';
import type { LevelStore } from '../src/store/leveldb/level-store.js';
import { decode, encode } from '../src/ttlv/index.js';

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string' },
    seconds: { type: 'string' },
    keys: { type: 'string' },
    metrics: { type: 'boolean' },
    warmup: { type: 'string' },
    'alloc-prof': { type: 'string' },
  },
});
const C = Number(values.concurrency ?? 16);
const SECONDS = Number(values.seconds ?? 5);
const WARMUP = Number(values.warmup ?? 1);
const KEYS = Number(values.keys ?? 32);
const V = { major: 1, minor: 2 };

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kms-get-path-'));
  const certs = await ensureDevCerts(join(dir, 'certs'));
  const config: KmsConfig = {
    ...DEFAULT_CONFIG,
    port: 0,
    dataDir: join(dir, 'data'),
    cert: certs.server.cert,
    key: certs.server.key,
    ca: certs.ca.cert,
    ...(values.metrics ? { httpsPort: 'ephemeral' as const } : {}),
  };
  const kms = await startKms(config, { log: pino({ level: 'silent' }) });
  const principal = { id: 'kms-client' };
  let requestNo = 0;
  const send = async (bytes: Uint8Array): Promise<Uint8Array> => {
    const r = await dispatch(kms.services, HANDLERS, principal, decode(bytes), { connectionId: 'bench', requestNo: ++requestNo, remote: '127.0.0.1' });
    return encode(r.response);
  };
  const ok = (bytes: Uint8Array) => {
    const items = parseResponse(decode(bytes)).items;
    if (items.some((it) => it.status !== ResultStatus.Success)) throw new Error(`a request failed: ${JSON.stringify(items.map((it) => it.message))}`);
    return items;
  };
  try {
    const create = encode(
      requestMessage({
        version: V,
        batch: [
          {
            operation: Operation.Create,
            payload: createSymmetricKeyPayload(V, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: CryptographicUsageMask.Encrypt | CryptographicUsageMask.Decrypt }),
          },
        ],
      }),
    );
    const uids: string[] = [];
    for (let i = 0; i < KEYS; i++) uids.push(uniqueIdentifierOf(ok(await send(create))[0]!.payload));
    const gets = uids.map((u) => encode(requestMessage({ version: V, batch: [{ operation: Operation.Get, payload: getPayload(u) }] })));
    for (const g of gets) ok(await send(g)); // the first Get of each clears Fresh (a write)

    const store = kms.store as Partial<LevelStore>;
    let stop = false;
    let ops = 0;
    const loop = async (n: number) => {
      let i = n;
      while (!stop) {
        ok(await send(gets[i++ % gets.length]!));
        ops++;
      }
    };
    const loops = Array.from({ length: C }, (_, n) => loop(n));
    await new Promise((r) => setTimeout(r, WARMUP * 1000));
    const inspector = values['alloc-prof'] ? new Session() : undefined;
    if (inspector) {
      inspector.connect();
      await inspector.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    }
    const ops0 = ops;
    const writes0 = store.writes ? store.writes.synced + store.writes.unsynced : 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const cpu = process.cpuUsage(cpu0);
    const secs = (performance.now() - t0) / 1000;
    const n = ops - ops0;
    const writes = store.writes ? store.writes.synced + store.writes.unsynced - writes0 : 0;
    stop = true;
    await Promise.all(loops);
    if (inspector) {
      const { profile } = await inspector.post('HeapProfiler.stopSampling');
      writeFileSync(values['alloc-prof']!, JSON.stringify(profile));
      inspector.disconnect();
    }
    const perOp = (cpu.user + cpu.system) / n;
    process.stdout.write(
      `Get, ${C} concurrent, ${KEYS} keys${values.metrics ? ', metrics on' : ''}: ${Math.round(n / secs)} ops/s, ${perOp.toFixed(1)} µs CPU per Get (user ${(cpu.user / n).toFixed(1)}, system ${(cpu.system / n).toFixed(1)}), ${(writes / n).toFixed(3)} store writes per Get\n`,
    );
  } finally {
    await kms.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
