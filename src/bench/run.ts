/**
 * `kms bench`: the load generator. Measures one point (server, mix, connections) with worker
 * threads, sweeps mixes × concurrency on each server, and renders the table, the our/their
 * ratios and the JSON report.
 */
import { Worker } from 'node:worker_threads';
import { cpus, loadavg } from 'node:os';
import type { KmipClientOptions } from '../client/client.js';
import { MIX_TITLES, SPREAD_MIXES, setupMix, type MixName, type MixSetup } from './mixes.js';
import type { BenchTarget, ServerFactory } from './servers.js';
import { processUsage, summarize, type LatencySummary } from './stats.js';
import { Phase, SharedWord, type WorkerInput, type WorkerResult } from './worker.js';

export interface PointOptions {
  readonly warmupMs: number;
  readonly durationMs: number;
  /** Most worker threads (connections are spread over them). */
  readonly threads: number;
  /** How long every connection may take to get its first answer (then the point is n/a, with why). */
  readonly answerWaitMs: number;
}

export interface PointResult {
  readonly server: string;
  readonly mix: MixName;
  readonly title: string;
  readonly connections: number;
  /** Objects in the store (preload runs). */
  readonly objects?: number;
  /** Why the mix could not run on this server (then no figures). */
  readonly na?: string;
  readonly ops: number;
  readonly errors: number;
  readonly firstError?: string;
  readonly seconds: number;
  readonly opsPerSec: number;
  readonly latencyMs?: LatencySummary;
  /** Server CPU seconds (user + system, whole process group) per op. */
  readonly cpuPerOpMs?: number;
  /** Server CPU busy, in cores (1.0 = one core fully used). */
  readonly serverCores?: number;
  readonly serverRssBytes?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function spreadConnections(connections: number, threads: number): number[] {
  const n = Math.max(1, Math.min(threads, connections));
  return Array.from({ length: n }, (_, i) => Math.floor(connections / n) + (i < connections % n ? 1 : 0));
}

/** CPU seconds and RSS of everything that serves a target (its processes, or process groups). */
export function targetUsage(target: BenchTarget): { cpuSeconds: number; rssBytes: number } | undefined {
  if (target.pid === undefined) return undefined;
  const all = [{ pid: target.pid, group: target.group }, ...(target.alsoMeasure ?? [])];
  let cpuSeconds = 0;
  let rssBytes = 0;
  for (const p of all) {
    const u = processUsage(p.pid, p.group);
    cpuSeconds += u.cpuSeconds;
    rssBytes += u.rssBytes;
  }
  return { cpuSeconds, rssBytes };
}

/**
 * Run one measured point: workers open their connections, warm up until every connection has
 * had an answer (at least opts.warmupMs, at most opts.answerWaitMs: a server that cannot answer
 * every connection in that time gets an n/a point saying so, instead of a hang), measure, stop.
 */
export async function runPoint(target: BenchTarget, mix: MixName, setup: MixSetup, connections: number, opts: PointOptions, extra: { objects?: number } = {}): Promise<PointResult> {
  const sharedBuf = new SharedArrayBuffer(8);
  const shared = new Int32Array(sharedBuf);
  const workerUrl = new URL('./worker.js', import.meta.url);
  const clients = target.clients ?? [target.client];
  let offset = 0;
  const workers = spreadConnections(connections, opts.threads).map((n) => {
    const input: WorkerInput = { clients, offset, mix, setup, connections: n, shared: sharedBuf };
    offset += n;
    return new Worker(workerUrl, { workerData: input });
  });
  const failed = new Promise<never>((_, reject) => {
    for (const w of workers) {
      w.on('message', (m: { type: string; error?: string }) => m.type === 'failed' && reject(new Error(m.error)));
      w.once('error', reject);
    }
  });
  failed.catch(() => undefined);
  const results = workers.map(
    (w) =>
      new Promise<WorkerResult>((resolve, reject) => {
        w.on('message', (m: { type: string; result?: WorkerResult }) => m.type === 'done' && resolve(m.result as WorkerResult));
        w.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
      }),
  );
  for (const r of results) r.catch(() => undefined); // a worker ended early: the point says why
  const ready = workers.map((w) => new Promise<void>((resolve) => w.on('message', (m: { type: string }) => m.type === 'ready' && resolve())));
  const base = { server: target.label, mix, title: MIX_TITLES[mix], connections, ...(extra.objects !== undefined && { objects: extra.objects }) };
  const collect = async (): Promise<WorkerResult[]> => {
    Atomics.store(shared, SharedWord.Phase, Phase.Stop);
    for (const w of workers) w.postMessage({ type: 'stop' });
    return Promise.all(results);
  };
  let all: WorkerResult[];
  let cpu0 = 0;
  let cpu1 = 0;
  let rss = 0;
  let t0 = 0;
  let t1 = 0;
  try {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), opts.answerWaitMs)));
    const opened = await Promise.race([Promise.all(ready).then(() => true), failed, timedOut]).finally(() => clearTimeout(timer));
    if (!opened) return naPoint(target.label, mix, connections, `could not open ${connections} connections within ${opts.answerWaitMs / 1000} s`, extra);
    const answerBy = Date.now() + opts.answerWaitMs;
    await sleep(opts.warmupMs);
    while (Atomics.load(shared, SharedWord.Answered) < connections && Date.now() < answerBy) await sleep(20);
    const answered = Atomics.load(shared, SharedWord.Answered);
    if (answered < connections) {
      const r = await collect();
      const why = r.find((x) => x.firstWarmupError !== undefined)?.firstWarmupError;
      return naPoint(
        target.label,
        mix,
        connections,
        `no answer within ${opts.answerWaitMs / 1000} s on ${connections - answered} of ${connections} connections${why ? `; error: ${why}` : ''}`,
        extra,
      );
    }
    const u0 = targetUsage(target);
    t0 = performance.now();
    Atomics.store(shared, SharedWord.Phase, Phase.Measure);
    await sleep(opts.durationMs);
    t1 = performance.now();
    all = await collect();
    const u1 = targetUsage(target);
    if (u0 && u1) {
      cpu0 = u0.cpuSeconds;
      cpu1 = u1.cpuSeconds;
      rss = u1.rssBytes;
    }
  } finally {
    Atomics.store(shared, SharedWord.Phase, Phase.Stop);
    await Promise.all(workers.map((w) => w.terminate().catch(() => undefined)));
  }
  const ops = all.reduce((s, r) => s + r.ops, 0);
  const errors = all.reduce((s, r) => s + r.errors, 0);
  const firstError = all.find((r) => r.firstError !== undefined)?.firstError;
  // Every attempt failed, in the warm-up and in the window: the server cannot do this mix.
  const warmupError = all.find((r) => r.firstWarmupError !== undefined)?.firstWarmupError;
  if (ops === 0 && errors > 0 && warmupError !== undefined) return naPoint(target.label, mix, connections, `every request failed: ${firstError ?? warmupError}`, extra);
  const lat = new Float64Array(ops);
  let off = 0;
  for (const r of all) {
    lat.set(r.latencies, off);
    off += r.latencies.length;
  }
  const seconds = (t1 - t0) / 1000;
  const measured = target.pid !== undefined;
  return {
    ...base,
    ops,
    errors,
    ...(firstError !== undefined && { firstError }),
    seconds,
    opsPerSec: ops / seconds,
    latencyMs: summarize(lat),
    ...(measured && ops > 0 && { cpuPerOpMs: ((cpu1 - cpu0) * 1000) / ops, serverCores: (cpu1 - cpu0) / seconds, serverRssBytes: rss }),
  };
}

export interface SweepOptions extends PointOptions {
  readonly mixes: readonly MixName[];
  readonly concurrency: readonly number[];
  readonly runTag: string;
  /** Keys preloaded for the spread mixes. */
  readonly spreadKeys: number;
  readonly progress: (line: string) => void;
  /** Label of the rows (default: the factory's). */
  readonly label?: string;
}

/**
 * Every mix at every concurrency, each mix on a fresh server from `factory` (its own store, so
 * a mix does not pay for the objects or the queued requests of the one before). A mix the
 * server cannot do, or a server that cannot start, is n/a (with why).
 */
export async function sweep(factory: ServerFactory, opts: SweepOptions): Promise<PointResult[]> {
  const out: PointResult[] = [];
  const label = opts.label ?? factory.label;
  const na = (mix: MixName, why: string): void => {
    opts.progress(`${label} ${mix}: n/a (${why})`);
    for (const c of opts.concurrency) out.push(naPoint(label, mix, c, why, SPREAD_MIXES.includes(mix) ? { objects: opts.spreadKeys } : {}));
  };
  for (const mix of opts.mixes) {
    const spread = SPREAD_MIXES.includes(mix);
    let started: Awaited<ReturnType<ServerFactory['start']>>;
    try {
      started = await factory.start(spread ? opts.spreadKeys : 0);
    } catch (e) {
      na(mix, `server did not start: ${(e instanceof Error ? e.message : String(e)).split('\n')[0] ?? ''}`);
      continue;
    }
    const target = { ...started.target, label };
    try {
      let setup: MixSetup;
      try {
        setup = await setupMix(mix, target.client, `${opts.runTag}-${mix}`, started.uids);
      } catch (e) {
        na(mix, e instanceof Error ? e.message : String(e));
        continue;
      }
      for (const c of opts.concurrency) {
        const p = await runPoint(target, mix, setup, c, opts, spread ? { objects: opts.spreadKeys } : {});
        opts.progress(
          p.na !== undefined
            ? `${label} ${MIX_TITLES[mix]} c=${c}: n/a (${p.na})`
            : `${label} ${MIX_TITLES[mix]} c=${c}: ${fmtRate(p.opsPerSec)} ops/s, p99 ${fmtMs(p.latencyMs?.p99)} ms, errors ${p.errors}`,
        );
        out.push(p);
      }
    } finally {
      await target.stop();
    }
  }
  return out;
}

export function naPoint(server: string, mix: MixName, connections: number, why: string, extra: { objects?: number } = {}): PointResult {
  return { server, mix, title: MIX_TITLES[mix], connections, ...(extra.objects !== undefined && { objects: extra.objects }), na: why, ops: 0, errors: 0, seconds: 0, opsPerSec: 0 };
}

// ------------------------------------------------------------------------------------- output

function fmtRate(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1);
}

function fmtMs(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
}

function fmtCpu(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '-';
  const us = ms * 1000;
  return us >= 100 ? Math.round(us).toLocaleString('en-US') : us.toFixed(1);
}

function fmtMb(b: number | undefined): string {
  return b === undefined ? '-' : (b / (1024 * 1024)).toFixed(0);
}

/** A markdown table (reads as text too). */
export function renderTable(points: readonly PointResult[]): string {
  const withObjects = points.some((p) => p.objects !== undefined);
  const head = ['server', ...(withObjects ? ['objects'] : []), 'mix', 'conns', 'ops/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'server CPU µs/op', 'server RSS MB', 'errors (or why n/a)'];
  const rows = points.map((p) =>
    p.na !== undefined
      ? [p.server, ...(withObjects ? [p.objects?.toLocaleString('en-US') ?? ''] : []), p.title, String(p.connections), 'n/a', '', '', '', '', '', p.na.slice(0, 100)]
      : [
          p.server,
          ...(withObjects ? [p.objects?.toLocaleString('en-US') ?? ''] : []),
          p.title,
          String(p.connections),
          fmtRate(p.opsPerSec),
          fmtMs(p.latencyMs?.p50),
          fmtMs(p.latencyMs?.p99),
          fmtMs(p.latencyMs?.p999),
          fmtCpu(p.cpuPerOpMs),
          fmtMb(p.serverRssBytes),
          String(p.errors),
        ],
  );
  return markdown(head, rows);
}

function markdown(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  return [line(head), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n');
}

/** One row per mix and concurrency, the servers `labels` side by side (ops/s, p50, p99), and the last one over the first. */
export function renderBackends(points: readonly PointResult[], labels: readonly string[]): string {
  const head = ['mix', 'conns', ...labels.flatMap((l) => [`${l} ops/s`, `${l} p50/p99 ms`]), ...(labels.length > 1 ? [`${labels[labels.length - 1]}/${labels[0]}`] : [])];
  const keys = [...new Map(points.filter((p) => labels.includes(p.server)).map((p) => [`${p.mix}|${p.connections}`, p])).values()];
  const rows = keys.map((k) => {
    const of = (l: string): PointResult | undefined => points.find((p) => p.server === l && p.mix === k.mix && p.connections === k.connections);
    const cells = labels.flatMap((l) => {
      const p = of(l);
      if (!p) return ['-', ''];
      if (p.na !== undefined) return ['n/a', p.na.slice(0, 40)];
      return [fmtRate(p.opsPerSec), `${fmtMs(p.latencyMs?.p50)} / ${fmtMs(p.latencyMs?.p99)}`];
    });
    const first = of(labels[0] as string);
    const last = of(labels[labels.length - 1] as string);
    const ratio = first && last && first.na === undefined && last.na === undefined && first.opsPerSec > 0 ? `${(last.opsPerSec / first.opsPerSec).toFixed(2)}×` : '-';
    return [k.title, String(k.connections), ...cells, ...(labels.length > 1 ? [ratio] : [])];
  });
  return markdown(head, rows);
}

export interface Ratio {
  readonly mix: MixName;
  readonly title: string;
  readonly connections: number;
  /** Ours ÷ theirs; undefined when either could not run. */
  readonly throughput?: number;
  readonly cpuPerOp?: number;
  readonly na?: string;
  /** Fewest ops either side counted: a ratio over a handful of ops is marked as such. */
  readonly minOps?: number;
}

/** Our/their ratios, point by point (same mix and connections). */
export function ratios(ours: readonly PointResult[], theirs: readonly PointResult[]): Ratio[] {
  return ours.map((o) => {
    const p = theirs.find((x) => x.mix === o.mix && x.connections === o.connections);
    const base = { mix: o.mix, title: o.title, connections: o.connections };
    if (!p) return { ...base, na: 'not run' };
    if (p.na !== undefined) return { ...base, na: p.na };
    if (p.ops === 0) return { ...base, na: `${p.server} ended no op in the ${p.seconds.toFixed(0)} s window${p.errors > 0 ? `; errors: ${p.firstError ?? p.errors}` : ''}` };
    if (o.na !== undefined || o.ops === 0) return { ...base, na: o.na ?? 'no successful op on ours' };
    return {
      ...base,
      throughput: o.opsPerSec / p.opsPerSec,
      minOps: Math.min(o.ops, p.ops),
      ...(o.cpuPerOpMs !== undefined && p.cpuPerOpMs !== undefined && o.cpuPerOpMs > 0 && { cpuPerOp: o.cpuPerOpMs / p.cpuPerOpMs }),
    };
  });
}

export function renderRatios(rs: readonly Ratio[], them: string): string {
  const head = ['mix', 'conns', `throughput kms/${them}`, `CPU per op kms/${them}`];
  const rows = rs.map((r) =>
    r.na !== undefined
      ? [r.title, String(r.connections), `n/a: ${r.na.slice(0, 90)}`, '']
      : [
          r.title,
          String(r.connections),
          (r.throughput === undefined ? '-' : `${r.throughput.toFixed(1)}×`) + ((r.minOps ?? Infinity) < 10 ? ` (only ${r.minOps} ops)` : ''),
          r.cpuPerOp === undefined ? '-' : `1/${(1 / r.cpuPerOp).toFixed(0)}`,
        ],
  );
  return markdown(head, rows);
}

/** What the machine was: for the report header. */
export function machine(): { cpus: string; cores: number; loadavg: number[]; node: string } {
  const c = cpus();
  return { cpus: c[0]?.model ?? 'unknown', cores: c.length, loadavg: loadavg().map((x) => Math.round(x * 100) / 100), node: process.version };
}

export type { KmipClientOptions };
