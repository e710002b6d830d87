/**
 * Smoke runs of the bench's own code paths, tiny and real, so they cannot rot (no speed is
 * asserted): the spread mixes (get-spread, read-write over keys preloaded with the servers
 * stopped) against our server on LevelDB, two nodes over a throwaway PostgreSQL, and PyKMIP's
 * server with its database preloaded; the failover run; and a point against a server that
 * never answers, which must come back n/a with why instead of hanging.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer, type Server, type TLSSocket } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import type { FailoverResult } from '../../src/bench/cluster.js';
import type * as RunModule from '../../src/bench/run.js';
import type { PointResult, Ratio } from '../../src/bench/run.js';
import type * as MixesModule from '../../src/bench/mixes.js';
import type * as ServersModule from '../../src/bench/servers.js';
import { DEFAULT_CONFIG } from '../../src/config/config.js';
import { ensureDevCerts } from '../../src/pki/dev-certs.js';
import { startTestKms } from '../support/kms.js';
import { runKms, type CliRun } from '../support/kms-process.js';

// The bench's worker threads and child servers are files of the build: use the built modules.
const DIST_RUN = new URL('../../dist/src/bench/run.js', import.meta.url).href;
const DIST_SERVERS = new URL('../../dist/src/bench/servers.js', import.meta.url).href;
const DIST_MIXES = new URL('../../dist/src/bench/mixes.js', import.meta.url).href;

/** `kms bench` of the build, with the development certificates. */
function bench(args: string[]): Promise<CliRun> {
  return runKms(['bench', '--certs', resolve('certs/dev'), ...args]);
}

let silent: Server | undefined;
const silentSockets = new Set<TLSSocket>();
afterAll(async () => {
  for (const s of silentSockets) s.destroy();
  await new Promise<void>((r) => (silent ? silent.close(() => r()) : r()));
});

describe('kms bench smoke', () => {
  it('spread mixes on LevelDB, on two nodes over PostgreSQL and on PyKMIP, stores side by side, and the failover run', { timeout: 600_000 }, async () => {
    const json = join(mkdtempSync(join(tmpdir(), 'kms-bench-smoke-')), 'report.json');
    const r = await bench([
      ...['--mixes', 'get-spread,read-write', '--concurrency', '2', '--duration', '0.6', '--warmup', '0.2', '--spread-keys', '40'],
      ...['--store-backends', 'leveldb,pg2', '--failover-connections', '4', '--json', json],
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(json, 'utf8')) as { points: PointResult[]; ratios: Ratio[]; failover: FailoverResult };
    expect(report.points.map((p) => `${p.server} ${p.mix}`)).toEqual([
      'kms get-spread',
      'kms read-write',
      'kms-pg2 get-spread',
      'kms-pg2 read-write',
      'pykmip get-spread',
      'pykmip read-write',
    ]);
    for (const p of report.points) {
      expect(p.na, `${p.server} ${p.mix}: ${p.na}`).toBeUndefined();
      expect(p.errors, `${p.server} ${p.mix}: ${p.firstError}`).toBe(0);
      expect(p.ops).toBeGreaterThan(0);
      expect(p.objects).toBe(40);
      expect(p.latencyMs!.count).toBe(p.ops);
      expect(p.cpuPerOpMs).toBeGreaterThan(0);
    }
    // Ratios against PyKMIP come from the LevelDB rows of the same run.
    expect(report.ratios.map((x) => x.mix)).toEqual(['get-spread', 'read-write']);
    for (const x of report.ratios) expect(x.throughput, x.na).toBeGreaterThan(0);
    // Two nodes, connections spread: the one killed had half of them, and every one got answers again.
    const f = report.failover;
    expect(f.nodes).toBe(2);
    expect(f.movedConnections).toBe(2);
    expect(f.neverRecovered).toBe(0);
    expect(f.gapMsMax).toBeGreaterThan(0);
    expect(f.gapMsMedian).toBeLessThanOrEqual(f.gapMsMax);
    expect(f.okRequests).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/Stores side by side/);
    expect(r.stdout).toMatch(/\| kms-pg2 +\| 40 +\| Get, spread over preloaded keys +\| 2 +\|/);
    expect(r.stdout).toMatch(/no answer → answers again/);
  });

  it('a server that never answers gives an n/a point saying so, within the answer wait', { timeout: 60_000 }, async () => {
    const certs = await ensureDevCerts(resolve('certs/dev'));
    silent = createServer({ key: readFileSync(certs.server.key), cert: readFileSync(certs.server.cert), ca: readFileSync(certs.ca.cert), requestCert: true }, (socket) => {
      // Holds every connection open and never answers.
      silentSockets.add(socket);
    });
    await new Promise<void>((r) => silent!.listen(0, '127.0.0.1', r));
    const port = (silent.address() as { port: number }).port;
    const { runPoint } = (await import(DIST_RUN)) as typeof RunModule;
    const { attachServer } = (await import(DIST_SERVERS)) as typeof ServersModule;
    const target = await attachServer(certs, '127.0.0.1', port);
    const t0 = Date.now();
    const p = await runPoint(target, 'get', { uids: ['no-such-key'] }, 2, { warmupMs: 100, durationMs: 500, threads: 1, answerWaitMs: 1500 });
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(p.na).toMatch(/^no answer within 1\.5 s on 2 of 2 connections/);
    expect(p.ops).toBe(0);
  });

  it('connect-resume: every connection after the first of its slot resumes its TLS session, and a server that does not resume gives errors', { timeout: 120_000 }, async () => {
    const certs = await ensureDevCerts(resolve('certs/dev'));
    const { runPoint } = (await import(DIST_RUN)) as typeof RunModule;
    const { attachServer } = (await import(DIST_SERVERS)) as typeof ServersModule;
    const { setupMix } = (await import(DIST_MIXES)) as typeof MixesModule;
    const files = { cert: certs.server.cert, key: certs.server.key, ca: certs.ca.cert };
    const point = async (tlsTicketKeyRotationMs: number): Promise<PointResult> => {
      const kms = await startTestKms({ ...files, limits: { ...DEFAULT_CONFIG.limits, tlsTicketKeyRotationMs } });
      try {
        const target = await attachServer(certs, '127.0.0.1', kms.port);
        const setup = await setupMix('connect-resume', target.client, 'smoke');
        return await runPoint(target, 'connect-resume', setup, 2, { warmupMs: 300, durationMs: 800, threads: 1, answerWaitMs: 10_000 });
      } finally {
        await kms.dispose();
      }
    };
    const resumed = await point(DEFAULT_CONFIG.limits.tlsTicketKeyRotationMs);
    expect(resumed.na).toBeUndefined();
    expect(resumed.errors, resumed.firstError).toBe(0);
    expect(resumed.ops).toBeGreaterThan(0);
    // Resumption off on the server (limits.tlsTicketKeyRotationMs 0): every offered session ends in a full handshake.
    const full = await point(0);
    expect(full.errors).toBeGreaterThan(0);
    expect(full.firstError).toMatch(/not resumed/);
  });
});
