/**
 * The resource budgets (policy/budgets.ts) are named and configurable: each is a `limits` key of
 * the config file and a KMS_ variable, listed in `kms serve --help` with its default, and in
 * docs/limits.md.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { BUDGET_ENV_KEYS, DEFAULT_BUDGETS } from '../../src/policy/budgets.js';
import { runKmsHere } from '../support/kms-process.js';

const KEYS = Object.keys(DEFAULT_BUDGETS) as (keyof typeof DEFAULT_BUDGETS)[];

function file(obj: unknown): string {
  const p = join(mkdtempSync(join(tmpdir(), 'kms-cfg-')), 'kms.json');
  writeFileSync(p, JSON.stringify(obj));
  return p;
}

describe('resource budgets in the configuration', () => {
  it('there are eight, each with its own environment variable', () => {
    expect(KEYS.sort()).toEqual(
      [
        'maxAttributeValueBytes',
        'maxMultipartBytes',
        'maxMultipartBytesPerIdentity',
        'maxMultipartOperations',
        'maxMultipartPerIdentity',
        'maxObjectBytes',
        'maxResponseBytes',
        'multipartIdleMs',
      ].sort(),
    );
    expect(Object.values(BUDGET_ENV_KEYS).sort()).toEqual(KEYS.map((k) => `limits.${k}`).sort());
  });

  it('defaults, then the file, then the environment', () => {
    expect(loadConfig().limits).toMatchObject(DEFAULT_BUDGETS);
    const f = file({ limits: Object.fromEntries(KEYS.map((k, i) => [k, 1000 + i])) });
    const fromFile = loadConfig({ file: f });
    KEYS.forEach((k, i) => expect(fromFile.limits[k]).toBe(1000 + i));
    const env = Object.fromEntries(Object.entries(BUDGET_ENV_KEYS).map(([name], i) => [name, String(2000 + i)]));
    const fromEnv = loadConfig({ file: f, env });
    Object.values(BUDGET_ENV_KEYS).forEach((path, i) => expect(fromEnv.limits[path.slice('limits.'.length) as keyof typeof DEFAULT_BUDGETS]).toBe(2000 + i));
  });

  it('a bad value is refused with its name', () => {
    expect(() => loadConfig({ env: { KMS_MAX_RESPONSE_BYTES: '-1' } })).toThrow(/limits.maxResponseBytes must be a non-negative integer/);
    expect(() => loadConfig({ file: file({ limits: { maxObjectBytes: 'big' } }) })).toThrow(/limits.maxObjectBytes/);
  });

  it('kms serve --help and docs/limits.md list each one with its variable and default', async () => {
    const help = await runKmsHere(['serve', '--help']);
    const doc = readFileSync(new URL('../../docs/limits.md', import.meta.url), 'utf8');
    for (const [env, path] of Object.entries(BUDGET_ENV_KEYS)) {
      const key = path.slice('limits.'.length) as keyof typeof DEFAULT_BUDGETS;
      expect(help.stdout).toContain(`${path} (${env}; default ${DEFAULT_BUDGETS[key]})`);
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${path}\``));
      expect(row, path).toBeDefined();
      expect(row).toContain(`\`${env}\``);
    }
  });
});
