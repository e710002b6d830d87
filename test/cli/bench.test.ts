/**
 * `kms bench` end to end, small: the built CLI starts our server as a child process, drives it
 * over mutual TLS from worker threads (persistent connections and a connection per op), reads
 * the server's CPU time and RSS from /proc, and writes a table and a JSON report whose figures
 * hang together. Then a tiny --preload run: objects written straight into the store with the
 * server stopped must be readable by the server (Get) and found by name and by custom
 * attribute (a Locate that finds nothing counts as an error). Nothing here asserts speed.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { PointResult } from '../../src/bench/run.js';
import { runKms, type CliRun } from '../support/kms-process.js';

/** `kms bench` of the build, with the development certificates. */
function bench(args: string[]): Promise<CliRun> {
  return runKms(['bench', '--certs', resolve('certs/dev'), ...args]);
}

function checkPoint(p: PointResult): void {
  expect(p.na, `${p.mix}: ${p.na}`).toBeUndefined();
  expect(p.errors, `${p.mix} c=${p.connections}: ${p.firstError}`).toBe(0);
  expect(p.ops).toBeGreaterThan(0);
  expect(p.opsPerSec).toBeCloseTo(p.ops / p.seconds, 6);
  const l = p.latencyMs!;
  expect(l.count).toBe(p.ops);
  expect(l.p50).toBeGreaterThan(0);
  expect(l.p50).toBeLessThanOrEqual(l.p99);
  expect(l.p99).toBeLessThanOrEqual(l.p999);
  expect(l.p999).toBeLessThanOrEqual(l.max);
  expect(p.cpuPerOpMs).toBeGreaterThan(0);
  expect(p.serverRssBytes).toBeGreaterThan(20 * 1024 * 1024);
}

describe('kms bench', () => {
  it('sweeps mixes over 1 and 2 connections against a server it starts, and reports sane figures', async () => {
    const json = join(mkdtempSync(join(tmpdir(), 'kms-bench-test-')), 'report.json');
    const r = await bench(['--no-pykmip', '--mixes', 'get,lifecycle,connect', '--concurrency', '1,2', '--duration', '1', '--warmup', '0.3', '--json', json]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as { points: PointResult[]; machine: { cores: number } };
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.points.map((p) => `${p.server} ${p.mix} ${p.connections}`)).toEqual(['kms get 1', 'kms get 2', 'kms lifecycle 1', 'kms lifecycle 2', 'kms connect 1', 'kms connect 2']);
    report.points.forEach(checkPoint);
    // A lifecycle op is five requests on the server: it costs more CPU than one Get.
    const cpu = (mix: string) => report.points.find((p) => p.mix === mix && p.connections === 1)!.cpuPerOpMs!;
    expect(cpu('lifecycle')).toBeGreaterThan(cpu('get'));
    expect(r.stdout).toMatch(/\| kms +\| Get +\| 1 +\|/);
    expect(r.stdout).toMatch(/New mTLS conn \+ Get/);
    expect(r.stderr).toMatch(/JSON report: /);
  });

  it('--preload: objects written with the server stopped are served, and found by name and custom attribute', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kms-bench-test-'));
    const json = join(dir, 'scale.json');
    const r = await bench([
      '--preload',
      '300',
      '--mixes',
      'get,locate,locate-custom',
      '--concurrency',
      '1',
      '--duration',
      '0.7',
      '--warmup',
      '0.2',
      '--data-dir',
      join(dir, 'data'),
      '--json',
      json,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as { points: PointResult[]; preload: { objects: number }[] };
    expect(report.preload.map((p) => p.objects)).toEqual([300]);
    expect(report.points.map((p) => p.mix)).toEqual(['get', 'locate', 'locate-custom']);
    for (const p of report.points) {
      expect(p.objects).toBe(300);
      checkPoint(p);
    }
  });

  it('refuses an unknown mix with the usage exit code', async () => {
    const r = await bench(['--mixes', 'get,nope']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown mix "nope"/);
  });
});
