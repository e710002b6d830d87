/** The rotation config section (file, environment, validation), `kms serve --help`, and the lease table. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { rotationConfigOf, DEFAULT_ROTATION } from '../../src/config/rotation.js';
import { LocalLeases } from '../../src/rotation/lease.js';
import { runKmsHere } from '../support/kms-process.js';

function file(obj: unknown): string {
  const p = join(mkdtempSync(join(tmpdir(), 'kms-cfg-')), 'kms.json');
  writeFileSync(p, JSON.stringify(obj));
  return p;
}

describe('rotation config', () => {
  it('file and environment; the environment over the file; defaults for the rest', () => {
    const f = file({ rotation: { checkIntervalSeconds: 600, policies: [{ objectGroup: 'payments', everyDays: 30, overlapDays: 2 }] } });
    const c = loadConfig({ file: f, env: { KMS_ROTATION_WARN_DAYS: '3', KMS_ROTATION_CHECK_INTERVAL_SECONDS: '60' } });
    const r = rotationConfigOf(c.rotation);
    expect(r).toEqual({ ...DEFAULT_ROTATION, checkIntervalSeconds: 60, warnDays: 3, policies: [{ objectGroup: 'payments', everyDays: 30, overlapDays: 2 }] });
    expect(rotationConfigOf(loadConfig({ env: { KMS_ROTATION_ENABLED: 'false' } }).rotation).enabled).toBe(false);
    expect(rotationConfigOf(loadConfig().rotation)).toEqual(DEFAULT_ROTATION);
  });

  it.each([
    [{ rotation: { policies: [{ objectGroup: 'a', everyDays: 0 }] } }, /policies\[0\]\.everyDays/],
    [{ rotation: { policies: [{ objectGroup: 'a', everyDays: 10, overlapDays: 11 }] } }, /overlapDays \(11\) must not exceed everyDays/],
    [{ rotation: { policies: [{ objectGroup: '', everyDays: 10 }] } }, /objectGroup must be a non-empty/],
    [
      {
        rotation: {
          policies: [
            { objectGroup: 'a', everyDays: 10 },
            { objectGroup: 'a', everyDays: 20 },
          ],
        },
      },
      /has two policies/,
    ],
    [{ rotation: { policies: [{ objectGroup: 'a', everyDays: 10, every: 3 }] } }, /unknown key rotation\.policies\[0\]\.every/],
    [{ rotation: { checkIntervalSeconds: 0 } }, /rotation\.checkIntervalSeconds must be an integer from 1/],
    [{ rotation: { leaseSeconds: 'x' } }, /rotation\.leaseSeconds/],
    [{ rotation: { nope: 1 } }, /unknown key rotation\.nope/],
    [{ rotation: [] }, /rotation must be an object/],
  ])('refuses %j', (cfg, msg) => {
    expect(() => loadConfig({ file: file(cfg) })).toThrow(ConfigError);
    expect(() => loadConfig({ file: file(cfg) })).toThrow(msg);
  });

  it('a bad environment value names the variable', () => {
    expect(() => loadConfig({ env: { KMS_ROTATION_MAX_PER_RUN: '0' } })).toThrow(/environment KMS_ROTATION_MAX_PER_RUN: rotation\.maxPerRun/);
  });

  it('kms serve --help shows every rotation key and its variable', async () => {
    const r = await runKmsHere(['serve', '--help']);
    for (const k of ['enabled', 'checkIntervalSeconds', 'warnDays', 'overlapDays', 'retryMinutes', 'maxPerRun', 'leaseSeconds', 'maxHistory']) expect(r.stdout).toContain(`rotation.${k}`);
    for (const v of ['KMS_ROTATION_ENABLED', 'KMS_ROTATION_CHECK_INTERVAL_SECONDS', 'KMS_ROTATION_MAX_PER_RUN', 'KMS_ROTATION_LEASE_SECONDS']) expect(r.stdout).toContain(v);
    expect(r.stdout).toContain('rotation.policies [{objectGroup, everyDays, overlapDays}]');
  });
});

describe('LocalLeases (fencing tokens)', () => {
  it('one holder at a time; renewal keeps the token; a new holder after expiry gets a higher one; the old grant is fenced off', async () => {
    const l = new LocalLeases();
    const a1 = (await l.acquire('job', 'a', 1000, 0))!;
    expect(a1.token).toBe(1);
    expect(await l.acquire('job', 'b', 1000, 500)).toBeUndefined();
    const a2 = (await l.acquire('job', 'a', 1000, 900))!;
    expect(a2.token).toBe(1);
    expect(a2.expiresAt).toBe(1900);
    expect(await l.check(a2, 1899)).toBe(true);
    const b1 = (await l.acquire('job', 'b', 1000, 1900))!;
    expect(b1.token).toBe(2);
    expect(await l.check(a2, 1901)).toBe(false);
    // a comes back after b's lease expired: a new token, b's grant is no longer valid.
    const a3 = (await l.acquire('job', 'a', 1000, 3000))!;
    expect(a3.token).toBe(3);
    expect(await l.check(b1, 3000)).toBe(false);
    await l.release(b1); // a stale release does nothing
    expect(await l.check(a3, 3001)).toBe(true);
    await l.release(a3);
    expect(await l.check(a3, 3001)).toBe(false);
    expect((await l.acquire('job', 'b', 1000, 3002))!.token).toBe(4);
  });
});
