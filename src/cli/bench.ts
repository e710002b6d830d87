/** `kms bench`: load-test a KMIP server (ours, and PyKMIP's side by side) over mutual TLS. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_SPREAD_KEYS, MIX_NAMES, MIX_TITLES, SCALE_MIX_NAMES, type MixName, type MixSetup } from '../bench/mixes.js';
import { preload, preloadCustomValue, preloadName } from '../bench/preload.js';
import { machine, ratios, renderBackends, renderRatios, renderTable, runPoint, sweep, type PointResult, type Ratio } from '../bench/run.js';
import { measureFailover, pgClusterFactory, type FailoverResult } from '../bench/cluster.js';
import { startBenchPostgres, type BenchPostgres } from '../bench/postgres.js';
import { attachedFactory, ourFactory, pykmipFactory, startOurServer, type BenchTarget } from '../bench/servers.js';
import { DEFAULT_CLIENT_NAME, ensureDevCerts, type DevCertPaths } from '../pki/dev-certs.js';
import { ExitCode, UsageError } from './exit-codes.js';
import type { CliIo, Command } from './command.js';

const HELP = `Usage: kms bench [options]

Load-test the KMIP server over mutual TLS on 127.0.0.1 and print a table and a JSON report.
By default it starts this build's server (a child process with a temporary data folder) and
PyKMIP's reference server (pykmip-server, Debian python3-pykmip; temporary config, same
certificates), runs every mix at every concurrency on each, one server at a time, and prints
our/their ratios. Each mix runs on a fresh server (its own empty or preloaded store). Each
point: warm-up (not counted) until every connection has had an answer, then the measured
period; ops/s, latency p50/p99/p99.9 of the ops that ended in it, the server's CPU time per op
and RSS (from /proc, whole process group).

Options:
  --mixes LIST        comma-separated, default all: ${MIX_NAMES.join(', ')}
                      (connect: a new mTLS connection per Get, i.e. handshakes/s;
                      connect-resume: the same, each connection resuming the TLS session
                      (ticket) of the previous one, an error if the server does not resume;
                      get-spread: Get of a random key among --spread-keys preloaded ones;
                      read-write: the same Gets, and one op in ten a Create instead)
  --concurrency LIST  connections, comma-separated (default 1,4,16,64; with --preload 4)
  --duration SEC      measured seconds per point (default 3)
  --warmup SEC        warm-up seconds per point (default 1)
  --threads N         load worker threads (default 2)
  --spread-keys N     keys preloaded (server stopped) for get-spread and read-write
                      (default ${DEFAULT_SPREAD_KEYS})
  --answer-wait SEC   how long every connection may wait for its first answer before the
                      point is reported n/a with why (default 60)
  --no-pykmip         only our server
  --store-backends L  our server's stores, comma-separated, default leveldb:
                      leveldb  one kms serve over its data folder's LevelDB (rows "kms")
                      pg1      one kms serve over a PostgreSQL database (rows "kms-pg1")
                      pg2      two kms serve nodes over one database, connections spread
                               over both (rows "kms-pg2"), then the failover run
                      (pg1/pg2: the bench starts a throwaway PostgreSQL 15 from
                      /usr/lib/postgresql/15/bin, KMS_PG_BIN, on a free loopback port)
  --no-failover       with pg2: skip the failover run (SIGKILL one of the two nodes under
                      Get load from --failover-connections clients that move to the next
                      server of their list on failure; reports the time without an answer)
  --failover-connections N  (default 8)
  --python PATH       python for PyKMIP (default /usr/bin/python3)
  --preload N         scale run: fill the store (server stopped) to 10k, 100k, 1M … up to N
                      objects and at each size measure ${SCALE_MIX_NAMES.join(', ')} and RSS
  --data-dir DIR      where our server's data folders go (one per mix; with --preload, the
                      data folder itself) (default: a temporary one, removed after)
  --connect H:P       bench a server that is already running instead of starting one
                      (then also the mix locate-state, e.g. on a --preload data folder)
  --server-pid PID    with --connect: the process to read CPU time and RSS from
  --cpu-prof DIR      run our server under node --cpu-prof, profiles written to DIR
  --certs DIR         development certificates (default certs/dev; made if missing)
  --json FILE         where the JSON goes (default bench/results/bench-<time>.json)
  -h, --help          this help

Mix ops: Get (of 32 keys), Create AES-256, Create+Get, Locate by name, Encrypt 1 KiB
AES-GCM, Lifecycle = Create, Activate, Get, Revoke, Destroy (one op = the five requests).
Progress goes to stderr, the tables to stdout.
A server that cannot start, a mix a server cannot do and a point where some connection got no
answer within --answer-wait are n/a rows saying why.
Exit codes: 0 done (errors, if any, are in the table), 2 usage error, 3 a server could not start
(--preload).`;

export const BACKENDS = ['leveldb', 'pg1', 'pg2'] as const;
type Backend = (typeof BACKENDS)[number];

interface Options {
  mixes: MixName[];
  concurrency: number[];
  concurrencyGiven: boolean;
  durationMs: number;
  warmupMs: number;
  threads: number;
  spreadKeys: number;
  answerWaitMs: number;
  backends: Backend[];
  failover: boolean;
  failoverConnections: number;
  pykmip: boolean;
  python: string;
  preload?: number;
  dataDir?: string;
  connect?: { host: string; port: number };
  serverPid?: number;
  cpuProf?: string;
  certs: string;
  json?: string;
}

function positiveList(s: string, what: string): number[] {
  const out = s.split(',').map((x) => Number(x.trim()));
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n < 1 || n > 1024)) throw new UsageError(`${what}: expected a comma-separated list of integers 1..1024`);
  return out;
}

function seconds(s: string | undefined, def: number, what: string): number {
  if (s === undefined) return def * 1000;
  const n = Number(s);
  if (!(n > 0 && n <= 3600)) throw new UsageError(`${what}: expected seconds in (0, 3600]`);
  return n * 1000;
}

export function parseBenchArgs(argv: string[]): Options {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        mixes: { type: 'string' },
        concurrency: { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        threads: { type: 'string' },
        'spread-keys': { type: 'string' },
        'answer-wait': { type: 'string' },
        'store-backends': { type: 'string' },
        'no-failover': { type: 'boolean' },
        'failover-connections': { type: 'string' },
        'no-pykmip': { type: 'boolean' },
        python: { type: 'string' },
        preload: { type: 'string' },
        'data-dir': { type: 'string' },
        connect: { type: 'string' },
        'server-pid': { type: 'string' },
        'cpu-prof': { type: 'string' },
        certs: { type: 'string' },
        json: { type: 'string' },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const str = (k: string): string | undefined => values[k] as string | undefined;
  const preloadN = str('preload') === undefined ? undefined : Number(str('preload'));
  if (preloadN !== undefined && !(Number.isInteger(preloadN) && preloadN >= 1 && preloadN <= 100_000_000)) throw new UsageError('--preload: expected an object count 1..100000000');
  // Against a server someone started (--connect), e.g. on a preloaded data folder, locate-state
  // (which needs no setup) is allowed too.
  const allowed: readonly string[] = preloadN !== undefined ? SCALE_MIX_NAMES : str('connect') !== undefined ? [...MIX_NAMES, 'locate-state'] : MIX_NAMES;
  const mixes = (str('mixes')
    ?.split(',')
    .map((m) => m.trim()) ?? [...allowed]) as MixName[];
  for (const m of mixes) if (!allowed.includes(m)) throw new UsageError(`unknown mix ${JSON.stringify(m)}${preloadN !== undefined ? ' for --preload' : ''}; mixes: ${allowed.join(', ')}`);
  let connect: Options['connect'];
  if (str('connect') !== undefined) {
    const m = /^(.+):(\d{1,5})$/.exec(str('connect') as string);
    if (!m) throw new UsageError('--connect: expected HOST:PORT');
    connect = { host: m[1] as string, port: Number(m[2]) };
  }
  const threads = str('threads') === undefined ? 2 : Number(str('threads'));
  if (!(Number.isInteger(threads) && threads >= 1 && threads <= 64)) throw new UsageError('--threads: expected 1..64');
  const spreadKeys = str('spread-keys') === undefined ? DEFAULT_SPREAD_KEYS : Number(str('spread-keys'));
  if (!(Number.isInteger(spreadKeys) && spreadKeys >= 1 && spreadKeys <= 10_000_000)) throw new UsageError('--spread-keys: expected 1..10000000');
  const backends = (str('store-backends') ?? 'leveldb').split(',').map((b) => b.trim()) as Backend[];
  for (const b of backends) if (!BACKENDS.includes(b)) throw new UsageError(`unknown store backend ${JSON.stringify(b)}; backends: ${BACKENDS.join(', ')}`);
  if (backends.length === 0 || new Set(backends).size !== backends.length) throw new UsageError('--store-backends: a list of distinct backends');
  if (str('connect') !== undefined && (backends.length !== 1 || backends[0] !== 'leveldb')) throw new UsageError('--store-backends: not with --connect');
  if (preloadN !== undefined && (backends.length !== 1 || backends[0] !== 'leveldb')) throw new UsageError('--store-backends: not with --preload');
  const failoverConnections = str('failover-connections') === undefined ? 8 : Number(str('failover-connections'));
  if (!(Number.isInteger(failoverConnections) && failoverConnections >= 2 && failoverConnections <= 256)) throw new UsageError('--failover-connections: expected 2..256');
  const pid = str('server-pid') === undefined ? undefined : Number(str('server-pid'));
  if (pid !== undefined && !(Number.isInteger(pid) && pid > 0)) throw new UsageError('--server-pid: expected a process id');
  return {
    mixes,
    concurrency: str('concurrency') !== undefined ? positiveList(str('concurrency') as string, '--concurrency') : preloadN !== undefined ? [4] : [1, 4, 16, 64],
    concurrencyGiven: str('concurrency') !== undefined,
    durationMs: seconds(str('duration'), 3, '--duration'),
    warmupMs: seconds(str('warmup'), 1, '--warmup'),
    threads,
    spreadKeys,
    answerWaitMs: seconds(str('answer-wait'), 60, '--answer-wait'),
    backends,
    failover: backends.includes('pg2') && values['no-failover'] !== true,
    failoverConnections,
    pykmip: values['no-pykmip'] !== true && connect === undefined && preloadN === undefined,
    python: str('python') ?? '/usr/bin/python3',
    ...(preloadN !== undefined && { preload: preloadN }),
    ...(str('data-dir') !== undefined && { dataDir: resolve(str('data-dir') as string) }),
    ...(connect && { connect }),
    ...(pid !== undefined && { serverPid: pid }),
    ...(str('cpu-prof') !== undefined && { cpuProf: resolve(str('cpu-prof') as string) }),
    certs: resolve(str('certs') ?? 'certs/dev'),
    ...(str('json') !== undefined && { json: resolve(str('json') as string) }),
  };
}

/** 10k, 100k, 1M, … below n, then n. */
export function checkpoints(n: number): number[] {
  const out: number[] = [];
  for (let c = 10_000; c < n; c *= 10) out.push(c);
  out.push(n);
  return out;
}

interface Report {
  readonly command: string;
  readonly startedAt: string;
  readonly machine: ReturnType<typeof machine>;
  readonly settings: Omit<Options, 'certs' | 'json' | 'dataDir' | 'cpuProf'>;
  readonly points: PointResult[];
  readonly ratios?: Ratio[];
  readonly preload?: { objects: number; seconds: number; objectsPerSec: number }[];
  readonly failover?: FailoverResult | { readonly na: string };
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'load-test the server (and PyKMIP side by side): ops/s, latency, CPU/op, RSS',
  help: HELP,
  async run(argv: string[], io: CliIo): Promise<number> {
    const opts = parseBenchArgs(argv);
    const say = (line: string): void => void io.stderr.write(`kms bench: ${line}\n`);
    const certs = await ensureDevCerts(opts.certs);
    const report: Report = {
      command: `kms bench ${argv.join(' ')}`.trim(),
      startedAt: new Date().toISOString(),
      machine: machine(),
      settings: { ...opts, certs: undefined, json: undefined, dataDir: undefined, cpuProf: undefined } as Report['settings'],
      points: [],
    };
    say(`${report.machine.cores} × ${report.machine.cpus}, load average ${report.machine.loadavg.join(' ')}`);
    const runTag = Date.now().toString(36);
    const tmp = await mkdtemp(join(tmpdir(), 'kms-bench-'));
    const pointOpts = { warmupMs: opts.warmupMs, durationMs: opts.durationMs, threads: opts.threads, answerWaitMs: opts.answerWaitMs };
    const sweepOpts = { ...pointOpts, mixes: opts.mixes, concurrency: opts.concurrency, runTag, spreadKeys: opts.spreadKeys, progress: say };
    try {
      if (opts.preload !== undefined) {
        const code = await scaleRun(opts, certs, tmp, report, say);
        if (code !== ExitCode.Ok) return code;
        io.stdout.write(`\n${renderTable(report.points)}\n`);
      } else {
        const ourRoot = opts.dataDir ?? join(tmp, 'kms-data');
        await mkdir(ourRoot, { recursive: true, mode: 0o700 });
        let pgServer: BenchPostgres | undefined;
        try {
          for (const backend of opts.backends) {
            if (backend === 'leveldb') {
              const ours = opts.connect ? attachedFactory(certs, opts.connect.host, opts.connect.port, opts.serverPid) : ourFactory(ourRoot, certs, opts.cpuProf);
              report.points.push(...(await sweep(ours, sweepOpts)));
              continue;
            }
            const nodes = backend === 'pg1' ? 1 : 2;
            const label = `kms-${backend}`;
            if (!pgServer) {
              try {
                pgServer = await startBenchPostgres(join(tmp, 'postgres'));
                say(`PostgreSQL pid ${pgServer.pid} on 127.0.0.1:${pgServer.port}`);
              } catch (e) {
                const why = `PostgreSQL could not start: ${(e as Error).message.split('\n')[0] ?? ''}`;
                say(why);
                report.points.push(...opts.mixes.flatMap((m) => opts.concurrency.map((c) => ({ ...naPointFor(label, m, c, why) }))));
                continue;
              }
            }
            const factory = pgClusterFactory(label, nodes, ourRoot, certs, pgServer);
            report.points.push(...(await sweep(factory, sweepOpts)));
            if (backend === 'pg2' && opts.failover) {
              try {
                const f = await measureFailover(factory, { connections: opts.failoverConnections, beforeMs: 3000, afterMs: 5000, timeoutMs: 5000 });
                (report as { failover?: Report['failover'] }).failover = f;
                say(
                  `failover: ${f.movedConnections} of ${f.connections} connections on the killed node; no answer for ${f.gapMsMedian.toFixed(0)} ms median, ${f.gapMsMax.toFixed(0)} ms max`,
                );
              } catch (e) {
                (report as { failover?: Report['failover'] }).failover = { na: (e as Error).message };
                say(`failover run failed: ${(e as Error).message}`);
              }
            }
          }
        } finally {
          await pgServer?.stop();
        }
        let theirs: PointResult[] = [];
        if (opts.pykmip) {
          theirs = await sweep(pykmipFactory(join(tmp, 'pykmip'), certs, opts.python), sweepOpts);
          report.points.push(...theirs);
        }
        io.stdout.write(`\n${renderTable(report.points)}\n`);
        if (opts.pykmip) {
          const rs = ratios(
            report.points.filter((p) => p.server === 'kms'),
            theirs,
          );
          (report as { ratios?: Ratio[] }).ratios = rs;
          io.stdout.write(`\nkms vs PyKMIP, same run (CPU per op: 1/N means N times less CPU)\n\n${renderRatios(rs, 'pykmip')}\n`);
        }
        if (opts.backends.length > 1)
          io.stdout.write(
            `\nStores side by side, same run\n\n${renderBackends(
              report.points,
              opts.backends.map((b) => (b === 'leveldb' ? 'kms' : `kms-${b}`)),
            )}\n`,
          );
        if (report.failover) io.stdout.write(`\nFailover (2 nodes over one PostgreSQL, one node SIGKILLed under Get load)\n\n${renderFailover(report.failover)}\n`);
      }
      const jsonPath = opts.json ?? resolve('bench/results', `bench-${report.startedAt.replace(/[:.]/g, '-')}.json`);
      await mkdir(dirname(jsonPath), { recursive: true });
      await writeFile(jsonPath, JSON.stringify(report, null, 2) + '\n');
      say(`JSON report: ${jsonPath}`);
      return ExitCode.Ok;
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  },
};

function naPointFor(label: string, mix: MixName, c: number, why: string): PointResult {
  return { server: label, mix, title: MIX_TITLES[mix], connections: c, na: why, ops: 0, errors: 0, seconds: 0, opsPerSec: 0 };
}

function renderFailover(f: FailoverResult | { readonly na: string }): string {
  if ('na' in f) return `n/a: ${f.na}`;
  return [
    `connections ${f.connections} over ${f.nodes} nodes, ${f.movedConnections} on the killed node`,
    `no answer → answers again (connections of the killed node): median ${f.gapMsMedian.toFixed(0)} ms, max ${f.gapMsMax.toFixed(0)} ms`,
    `longest gap on the surviving node's connections: ${f.gapMsUnaffectedMax.toFixed(0)} ms`,
    `requests: ${f.okRequests} answered, ${f.failedRequests} failed; connections never answered again: ${f.neverRecovered}`,
  ].join('\n');
}

/** --preload: fill, serve, measure, stop; at each size. */
async function scaleRun(opts: Options, certs: DevCertPaths, tmp: string, report: Report, say: (l: string) => void): Promise<number> {
  const n = opts.preload as number;
  const dataDir = opts.dataDir ?? join(tmp, 'kms-data');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const filled: NonNullable<Report['preload']> = [];
  (report as { preload?: Report['preload'] }).preload = filled;
  const sample: string[] = [];
  let have = 0;
  for (const size of checkpoints(n)) {
    let lastShown = 0;
    const r = await preload(dataDir, have, size, DEFAULT_CLIENT_NAME, {
      progress: (done, total) => {
        if (done - lastShown >= 50_000 || done === total) {
          lastShown = done;
          say(`preload ${done.toLocaleString('en-US')} / ${total.toLocaleString('en-US')}`);
        }
      },
    });
    filled.push({ objects: size - have, seconds: r.seconds, objectsPerSec: (size - have) / r.seconds });
    say(`preloaded ${(size - have).toLocaleString('en-US')} objects in ${r.seconds.toFixed(1)} s (${Math.round((size - have) / r.seconds).toLocaleString('en-US')}/s)`);
    sample.push(...r.sampleUids);
    have = size;
    let target: BenchTarget;
    try {
      target = await startOurServer({ dataDir, certs, ...(opts.cpuProf && { cpuProfDir: opts.cpuProf }) });
    } catch (e) {
      say(`cannot start our server: ${(e as Error).message}`);
      return ExitCode.Io;
    }
    try {
      const idx = Array.from({ length: 256 }, () => Math.floor(Math.random() * size));
      const setup: MixSetup = { uids: sample, names: idx.map(preloadName), customValues: idx.map(preloadCustomValue) };
      for (const mix of opts.mixes) {
        for (const c of opts.concurrency) {
          const p = await runPoint(
            target,
            mix,
            setup,
            c,
            { warmupMs: opts.warmupMs, durationMs: opts.durationMs, threads: opts.threads, answerWaitMs: opts.answerWaitMs },
            { objects: size },
          );
          say(
            `${size.toLocaleString('en-US')} objects, ${MIX_TITLES[mix]} c=${c}: ${Math.round(p.opsPerSec)} ops/s, p99 ${p.latencyMs?.p99.toFixed(2)} ms, RSS ${((p.serverRssBytes ?? 0) / 2 ** 20).toFixed(0)} MB, errors ${p.errors}`,
          );
          report.points.push(p);
        }
      }
    } finally {
      await target.stop();
    }
  }
  return ExitCode.Ok;
}
