/**
 * A backup carries the client registry (content.ts BACKED_UP_META): certificates issued by the
 * folder's CA, their names, the deny list and the CRL number. Restored on a new server, a
 * client that was revoked stays refused and the others are served; node-local metadata (a
 * lease, the readiness probe's stamp) does not travel.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSymmetricKeyPayload, KmipClient, uniqueIdentifierOf } from '../../src/client/index.js';
import { CryptographicAlgorithm, Operation } from '../../src/kmip/generated/enums.gen.js';
import { BACKED_UP_META } from '../../src/backup/content.js';
import { CLIENTS_PREFIX } from '../../src/clients/registry.js';
import { LevelStore } from '../../src/store/leveldb/index.js';
import { startTestKms, type TestKms } from '../support/kms.js';
import { Session, V2_1 } from '../support/kmip-session.js';
import { ensureBuilt, kmsHere, kmsSync, recoveryKeys } from './kit.js';

const work = mkdtempSync(join(tmpdir(), 'kms-backup-registry-'));
const source = join(work, 'source');
const restored = join(work, 'restored');
const backupFile = join(work, 'registry.kmsbak');
let keys: ReturnType<typeof recoveryKeys>;

/** Every meta entry of a stopped folder's store, as key → value (hex). */
async function metaOf(dataDir: string): Promise<Map<string, string>> {
  const store = new LevelStore({ path: join(dataDir, 'db') });
  await store.open();
  try {
    return new Map((await store.meta.list('', { limit: 100_000 })).map((e) => [e.key, Buffer.from(e.value).toString('hex')]));
  } finally {
    await store.close();
  }
}

/** A connection to the server on `dataDir` (its CA) with the client certificate `kms certs issue` gave `name` (the clients keep theirs). */
async function attempt(dataDir: string, port: number, name: string): Promise<string> {
  const issued = join(source, 'certs', 'clients');
  let c: KmipClient;
  try {
    c = await KmipClient.connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: readFileSync(join(dataDir, 'certs', 'ca.pem')),
      cert: readFileSync(join(issued, `${name}.pem`)),
      key: readFileSync(join(issued, `${name}.key`)),
      timeoutMs: 10_000,
    });
  } catch (e) {
    return `connect failed: ${(e as Error).message}`;
  }
  try {
    uniqueIdentifierOf(await new Session(c, V2_1).ok(Operation.Create, createSymmetricKeyPayload(V2_1, { algorithm: CryptographicAlgorithm.AES, length: 256, usageMask: 12 })));
    return 'served';
  } catch (e) {
    return `refused: ${(e as Error).message}`;
  } finally {
    await c.close().catch(() => undefined);
  }
}

let before: Map<string, string>;
beforeAll(async () => {
  ensureBuilt();
  keys = recoveryKeys(work);
  const init = kmsSync(['init', '--data-dir', source, '--recovery-key', keys.rsaPub]);
  expect(init.code, init.stderr).toBe(0);
  // Served once (its readiness stamp and the first checkpoint are written), then stopped.
  const srv: TestKms = await startTestKms({ cert: undefined, key: undefined, ca: undefined, httpsPort: 'ephemeral' }, { dataDir: source });
  await srv.stop();
  for (const name of ['array-1', 'array-2', 'tape-7']) {
    const r = await kmsHere(['certs', 'issue', '--client', name, '--data-dir', source]);
    expect(r.code, r.stderr).toBe(0);
  }
  const rv = await kmsHere(['certs', 'revoke', 'array-2', '--reason', 'keyCompromise', '--data-dir', source]);
  expect(rv.code, rv.stderr).toBe(0);
  before = await metaOf(source);
}, 120_000);
afterAll(() => undefined);

describe('the client registry in a backup', () => {
  it('is the one registry prefix, and the only metadata carried', () => {
    expect(BACKED_UP_META).toEqual([CLIENTS_PREFIX]);
    // The source holds more than the registry (at least the registry's entries and the CRL number).
    expect([...before.keys()].filter((k) => k.startsWith(CLIENTS_PREFIX)).length).toBeGreaterThanOrEqual(7);
  });

  it('backup and verify count the registry entries; restore writes exactly them', async () => {
    const registry = [...before].filter(([k]) => k.startsWith(CLIENTS_PREFIX));
    const b = await kmsHere(['backup', '--data-dir', source, '--out', backupFile]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toContain(`${registry.length} client registry entries`);
    const v = await kmsHere(['backup', 'verify', backupFile, '--recovery-key', keys.rsaKey]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toContain(`${registry.length} client registry entries`);
    const r = kmsSync(['restore', '--in', backupFile, '--data-dir', restored, '--recovery-key', keys.rsaKey]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${registry.length} client registry entries`);
    const after = await metaOf(restored);
    const restoredRegistry = [...after].filter(([k]) => k.startsWith(CLIENTS_PREFIX));
    expect(restoredRegistry).toEqual(registry);
    // Nothing else of the source's metadata came along.
    for (const k of after.keys()) if (!k.startsWith(CLIENTS_PREFIX)) expect(before.get(k) === after.get(k) && before.has(k), k).toBe(false);
  });

  it('a server on the restored folder refuses the revoked client and serves the others', async () => {
    const srv = await startTestKms({ cert: undefined, key: undefined, ca: undefined }, { dataDir: restored });
    try {
      expect(await attempt(restored, srv.port, 'array-1')).toBe('served');
      expect(await attempt(restored, srv.port, 'tape-7')).toBe('served');
      expect(await attempt(restored, srv.port, 'array-2')).toMatch(/^(refused|connect failed)/);
    } finally {
      await srv.stop();
    }
    const list = await kmsHere(['certs', 'list', '--json', '--data-dir', restored]);
    expect(list.code, list.stderr).toBe(0);
    const rows = JSON.parse(list.stdout) as { name: string; status?: string; revokedAt?: string }[];
    expect(rows.map((x) => x.name).sort()).toEqual(['array-1', 'array-2', 'tape-7']);
  });
});
