/**
 * The two limits of KEK rotation over a cluster (docs/cluster-nodes.md): storePool.kekLeaseTtlMs
 * and storePool.kekNodesWaitMs, from the config file and the environment, range-checked, and
 * shown by `kms serve --help`; `kms hsm --help` says how rotation works over a cluster.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { runKmsHere } from '../support/kms-process.js';

describe('KEK rotation settings over a cluster', () => {
  it('come from the file and the environment (which wins), range-checked by name', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'kms-kek-config-')), 'kms.json');
    writeFileSync(file, JSON.stringify({ storePool: { kekLeaseTtlMs: 120000, kekNodesWaitMs: 5000 } }));
    expect(loadConfig({ file }).storePool).toEqual({ kekLeaseTtlMs: 120000, kekNodesWaitMs: 5000 });
    expect(loadConfig({ file, env: { KMS_STORE_KEK_NODES_WAIT_MS: '0', KMS_STORE_KEK_LEASE_TTL_MS: '2000' } }).storePool).toEqual({ kekLeaseTtlMs: 2000, kekNodesWaitMs: 0 });
    expect(() => loadConfig({ env: { KMS_STORE_KEK_LEASE_TTL_MS: '10' } })).toThrow(/storePool.kekLeaseTtlMs must be an integer from 1000/);
    expect(() => loadConfig({ env: { KMS_STORE_KEK_NODES_WAIT_MS: 'later' } })).toThrow(/KMS_STORE_KEK_NODES_WAIT_MS/);
  });

  it('kms serve --help shows both; kms hsm --help explains rotation over a cluster', async () => {
    const serve = await runKmsHere(['serve', '--help']);
    for (const s of ['storePool.kekLeaseTtlMs', 'KMS_STORE_KEK_LEASE_TTL_MS', 'storePool.kekNodesWaitMs', 'KMS_STORE_KEK_NODES_WAIT_MS']) expect(serve.stdout).toContain(s);
    const hsm = await runKmsHere(['hsm', '--help']);
    for (const s of ['--store URL', '--forget-node NAME', 'lease/kek-rotation', 'storePool.kekNodesWaitMs']) expect(hsm.stdout).toContain(s);
  });
});
