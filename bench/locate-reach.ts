/**
 * Locate cost for an identity that can see few of the store's objects (issue 13, item 2).
 *
 *   npm run build --silent && node dist/bench/locate-reach.js [total] [own]
 *
 * Preloads `total - own` AES keys owned by kms-client and `own` owned by alice into a fresh data
 * folder (src/bench/preload.ts, server stopped), starts the server in this process on loopback,
 * and has alice Locate (no attributes; no attributes with Maximum Items 10; State Active) a few
 * times. Prints the server process's CPU time per Locate and the uids returned. Client and server
 * share the process, so the CPU figure includes the client's (small) part.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { KmipClient, attr, locatePayload, uniqueIdentifiersOf, requestMessage, parseResponse } from '../src/client/index.js';
import { preload } from '../src/bench/preload.js';
import { DEFAULT_CONFIG } from '../src/config/config.js';
import { Operation, ResultStatus, State } from '../src/kmip/generated/enums.gen.js';
import { ensureDevCerts } from '../src/pki/dev-certs.js';
import { startKms } from '../src/server/bootstrap.js';

const total = Number(process.argv[2] ?? 10_000);
const own = Number(process.argv[3] ?? 4);
const V = { major: 2, minor: 1 };

const certs = await ensureDevCerts(join(tmpdir(), 'kms-locate-reach-certs'), { clientNames: ['kms-client', 'alice'] });
const dataDir = mkdtempSync(join(tmpdir(), 'kms-locate-reach-'));
await preload(dataDir, 0, total - own, 'kms-client');
await preload(dataDir, total - own, total, 'alice');
const kms = await startKms({ ...DEFAULT_CONFIG, port: 0, dataDir, cert: certs.server.cert, key: certs.server.key, ca: certs.ca.cert }, { log: pino({ level: 'silent' }) });
const alice = certs.clients.alice;
if (!alice) throw new Error('no alice certificate');
const client = await KmipClient.connect({
  host: '127.0.0.1',
  port: kms.address.port,
  servername: 'localhost',
  ca: readFileSync(certs.ca.cert),
  cert: readFileSync(alice.cert),
  key: readFileSync(alice.key),
});

async function locate(label: string, attrs: Parameters<typeof locatePayload>[1], opts: Parameters<typeof locatePayload>[2]): Promise<void> {
  const runs = 5;
  let uids: string[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) {
    const r = parseResponse(await client.send(requestMessage({ version: V, batch: [{ operation: Operation.Locate, payload: locatePayload(V, attrs, opts) }] })));
    const item = r.items[0]!;
    if (item.status !== ResultStatus.Success) throw new Error(`Locate failed: ${item.message}`);
    uids = uniqueIdentifiersOf(item.payload!);
  }
  const cpu = process.cpuUsage(cpu0);
  const ms = (performance.now() - t0) / runs;
  console.log(`${label.padEnd(40)} ${String(uids.length).padStart(3)} uids  cpu ${((cpu.user + cpu.system) / 1000 / runs).toFixed(1)} ms/locate  wall ${ms.toFixed(1)} ms`);
}

console.log(`store: ${total} objects, alice owns ${own}`);
await locate('Locate (no attributes)', [], {});
await locate('Locate (no attributes, Maximum Items 10)', [], { maximumItems: 10 });
await locate('Locate State=Active', [attr.state(State.Active)], {});
await client.close();
await kms.close();
rmSync(dataDir, { recursive: true, force: true });
