/**
 * `kms conformance` reaches the runner in conformance/ without src/ importing it: loaded at
 * run time from where the build puts it. From src (as tests run it), from the built command
 * (as an operator runs it), and absent where conformance/ is not shipped.
 */
import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import * as runnerModule from '../../conformance/command.js';
import type { CliIo } from '../../src/cli/command.js';
import { conformanceRunnerUrl, loadConformanceCommand, type ConformanceRunner } from '../../src/cli/conformance.js';
import { runCli } from '../../src/cli/main.js';

// The shape src/cli/conformance.ts expects is the one conformance/command.ts exports (tsc checks this line).
const shaped: ConformanceRunner = runnerModule;

const KMS = new URL('../../dist/src/cli/main.js', import.meta.url).pathname;

function memoryIo(): { io: CliIo; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (b: Buffer) => (o += b.toString()));
  stderr.on('data', (b: Buffer) => (e += b.toString()));
  return { io: { stdin: new PassThrough(), stdout, stderr }, out: () => o, err: () => e };
}

describe('kms conformance', () => {
  it('is listed and its help is the runner help, from src', async () => {
    const m = memoryIo();
    expect(await runCli(['--help'], m.io)).toBe(0);
    expect(m.out()).toMatch(/^ {2}conformance +replay the OASIS KMIP test cases/m);
    const h = memoryIo();
    expect(await runCli(['conformance', '--help'], h.io)).toBe(0);
    expect(h.out()).toBe(shaped.CONFORMANCE_HELP + '\n');
  });

  it("maps the runner's usage errors to the CLI's usage exit code, from src", async () => {
    const m = memoryIo();
    expect(await runCli(['conformance', '--set', 'bogus'], m.io)).toBe(2);
    expect(m.err()).toContain('kms conformance: --set must be mandatory, optional or testcases (got bogus)');
  });

  it('works from the built command (dist/conformance beside dist/src)', () => {
    const help = spawnSync(process.execPath, [KMS, 'conformance', '--help'], { encoding: 'utf8', timeout: 30_000 });
    expect(help.status).toBe(0);
    expect(help.stdout).toBe(shaped.CONFORMANCE_HELP + '\n');
    const bad = spawnSync(process.execPath, [KMS, 'conformance', '--set', 'bogus'], { encoding: 'utf8', timeout: 30_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--set must be mandatory');
  });

  it('is absent where conformance/ is not shipped', async () => {
    expect(conformanceRunnerUrl().pathname).toMatch(/\/conformance\/command\.ts$/);
    expect(await loadConformanceCommand(new URL('./no-such-dir/command.js', import.meta.url))).toBeUndefined();
  });
});
