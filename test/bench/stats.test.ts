/**
 * The bench's arithmetic and /proc parsing: nearest-rank percentiles, latency summaries,
 * /proc/<pid>/stat with awkward command names, VmRSS, and this process's own usage.
 */
import { describe, expect, it } from 'vitest';
import { checkpoints, parseBenchArgs } from '../../src/cli/bench.js';
import { UsageError } from '../../src/cli/exit-codes.js';
import { ratios, type PointResult } from '../../src/bench/run.js';
import { parseProcStat, parseVmRss, percentile, processUsage, summarize } from '../../src/bench/stats.js';

describe('percentile (nearest rank)', () => {
  const hundred = Float64Array.from({ length: 100 }, (_, i) => i + 1); // 1..100

  it('picks the smallest value with at least q·n values at or below it', () => {
    expect(percentile(hundred, 0.5)).toBe(50);
    expect(percentile(hundred, 0.99)).toBe(99);
    expect(percentile(hundred, 0.999)).toBe(100);
    expect(percentile(hundred, 1)).toBe(100);
    expect(percentile(hundred, 0.001)).toBe(1);
    expect(percentile([7], 0.5)).toBe(7);
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(percentile([1, 2, 3, 4], 0.51)).toBe(3);
  });

  it('is NaN for no values and refuses quantiles outside (0, 1]', () => {
    expect(percentile([], 0.5)).toBeNaN();
    expect(() => percentile(hundred, 0)).toThrow(RangeError);
    expect(() => percentile(hundred, 1.5)).toThrow(RangeError);
  });

  it('summarize sorts, orders p50 ≤ p99 ≤ p99.9 ≤ max, and averages', () => {
    const lat = Float64Array.from([9, 1, 5, 3, 7, 2, 8, 4, 6, 10, 1000]);
    const s = summarize(lat);
    expect(s.count).toBe(11);
    expect(s.p50).toBe(6);
    expect(s.p99).toBe(1000);
    expect(s.max).toBe(1000);
    expect(s.mean).toBeCloseTo(1055 / 11, 10);
    expect(s.p50).toBeLessThanOrEqual(s.p99);
    expect(s.p99).toBeLessThanOrEqual(s.p999);
    expect(Array.from(lat)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1000]);
  });
});

describe('/proc parsing', () => {
  // A real line's shape (proc(5)); utime = field 14, stime = field 15, pgrp = field 5.
  const line = '4242 (node) S 1 4242 4242 0 -1 4194560 1234 0 0 0 150 37 0 0 20 0 11 0 98765 1234567890 20480 18446744073709551615 1 1 0 0 0 0 0 16781312 17922 0 0 0 17 1 0 0 0 0 0';

  it('reads pid, comm, ppid, pgrp, utime and stime', () => {
    expect(parseProcStat(line)).toEqual({ pid: 4242, comm: 'node', ppid: 1, pgrp: 4242, utime: 150, stime: 37 });
  });

  it('counts fields after the last parenthesis: a command name may hold spaces and parentheses', () => {
    const odd = line.replace('(node)', '(my (odd) name) x)');
    expect(parseProcStat(odd)).toMatchObject({ comm: 'my (odd) name) x', utime: 150, stime: 37, pgrp: 4242 });
  });

  it('refuses a line without a command name or with missing fields', () => {
    expect(() => parseProcStat('4242 node S 1')).toThrow(/comm/);
    expect(() => parseProcStat('4242 (node) S 1 4242')).toThrow(/field/);
  });

  it('reads VmRSS in bytes, undefined when absent', () => {
    const status = 'Name:\tnode\nVmPeak:\t  999 kB\nVmRSS:\t   51200 kB\nThreads:\t11\n';
    expect(parseVmRss(status)).toBe(51200 * 1024);
    expect(parseVmRss('Name:\tzombie\nState:\tZ (zombie)\n')).toBeUndefined();
  });

  it('reads this process: CPU time spent grows, RSS is plausible', () => {
    const before = processUsage(process.pid, false);
    const until = Date.now() + 200;
    let x = 0;
    while (Date.now() < until) x += Math.sqrt(x + 1);
    const after = processUsage(process.pid, false);
    expect(x).toBeGreaterThan(0);
    expect(after.processes).toBe(1);
    expect(after.cpuSeconds).toBeGreaterThan(before.cpuSeconds);
    expect(after.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(after.rssBytes).toBeLessThan(8 * 1024 * 1024 * 1024);
  });
});

describe('bench options and ratios', () => {
  it('checkpoints go 10k, 100k, 1M up to N, then N', () => {
    expect(checkpoints(1_000_000)).toEqual([10_000, 100_000, 1_000_000]);
    expect(checkpoints(250_000)).toEqual([10_000, 100_000, 250_000]);
    expect(checkpoints(500)).toEqual([500]);
  });

  it('parses the sweep options, and refuses bad ones as usage errors', () => {
    const o = parseBenchArgs(['--mixes', 'get,lifecycle', '--concurrency', '1,8', '--duration', '0.5', '--no-pykmip']);
    expect(o).toMatchObject({ mixes: ['get', 'lifecycle'], concurrency: [1, 8], durationMs: 500, warmupMs: 1000, pykmip: false, threads: 2 });
    expect(parseBenchArgs([]).concurrency).toEqual([1, 4, 16, 64]);
    expect(parseBenchArgs([]).pykmip).toBe(true);
    expect(parseBenchArgs(['--preload', '1000'])).toMatchObject({ preload: 1000, concurrency: [4], pykmip: false, mixes: ['get', 'locate', 'locate-custom', 'locate-state'] });
    expect(() => parseBenchArgs(['--mixes', 'get,teleport'])).toThrow(UsageError);
    expect(() => parseBenchArgs(['--preload', '10', '--mixes', 'create'])).toThrow(UsageError);
    expect(() => parseBenchArgs(['--concurrency', '0'])).toThrow(UsageError);
    expect(() => parseBenchArgs(['--duration', '-1'])).toThrow(UsageError);
    expect(() => parseBenchArgs(['--connect', 'nohost'])).toThrow(UsageError);
    expect(() => parseBenchArgs(['--frobnicate'])).toThrow(UsageError);
  });

  it('ratios pair points by mix and connections; a mix the other server cannot do is n/a', () => {
    const p = (server: string, mix: PointResult['mix'], c: number, opsPerSec: number, cpuPerOpMs?: number, na?: string): PointResult => ({
      server,
      mix,
      title: mix,
      connections: c,
      ops: na ? 0 : 100,
      errors: 0,
      seconds: 1,
      opsPerSec,
      ...(cpuPerOpMs !== undefined && { cpuPerOpMs }),
      ...(na !== undefined && { na }),
    });
    const rs = ratios(
      [p('kms', 'get', 1, 1000, 0.1), p('kms', 'get', 4, 3000, 0.05), p('kms', 'encrypt', 1, 500, 0.2)],
      [p('pykmip', 'get', 4, 100, 2), p('pykmip', 'get', 1, 50, 4), p('pykmip', 'encrypt', 1, 0, undefined, 'refused')],
    );
    expect(rs[0]).toMatchObject({ mix: 'get', connections: 1, throughput: 20, cpuPerOp: 0.025 });
    expect(rs[1]).toMatchObject({ mix: 'get', connections: 4, throughput: 30, cpuPerOp: 0.025 });
    expect(rs[2]).toMatchObject({ mix: 'encrypt', na: 'refused' });
    expect(rs[2]?.throughput).toBeUndefined();
  });
});
