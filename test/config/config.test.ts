/** Config loading: defaults < file < environment < flags; strict about unknown keys and bad values. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, loadConfig } from '../../src/config/config.js';

function file(obj: unknown): string {
  const p = join(mkdtempSync(join(tmpdir(), 'kms-cfg-')), 'kms.json');
  writeFileSync(p, JSON.stringify(obj));
  return p;
}

describe('loadConfig', () => {
  it('defaults: port 5696 on loopback, data in ./kms-data', () => {
    const c = loadConfig();
    expect(c.port).toBe(5696);
    expect(c.host).toBe('127.0.0.1');
    expect(c.dataDir.endsWith('kms-data')).toBe(true);
    expect(c.limits).toEqual(DEFAULT_CONFIG.limits);
  });

  it('file < environment < flags', () => {
    const f = file({ port: 6000, host: '0.0.0.0', limits: { maxConnections: 10 } });
    expect(loadConfig({ file: f }).port).toBe(6000);
    expect(loadConfig({ file: f, env: { KMS_PORT: '6001' } }).port).toBe(6001);
    const c = loadConfig({ file: f, env: { KMS_PORT: '6001', KMS_MAX_CONNECTIONS: '20' }, flags: { port: '6002' } });
    expect(c.port).toBe(6002);
    expect(c.host).toBe('0.0.0.0');
    expect(c.limits.maxConnections).toBe(20);
    expect(c.limits.idleTimeoutMs).toBe(DEFAULT_CONFIG.limits.idleTimeoutMs);
  });

  it('the config file can be named by KMS_CONFIG or --config', () => {
    const f = file({ port: 7000 });
    expect(loadConfig({ env: { KMS_CONFIG: f } }).port).toBe(7000);
    expect(loadConfig({ flags: { config: f } }).port).toBe(7000);
  });

  it('access grants and administrators are read', () => {
    const c = loadConfig({ file: file({ access: { administrators: ['admin'], grants: [{ identity: 'bob', objectGroup: 'shared', operations: ['Get'] }] } }) });
    expect(c.access.administrators).toEqual(['admin']);
    expect(c.access.grants[0]).toEqual({ identity: 'bob', objectGroup: 'shared', operations: ['Get'] });
  });

  it.each([
    [{ prot: 5696 }, /unknown key prot/],
    [{ limits: { maxConections: 1 } }, /unknown key limits.maxConections/],
    [{ port: 'many' }, /port must be a non-negative integer/],
    [{ identity: 'email' }, /identity must be one of cn, san, dn/],
    [{ access: { grants: [{ identity: 'bob' }] } }, /access.grants\[0\]/],
    [{ cert: '/x.pem' }, /give all of cert, key and ca, or none/],
  ])('refuses %j', (obj, message) => {
    expect(() => loadConfig({ file: file(obj) })).toThrow(ConfigError);
    expect(() => loadConfig({ file: file(obj) })).toThrow(message);
  });

  it('keyCache: file, then KMS_KEY_CACHE_* environment; unknown keys and negatives refused', () => {
    const f = file({ keyCache: { maxEntries: 5, ttlMs: 1000 } });
    expect(loadConfig({ env: {}, flags: { config: f } }).keyCache).toEqual({ maxEntries: 5, ttlMs: 1000 });
    expect(loadConfig({ env: { KMS_KEY_CACHE_MAX_ENTRIES: '0' }, flags: { config: f } }).keyCache).toEqual({ maxEntries: 0, ttlMs: 1000 });
    expect(() => loadConfig({ env: {}, flags: { config: file({ keyCache: { size: 1 } }) } })).toThrow(/keyCache.size/);
    expect(() => loadConfig({ env: { KMS_KEY_CACHE_TTL_MS: '-1' } })).toThrow(/KMS_KEY_CACHE_TTL_MS/);
  });

  it('refuses a bad environment value, naming the variable', () => {
    expect(() => loadConfig({ env: { KMS_PORT: 'x' } })).toThrow(/KMS_PORT/);
    expect(() => loadConfig({ env: { KMS_PORT: '70000' } })).toThrow(/at most 65535/);
  });
});
