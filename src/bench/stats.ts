/**
 * Figures for `kms bench`: latency percentiles, and a server's CPU time and resident memory
 * read from /proc (Linux). Pure functions over text so they are testable without a process.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * The q-quantile (0 < q ≤ 1) of values sorted ascending, by the nearest-rank method: the
 * smallest value with at least q·n values at or below it. NaN for no values.
 */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (!(q > 0 && q <= 1)) throw new RangeError(`quantile ${q} is not in (0, 1]`);
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  const rank = Math.ceil(q * n);
  return sorted[Math.min(n, Math.max(1, rank)) - 1] as number;
}

export interface LatencySummary {
  readonly count: number;
  /** Milliseconds. */
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

/** Sort (in place) and summarize latencies in milliseconds. */
export function summarize(latencies: Float64Array): LatencySummary {
  latencies.sort();
  const n = latencies.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += latencies[i] as number;
  return {
    count: n,
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    p999: percentile(latencies, 0.999),
    max: n > 0 ? (latencies[n - 1] as number) : Number.NaN,
    mean: n > 0 ? sum / n : Number.NaN,
  };
}

/** The fields of /proc/<pid>/stat that the bench uses (times in clock ticks). */
export interface ProcStat {
  readonly pid: number;
  readonly comm: string;
  readonly ppid: number;
  readonly pgrp: number;
  readonly utime: number;
  readonly stime: number;
}

/**
 * Parse one /proc/<pid>/stat line (proc(5)). The command name is in parentheses and may itself
 * hold spaces and parentheses, so the fields are counted from the LAST ')'.
 */
export function parseProcStat(text: string): ProcStat {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error('malformed /proc stat: no (comm)');
  const pid = Number(text.slice(0, open).trim());
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state); field n is rest[n - 3].
  const field = (n: number): number => {
    const v = Number(rest[n - 3]);
    if (!Number.isFinite(v)) throw new Error(`malformed /proc stat: field ${n}`);
    return v;
  };
  return { pid, comm: text.slice(open + 1, close), ppid: field(4), pgrp: field(5), utime: field(14), stime: field(15) };
}

/** VmRSS from /proc/<pid>/status, in bytes (undefined for a process without one, e.g. a zombie). */
export function parseVmRss(status: string): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s+kB\s*$/m.exec(status);
  return m ? Number(m[1]) * 1024 : undefined;
}

let ticks: number | undefined;
/** Clock ticks per second (getconf CLK_TCK; 100 on every Linux the bench will meet). */
export function clockTicks(): number {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

export interface ProcessUsage {
  /** User + system CPU seconds of the counted processes. */
  readonly cpuSeconds: number;
  /** Sum of their resident set sizes, bytes. */
  readonly rssBytes: number;
  readonly processes: number;
}

/**
 * CPU time and RSS of a process group (a server started detached is its own group; PyKMIP forks
 * helpers into it), or of the single process `pid` when `group` is false.
 */
export function processUsage(pid: number, group = true): ProcessUsage {
  const pids = group ? groupMembers(pid) : [pid];
  let t = 0;
  let rss = 0;
  let n = 0;
  for (const p of pids) {
    try {
      const st = parseProcStat(readFileSync(`/proc/${p}/stat`, 'utf8'));
      t += st.utime + st.stime;
      rss += parseVmRss(readFileSync(`/proc/${p}/status`, 'utf8')) ?? 0;
      n++;
    } catch {
      // exited meanwhile
    }
  }
  return { cpuSeconds: t / clockTicks(), rssBytes: rss, processes: n };
}

function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (parseProcStat(readFileSync(`/proc/${name}/stat`, 'utf8')).pgrp === pgid) out.push(Number(name));
    } catch {
      // gone
    }
  }
  if (!out.includes(pgid)) out.push(pgid);
  return out;
}
