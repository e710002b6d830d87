/**
 * Choosing the store (docs/cluster-nodes.md): `store` in the config file, KMS_STORE, --store;
 * only postgresql:// URLs; the password never shown; the storePool section and its variables.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { redactIn, redactStoreUrl } from '../../src/config/store-url.js';
import { runKmsHere } from '../support/kms-process.js';

describe('the store setting', () => {
  it('comes from the file, the environment and the flag, in that order of precedence', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-store-config-'));
    const file = join(dir, 'kms.json');
    writeFileSync(file, JSON.stringify({ store: 'postgresql://kms@db1:5432/kms', storePool: { poolSize: 4 } }));
    expect(loadConfig({ file }).store).toBe('postgresql://kms@db1:5432/kms');
    expect(loadConfig({ file }).storePool).toEqual({ poolSize: 4 });
    const env = { KMS_STORE: 'postgres://kms@db2/kms', KMS_STORE_QUERY_TIMEOUT_MS: '5000', KMS_STORE_POOL_SIZE: '6' };
    expect(loadConfig({ file, env }).store).toBe('postgres://kms@db2/kms');
    expect(loadConfig({ file, env }).storePool).toEqual({ poolSize: 6, queryTimeoutMs: 5000 });
    expect(loadConfig({ file, env, flags: { store: 'postgresql://kms@db3/kms' } }).store).toBe('postgresql://kms@db3/kms');
    expect(loadConfig({}).store).toBeUndefined();
  });

  it('refuses what is not a postgresql:// URL, and out-of-range pool settings, naming the setting', () => {
    expect(() => loadConfig({ env: { KMS_STORE: '/var/lib/kms' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { KMS_STORE: 'mysql://db/kms' } })).toThrow(/KMS_STORE: store must be a postgresql:\/\/ URL/);
    expect(() => loadConfig({ env: { KMS_STORE_POOL_SIZE: '0' } })).toThrow(/storePool.poolSize must be an integer from 1/);
    expect(() => loadConfig({ env: { KMS_STORE_CONNECT_TIMEOUT_MS: 'soon' } })).toThrow(/KMS_STORE_CONNECT_TIMEOUT_MS/);
  });

  it('never shows the password', () => {
    const url = 'postgresql://kms:s3cr3t-Pa55@db1:5432/kms?sslmode=require&password=other-secret';
    const shown = redactStoreUrl(url);
    expect(shown).not.toContain('s3cr3t-Pa55');
    expect(shown).not.toContain('other-secret');
    expect(shown).toContain('db1:5432/kms');
    expect(redactIn(`connect failed for ${url}: password s3cr3t-Pa55 rejected`, url)).not.toContain('s3cr3t-Pa55');
  });

  it('kms serve --help names the flag, the variable and the pool settings', async () => {
    const r = await runKmsHere(['serve', '--help']);
    for (const s of ['--store URL', 'KMS_STORE', 'KMS_STORE_POOL_SIZE', 'KMS_STORE_MAX_GROUP_COMMITS', 'KMS_STORE_CONNECT_TIMEOUT_MS', 'KMS_STORE_QUERY_TIMEOUT_MS'])
      expect(r.stdout).toContain(s);
  });
});
