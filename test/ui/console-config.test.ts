/** The `console` config section: file keys, KMS_CONSOLE_* variables, strict refusals, and `kms serve --help`. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { CONSOLE_ENV_KEYS, DEFAULT_CONSOLE, consoleSettings } from '../../src/config/console.js';
import { runCli } from '../../src/cli/main.js';

function file(content: unknown): string {
  const f = join(mkdtempSync(join(tmpdir(), 'kms-console-cfg-')), 'kms.json');
  writeFileSync(f, JSON.stringify(content));
  return f;
}

describe('console config', () => {
  it('every key has a variable, and the file, then the environment, set it', () => {
    expect(Object.values(CONSOLE_ENV_KEYS).sort()).toEqual(Object.keys(DEFAULT_CONSOLE).sort());
    const cfg = loadConfig({
      file: file({ console: { pageSize: 10, maxPageSize: 20, csvMaxRows: 7 } }),
      env: { KMS_CONSOLE_CSV_MAX_ROWS: '9', KMS_CONSOLE_ENABLED: 'false', KMS_CONSOLE_REQUESTS_PER_MINUTE: '12' },
    });
    const s = consoleSettings(cfg.console);
    expect(s).toMatchObject({ pageSize: 10, maxPageSize: 20, csvMaxRows: 9, enabled: false, requestsPerMinute: 12, auditScanMax: DEFAULT_CONSOLE.auditScanMax });
    expect(consoleSettings(loadConfig({}).console)).toEqual(DEFAULT_CONSOLE);
  });

  it('unknown keys, bad values and a page size over the maximum are refused with the key named', () => {
    expect(() => loadConfig({ file: file({ console: { pageSiz: 3 } }) })).toThrow(/console\.pageSiz/);
    expect(() => loadConfig({ file: file({ console: { csvMaxRows: -1 } }) })).toThrow(ConfigError);
    expect(() => loadConfig({ file: file({ console: { enabled: 'yes' } }) })).toThrow(/console\.enabled/);
    expect(() => loadConfig({ env: { KMS_CONSOLE_MAX_PAGE_SIZE: 'many' } })).toThrow(/KMS_CONSOLE_MAX_PAGE_SIZE/);
    expect(() => loadConfig({ file: file({ console: { pageSize: 300 } }) })).toThrow(/console\.maxPageSize/);
  });

  it('kms serve --help names every console setting and its variable', async () => {
    const out: string[] = [];
    const io = { stdin: process.stdin, stdout: new Writable({ write: (c, _e, cb) => (out.push(String(c)), cb()) }), stderr: new Writable({ write: (_c, _e, cb) => cb() }) };
    expect(await runCli(['serve', '--help'], io)).toBe(0);
    const help = out.join('');
    for (const [env, key] of Object.entries(CONSOLE_ENV_KEYS)) {
      expect(help).toContain(env);
      expect(help).toContain(`${key}:`);
    }
  });
});
