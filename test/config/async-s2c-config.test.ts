/** The async and serverToClient sections: file, then KMS_ASYNC_* / KMS_S2C_* environment; strict; listed in `kms serve --help`. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { ASYNC_ENV_KEYS } from '../../src/operations/async-requests.js';
import { SERVER_TO_CLIENT_ENV_KEYS } from '../../src/notify/hub.js';
import { serveCommand } from '../../src/cli/serve.js';

function file(obj: unknown): string {
  const p = join(mkdtempSync(join(tmpdir(), 'kms-cfg-')), 'kms.json');
  writeFileSync(p, JSON.stringify(obj));
  return p;
}

describe('async and serverToClient config', () => {
  it('async: file, then environment; operations by name; unknown keys, bad names and negatives refused', () => {
    const f = file({ async: { pendingAfterMs: 0, operations: ['CreateKeyPair', 'Locate'] } });
    expect(loadConfig({ env: {}, flags: { config: f } }).async).toEqual({ pendingAfterMs: 0, operations: ['CreateKeyPair', 'Locate'] });
    const env = loadConfig({ env: { KMS_ASYNC_MAX_PENDING_PER_IDENTITY: '5', KMS_ASYNC_OPERATIONS: 'DeriveKey, Certify' }, flags: { config: f } }).async;
    expect(env).toEqual({ pendingAfterMs: 0, operations: ['DeriveKey', 'Certify'], maxPendingPerIdentity: 5 });
    expect(() => loadConfig({ env: {}, flags: { config: file({ async: { size: 1 } }) } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: {}, flags: { config: file({ async: { operations: ['Frobnicate'] } }) } })).toThrow(/async.operations/);
    expect(() => loadConfig({ env: { KMS_ASYNC_MAX_PENDING: '-1' } })).toThrow(/async.maxPending/);
    expect(() => loadConfig({ env: { KMS_ASYNC_RESULT_TTL_MS: '10' } })).toThrow(/resultTtlMs/);
  });

  it('serverToClient: file and environment; endpoints checked strictly', () => {
    const endpoint = { identity: 'tape', host: '10.0.0.7', port: 5696, version: '1.4', ca: '/x/ca.pem', cert: '/x/c.pem', key: '/x/c.key' };
    const f = file({ serverToClient: { maxQueue: 10, endpoints: [endpoint] } });
    const c = loadConfig({ env: { KMS_S2C_ENABLED: 'false' }, flags: { config: f } }).serverToClient;
    expect(c).toEqual({ maxQueue: 10, endpoints: [endpoint], enabled: false });
    expect(() => loadConfig({ env: {}, flags: { config: file({ serverToClient: { endpoints: [{ ...endpoint, port: 0 }] } }) } })).toThrow(/port/);
    expect(() => loadConfig({ env: {}, flags: { config: file({ serverToClient: { endpoints: [{ ...endpoint, extra: 1 }] } }) } })).toThrow(/extra/);
    expect(() => loadConfig({ env: { KMS_S2C_MAX_QUEUE: '0' } })).toThrow(/maxQueue/);
  });

  it('every variable is in `kms serve --help`', () => {
    for (const name of [...Object.keys(ASYNC_ENV_KEYS), ...Object.keys(SERVER_TO_CLIENT_ENV_KEYS)]) expect(serveCommand.help).toContain(name);
  });
});
