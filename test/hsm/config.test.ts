/** The optional hsm config section: strict validation, KMS_HSM_* overrides, PIN sources. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { resolvePin } from '../../src/hsm/pkcs11/pin.js';

const dir = mkdtempSync(join(tmpdir(), 'kms-hsmcfg-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function file(obj: unknown): string {
  const p = join(dir, `c${Math.random().toString(16).slice(2)}.json`);
  writeFileSync(p, JSON.stringify(obj));
  return p;
}

describe('hsm config section', () => {
  it('is absent by default (software protector)', () => {
    expect(loadConfig({ env: {} }).hsm).toBeUndefined();
    expect(loadConfig({ env: { KMS_HSM_PIN: '1234' } }).hsm).toBeUndefined();
  });

  it('comes from the file, with env overrides', () => {
    const f = file({ hsm: { module: '/lib/p11.so', tokenLabel: 'a', pinFile: '/run/pin', maxSessions: 4 } });
    expect(loadConfig({ file: f, env: {} }).hsm).toEqual({ module: '/lib/p11.so', tokenLabel: 'a', pinFile: '/run/pin', maxSessions: 4 });
    expect(loadConfig({ file: f, env: { KMS_HSM_TOKEN_LABEL: 'b', KMS_HSM_MAX_SESSIONS: '2', KMS_HSM_KEK_LABEL: 'kms-kek-x' } }).hsm).toEqual({
      module: '/lib/p11.so',
      tokenLabel: 'b',
      pinFile: '/run/pin',
      maxSessions: 2,
      kekLabel: 'kms-kek-x',
    });
  });

  it('can come from the environment alone', () => {
    expect(loadConfig({ env: { KMS_HSM_MODULE: '/m.so', KMS_HSM_SLOT: '7', KMS_HSM_PIN_ENV: 'MY_PIN' } }).hsm).toEqual({ module: '/m.so', slot: 7, pinEnv: 'MY_PIN' });
  });

  it.each([
    [{ hsm: { tokenLabel: 'a' } }, /hsm.module/],
    [{ hsm: { module: '/m.so' } }, /exactly one of tokenLabel/],
    [{ hsm: { module: '/m.so', tokenLabel: 'a', slot: 1 } }, /exactly one of tokenLabel/],
    [{ hsm: { module: '/m.so', tokenLabel: 'a', pin: '1', pinFile: '/p' } }, /at most one of pin/],
    [{ hsm: { module: '/m.so', tokenLabel: 'a', colour: 'red' } }, /unknown key hsm.colour/],
    [{ hsm: { module: 5, tokenLabel: 'a' } }, /hsm.module must be a non-empty string/],
    [{ hsm: { module: '/m.so', slot: -1 } }, /hsm.slot must be a non-negative integer/],
    [{ hsm: { module: '/m.so', tokenLabel: 'a', maxSessions: 0 } }, /maxSessions must be 1 to 1024/],
    [{ hsm: 'yes' }, /hsm must be an object/],
  ])('refuses %j', (cfg, message) => {
    expect(() => loadConfig({ file: file(cfg), env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ file: file(cfg), env: {} })).toThrow(message);
  });

  it('refreshIntervalMs: from the file or KMS_HSM_REFRESH_INTERVAL_MS, 0 allowed, at most an hour', () => {
    const f = file({ hsm: { module: '/m.so', tokenLabel: 'a', refreshIntervalMs: 0 } });
    expect(loadConfig({ file: f, env: {} }).hsm?.refreshIntervalMs).toBe(0);
    expect(loadConfig({ file: f, env: { KMS_HSM_REFRESH_INTERVAL_MS: '2500' } }).hsm?.refreshIntervalMs).toBe(2500);
    expect(() => loadConfig({ file: file({ hsm: { module: '/m.so', tokenLabel: 'a', refreshIntervalMs: 3_600_001 } }), env: {} })).toThrow(/hsm.refreshIntervalMs must be 0 to 3600000/);
    expect(() => loadConfig({ file: f, env: { KMS_HSM_REFRESH_INTERVAL_MS: 'soon' } })).toThrow(/hsm.refreshIntervalMs must be a non-negative integer/);
  });

  it('refuses a bad KMS_HSM_SLOT', () => {
    expect(() => loadConfig({ env: { KMS_HSM_MODULE: '/m.so', KMS_HSM_SLOT: 'two' } })).toThrow(/hsm.slot/);
  });
});

describe('PIN sources', () => {
  it('inline, file (first line), named variable, else KMS_HSM_PIN; missing is an error', () => {
    const pf = join(dir, 'pin');
    writeFileSync(pf, '4321\n');
    expect(resolvePin({ pin: '1111' }, { KMS_HSM_PIN: '9' })).toBe('1111');
    expect(resolvePin({ pinFile: pf }, { KMS_HSM_PIN: '9' })).toBe('4321');
    expect(resolvePin({ pinEnv: 'OTHER' }, { OTHER: '2222', KMS_HSM_PIN: '9' })).toBe('2222');
    expect(resolvePin({}, { KMS_HSM_PIN: '3333' })).toBe('3333');
    expect(() => resolvePin({}, {})).toThrow(/KMS_HSM_PIN/);
    expect(() => resolvePin({ pinEnv: 'NOPE' }, {})).toThrow(/NOPE/);
    expect(() => resolvePin({ pinFile: join(dir, 'absent') }, {})).toThrow(/PIN file/);
  });
});
