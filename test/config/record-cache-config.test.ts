/** The recordCache section: file, then KMS_RECORD_CACHE_* environment; strict; listed in `kms serve --help`. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { RECORD_CACHE_ENV_KEYS } from '../../src/config/record-cache.js';
import { serveCommand } from '../../src/cli/serve.js';

function file(obj: unknown): string {
  const p = join(mkdtempSync(join(tmpdir(), 'kms-cfg-')), 'kms.json');
  writeFileSync(p, JSON.stringify(obj));
  return p;
}

describe('recordCache config', () => {
  it('file, then environment over it; unknown keys and bad values refused', () => {
    const f = file({ recordCache: { maxEntries: 500, maxBytes: 1024 } });
    expect(loadConfig({ env: {}, flags: { config: f } }).recordCache).toEqual({ maxEntries: 500, maxBytes: 1024 });
    expect(loadConfig({ env: { KMS_RECORD_CACHE_MAX_ENTRIES: '0' }, flags: { config: f } }).recordCache).toEqual({ maxEntries: 0, maxBytes: 1024 });
    expect(loadConfig({ env: { KMS_RECORD_CACHE_MAX_BYTES: '4096' } }).recordCache).toEqual({ maxBytes: 4096 });
    expect(loadConfig({ env: {} }).recordCache).toBeUndefined();
    expect(() => loadConfig({ env: {}, flags: { config: file({ recordCache: { ttlMs: 1 } }) } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: {}, flags: { config: file({ recordCache: { maxEntries: -1 } }) } })).toThrow(/recordCache.maxEntries/);
    expect(() => loadConfig({ env: { KMS_RECORD_CACHE_MAX_BYTES: 'lots' } })).toThrow(/recordCache.maxBytes/);
  });

  it('every variable and key is in `kms serve --help`', () => {
    for (const [name, key] of Object.entries(RECORD_CACHE_ENV_KEYS)) {
      expect(serveCommand.help).toContain(name);
      expect(serveCommand.help).toContain(`recordCache.${key}`);
    }
  });
});
