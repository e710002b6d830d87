/**
 * A small coverage-guided fuzzer on V8's own block coverage (node:inspector, Profiler
 * precise coverage with call counts), for the TTLV decoder and the dispatcher.
 *
 * Why not Jazzer.js: `@jazzer.js/core` 4.0.0 installs from the npm registry alone (its
 * libFuzzer addon ships prebuilt in the tarball), but that addon needs glibc 2.38 and the
 * Debian 12 machines here have 2.36 (`GLIBC_2.38 not found` at load); 1.x/2.x fetch their
 * addon from GitHub at install time or build it with cmake and downloaded sources. Neither is
 * possible here, so this loop does the same job with what Node ships (docs/fuzzing.md).
 *
 * The loop: run every seed, keep the ones that reach new coverage; then repeatedly pick a kept
 * input, mutate it (byte-level: bit flips, interesting values, insert/delete/duplicate chunks,
 * splices; structure-aware: decode the TTLV, change one item — an enumeration to another value
 * of its enumeration, an integer to an edge value, a child dropped, duplicated or moved, a
 * header length or type byte bent — and encode again), run it, and keep it when it reaches a
 * block (or a block-hit-count bucket, AFL style) no kept input reached. A target signals a
 * finding by throwing; the engine records the input (hex) and, when asked, stops.
 *
 * Coverage features are taken only from scripts whose URL passes `coverageFilter` (the
 * server's own modules), so node internals and the fuzzer itself do not steer the search.
 */
import { Session } from 'node:inspector';
import { tagDef, enumDef } from '../src/kmip/registry.js';
import { decode } from '../src/ttlv/decode.js';
import { encode } from '../src/ttlv/encode.js';
import type { TtlvNode } from '../src/ttlv/node.js';

/** A fuzz target: `run` throws (anything) to report a finding; it must not hang. */
export interface FuzzTarget {
  readonly name: string;
  run(input: Uint8Array): void | Promise<void>;
  /** Called every `resetEvery` executions and at the end (bounded state, no leak across runs). */
  reset?(): Promise<void>;
  close?(): Promise<void>;
}

export interface Finding {
  readonly target: string;
  readonly input: Uint8Array;
  readonly error: string;
  /** A short stable signature (error class + first message line + first stack frame in our code). */
  readonly signature: string;
}

export interface FuzzOptions {
  /** Wall-clock budget. */
  readonly durationMs: number;
  /** Inputs to start from (the OASIS messages, the regression inputs). */
  readonly seeds: readonly Uint8Array[];
  /** PRNG seed (runs are reproducible given the same seed, target and duration-independent order). */
  readonly seed?: number;
  /** Largest input the mutators produce. */
  readonly maxInputBytes?: number;
  /** Which scripts count for coverage; default: URLs under src/ of this project. */
  readonly coverageFilter?: (url: string) => boolean;
  /** Stop at the first finding (CI) instead of collecting distinct ones. */
  readonly stopOnFinding?: boolean;
  /** An execution slower than this is a finding (a hang or a quadratic path). */
  readonly slowMs?: number;
  readonly resetEvery?: number;
  /** Progress lines (stderr in the CLI). */
  readonly progress?: (line: string) => void;
  readonly progressEveryMs?: number;
}

export interface FuzzStats {
  readonly target: string;
  readonly executions: number;
  readonly corpusSize: number;
  readonly features: number;
  readonly seedsKept: number;
  readonly elapsedMs: number;
  readonly findings: readonly Finding[];
  /** The kept inputs (seeds that added coverage first, then mutants). */
  readonly corpus: readonly Uint8Array[];
}

// ------------------------------------------------------------------------------- PRNG

/** xorshift32: small, fast, reproducible. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.s = x;
    return x;
  }
  below(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.below(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }
}

// --------------------------------------------------------------------------- coverage

interface CoverageRange {
  readonly startOffset: number;
  readonly endOffset: number;
  readonly count: number;
}
interface ScriptCoverage {
  readonly scriptId: string;
  readonly url: string;
  readonly functions: readonly { readonly ranges: readonly CoverageRange[] }[];
}

/** AFL-style hit-count buckets: 1, 2, 3, 4-7, 8-15, 16-31, 32-127, 128+. */
function bucket(n: number): number {
  if (n <= 3) return n; // 0: listed but not run
  if (n < 8) return 4;
  if (n < 16) return 5;
  if (n < 32) return 6;
  if (n < 128) return 7;
  return 8;
}

export const DEFAULT_COVERAGE_FILTER = (url: string): boolean =>
  /\/src\/(ttlv|kmip|objects|operations|policy|crypto|store|audit|pki|server|hsm)\//.test(url) && !url.includes('node_modules');

/**
 * V8 block coverage of this isolate; each `take` returns what ran since the previous one.
 *
 * One session for the whole process, started once and never stopped: V8 gives block counters
 * only to functions compiled while precise coverage is on, and stopping it drops them, so a
 * second fuzz run in the same process (the CLI's `all`, the CI test) would otherwise see
 * function-level coverage only. Importing this module starts it, so start the fuzzer before
 * running the code under test.
 */
export class Coverage {
  private static shared: Coverage | undefined;
  private readonly session = new Session();
  private readonly scriptIds = new Map<string, number>();

  private constructor() {
    this.session.connect();
    this.post('Profiler.enable');
    this.post('Profiler.startPreciseCoverage', { callCount: true, detailed: true });
  }

  static get(): Coverage {
    return (Coverage.shared ??= new Coverage());
  }

  /** Features hit since the last call in scripts `filter` accepts: `script:start:end:bucket` keys. Resets the counters. */
  take(filter: (url: string) => boolean): string[] {
    const res = this.post('Profiler.takePreciseCoverage') as { result: ScriptCoverage[] };
    const out: string[] = [];
    for (const s of res.result) {
      if (!filter(s.url)) continue;
      let id = this.scriptIds.get(s.url);
      if (id === undefined) {
        id = this.scriptIds.size;
        this.scriptIds.set(s.url, id);
      }
      for (const f of s.functions) {
        const first = f.ranges[0];
        if (!first || first.count === 0) continue;
        // V8 reports a function's range and the nested blocks whose count differs from their
        // parent's (a block run as often as its parent is not listed). So a block that did not run
        // is a range with count 0, and which ranges are listed changes with the path taken: every
        // listed range with its count bucket, zero included, is a feature.
        for (const r of f.ranges) out.push(`${id}:${r.startOffset}:${r.endOffset}:${bucket(r.count)}`);
      }
    }
    return out;
  }

  private post(method: string, params?: object): unknown {
    let result: unknown;
    let error: Error | null = null;
    // With a same-thread session, post() calls back synchronously.
    this.session.post(method, params ?? {}, (err, r) => {
      error = err;
      result = r;
    });
    if (error) throw error;
    return result;
  }
}
Coverage.get();

// ---------------------------------------------------------------------------- mutators

const INTERESTING_8 = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x42, 0x08, 0x10];
const INTERESTING_32 = [0, 1, -1, 0x7fffffff, -0x80000000, 0x100, 0xffff, 8, 7, 9, 255, 4096, 65536];

function concat(...parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Offsets of every item header in a buffer that walks as TTLV (stops where it stops making sense). */
export function headerOffsets(b: Uint8Array): number[] {
  const out: number[] = [];
  const walk = (start: number, end: number, depth: number): void => {
    let o = start;
    while (o + 8 <= end && out.length < 4096 && depth < 40) {
      out.push(o);
      const type = b[o + 3]!;
      const len = ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
      if (type === 0x01) walk(o + 8, Math.min(end, o + 8 + len), depth + 1);
      const padded = type === 0x01 ? len : Math.ceil(len / 8) * 8;
      if (padded === 0 && type !== 0x01 && len === 0) {
        o += 8;
        continue;
      }
      o += 8 + padded;
    }
  };
  walk(0, b.length, 0);
  return out;
}

function byteMutation(rng: Rng, input: Uint8Array, other: Uint8Array | undefined, max: number): Uint8Array {
  const b = Uint8Array.from(input);
  const pos = (n = b.length): number => rng.below(Math.max(1, n));
  switch (rng.below(10)) {
    case 0:
      if (b.length) b[pos()]! ^= 1 << rng.below(8);
      return b;
    case 1:
      if (b.length) b[pos()] = rng.pick(INTERESTING_8);
      return b;
    case 2:
      if (b.length) b[pos()] = rng.below(256);
      return b;
    case 3: {
      // 32-bit interesting value (lengths, integers, enumerations are big-endian 4-byte fields)
      if (b.length < 4) return b;
      const at = pos(b.length - 3);
      new DataView(b.buffer).setInt32(at, rng.pick(INTERESTING_32));
      return b;
    }
    case 4: {
      const at = pos(b.length + 1);
      const n = 1 + rng.below(16);
      const chunk = new Uint8Array(n).map(() => rng.below(256));
      return concat(b.subarray(0, at), chunk, b.subarray(at)).subarray(0, max);
    }
    case 5: {
      if (b.length < 2) return b;
      const at = pos();
      const n = 1 + rng.below(Math.min(64, b.length - at));
      return concat(b.subarray(0, at), b.subarray(at + n));
    }
    case 6: {
      if (b.length < 2) return b;
      const at = pos();
      const n = 1 + rng.below(Math.min(64, b.length - at));
      const to = pos(b.length + 1);
      return concat(b.subarray(0, to), b.subarray(at, at + n), b.subarray(to)).subarray(0, max);
    }
    case 7: {
      if (!other || other.length === 0) return b;
      const at = pos();
      const from = rng.below(other.length);
      return concat(b.subarray(0, at), other.subarray(from, from + 1 + rng.below(other.length - from))).subarray(0, max);
    }
    case 8:
      return b.subarray(0, pos(b.length + 1));
    default: {
      // header-aware: bend one item's type or length
      const hs = headerOffsets(b);
      if (hs.length === 0) return b;
      const h = rng.pick(hs);
      const dv = new DataView(b.buffer);
      if (rng.chance(0.3)) b[h + 3] = rng.chance(0.8) ? 1 + rng.below(11) : rng.below(256);
      else {
        const len = dv.getUint32(h + 4);
        const opts = [0, len + 1, len - 1, len + 8, len - 8, 0xffffffff, 0x7fffffff, rng.below(64)];
        dv.setUint32(h + 4, rng.pick(opts) >>> 0);
      }
      return b;
    }
  }
}

const ENUM_OF = new Map<number, readonly number[]>();
function enumValuesOf(tag: number): readonly number[] {
  let v = ENUM_OF.get(tag);
  if (!v) {
    const e = tagDef(tag)?.enum;
    v = (e ? enumDef(e)?.values.map((x) => x.value) : undefined) ?? [];
    ENUM_OF.set(tag, v);
  }
  return v;
}

function mutateScalar(rng: Rng, n: Exclude<TtlvNode, { type: 'Structure' }>): TtlvNode {
  switch (n.type) {
    case 'Integer':
    case 'Interval':
      return { ...n, value: n.type === 'Interval' ? rng.pick(INTERESTING_32) >>> 0 : rng.chance(0.5) ? rng.pick(INTERESTING_32) : n.value + rng.below(17) - 8 };
    case 'Enumeration': {
      const vs = enumValuesOf(n.tag);
      return { ...n, value: vs.length && rng.chance(0.8) ? rng.pick(vs) : rng.pick(INTERESTING_32) >>> 0 };
    }
    case 'LongInteger':
    case 'DateTime':
    case 'DateTimeExtended':
      return { ...n, value: rng.pick([0n, -1n, 1n, 0x7fffffffffffffffn, -0x8000000000000000n, n.value + 1n, n.value - 1n]) };
    case 'Boolean':
      return { ...n, value: !n.value };
    case 'TextString':
    case 'Identifier':
    case 'Reference':
    case 'NameReference':
      return { ...n, value: rng.pick(['', n.value + n.value, 'x'.repeat(rng.below(300)), '\u0000', 'é', n.value.slice(1), '$', '*']) };
    case 'ByteString':
    case 'BigInteger': {
      const lens = n.type === 'BigInteger' ? [0, 8, 16, 64, 256, 512] : [0, 1, 7, 8, 15, 16, 24, 32, 33, 64, 128, 256, 1000];
      const len = rng.pick(lens);
      return { ...n, value: rng.chance(0.5) ? new Uint8Array(len).map(() => rng.below(256)) : n.value.subarray(0, Math.max(0, n.value.length - 1 - rng.below(4))) };
    }
  }
}

/** Paths to every node of a tree (as child indexes). */
function paths(n: TtlvNode, prefix: number[] = [], out: number[][] = []): number[][] {
  out.push(prefix);
  if (n.type === 'Structure' && out.length < 4096) n.value.forEach((c, i) => paths(c, [...prefix, i], out));
  return out;
}

function replaceAt(n: TtlvNode, path: readonly number[], f: (x: TtlvNode) => TtlvNode | TtlvNode[]): TtlvNode {
  if (path.length === 0) {
    const r = f(n);
    return Array.isArray(r) ? (r[0] ?? n) : r;
  }
  if (n.type !== 'Structure') return n;
  const [i, ...rest] = path as [number, ...number[]];
  const value: TtlvNode[] = [];
  n.value.forEach((c, j) => {
    if (j !== i) value.push(c);
    else if (rest.length === 0) {
      const r = f(c);
      value.push(...(Array.isArray(r) ? r : [r]));
    } else value.push(replaceAt(c, rest, f));
  });
  return { ...n, value };
}

function treeMutation(rng: Rng, input: Uint8Array, donors: readonly Uint8Array[]): Uint8Array | undefined {
  let tree: TtlvNode;
  try {
    tree = decode(input);
  } catch {
    return undefined;
  }
  const ps = paths(tree);
  const p = rng.pick(ps);
  const out = replaceAt(tree, p, (x) => {
    switch (rng.below(6)) {
      case 0:
        return []; // drop
      case 1:
        return [x, x]; // duplicate
      case 2: {
        // graft a random item from another message in place of this one, or after it
        const donor = donors.length ? rng.pick(donors) : undefined;
        if (!donor) return x;
        try {
          const d = decode(donor);
          const dp = rng.pick(paths(d));
          let g: TtlvNode = d;
          for (const i of dp) g = g.type === 'Structure' ? (g.value[i] ?? g) : g;
          return rng.chance(0.5) ? [x, g] : g;
        } catch {
          return x;
        }
      }
      case 3:
        if (x.type === 'Structure' && x.value.length > 1) {
          const v = [...x.value];
          const i = rng.below(v.length);
          const j = rng.below(v.length);
          [v[i], v[j]] = [v[j]!, v[i]!];
          return { ...x, value: v };
        }
        return x.type === 'Structure' ? x : mutateScalar(rng, x);
      case 4: {
        // another tag of the same shape (a known tag, so the registry-driven code paths see it)
        const tags = [0x420001 + rng.below(0x160), 0x540000 + rng.below(4)];
        return { ...x, tag: rng.pick(tags) } as TtlvNode;
      }
      default:
        return x.type === 'Structure' ? { ...x, value: x.value.slice(0, rng.below(x.value.length + 1)) } : mutateScalar(rng, x);
    }
  });
  try {
    return encode(out);
  } catch {
    return undefined;
  }
}

export function mutate(rng: Rng, input: Uint8Array, corpus: readonly Uint8Array[], max: number): Uint8Array {
  let b = input;
  const rounds = 1 + rng.below(rng.chance(0.7) ? 2 : 6);
  for (let i = 0; i < rounds; i++) {
    const tree = rng.chance(0.5) ? treeMutation(rng, b, corpus) : undefined;
    b = tree ?? byteMutation(rng, b, corpus.length ? rng.pick(corpus) : undefined, max);
  }
  return b.length > max ? b.subarray(0, max) : b;
}

// ------------------------------------------------------------------------------ the loop

function signatureOf(e: unknown): string {
  if (!(e instanceof Error)) return `non-error: ${String(e).slice(0, 120)}`;
  const frame = (e.stack ?? '').split('\n').find((l) => /\/(src|fuzz)\//.test(l) && !l.includes('/fuzz/engine')) ?? '';
  return `${e.name}: ${e.message.split('\n')[0]!.slice(0, 160)} @ ${frame
    .trim()
    .replace(/^at /, '')
    .replace(/:\d+\)?$/, '')}`;
}

export async function fuzz(target: FuzzTarget, opts: FuzzOptions): Promise<FuzzStats> {
  const rng = new Rng(opts.seed ?? Date.now());
  const max = opts.maxInputBytes ?? 64 * 1024;
  const slowMs = opts.slowMs ?? 5000;
  const resetEvery = opts.resetEvery ?? 2000;
  const cov = Coverage.get();
  const filter = opts.coverageFilter ?? DEFAULT_COVERAGE_FILTER;
  const seen = new Set<string>();
  const corpus: Uint8Array[] = [];
  const findings: Finding[] = [];
  const signatures = new Set<string>();
  const started = Date.now();
  const deadline = started + opts.durationMs;
  let executions = 0;
  let lastProgress = started;
  let stop = false;

  const execute = async (input: Uint8Array): Promise<boolean> => {
    executions++;
    const t0 = Date.now();
    let failure: unknown;
    try {
      await target.run(input);
    } catch (e) {
      failure = e;
    }
    const took = Date.now() - t0;
    if (failure === undefined && took > slowMs) failure = new Error(`slow input: ${took} ms (limit ${slowMs} ms)`);
    const features = cov.take(filter);
    let fresh = false;
    for (const f of features) {
      if (!seen.has(f)) {
        seen.add(f);
        fresh = true;
      }
    }
    if (failure !== undefined) {
      const signature = signatureOf(failure);
      if (!signatures.has(signature)) {
        signatures.add(signature);
        const error = failure instanceof Error ? (failure.stack ?? failure.message) : String(failure);
        findings.push({ target: target.name, input: Uint8Array.from(input), error, signature });
        opts.progress?.(`[${target.name}] FINDING ${signature}`);
        if (opts.stopOnFinding) stop = true;
      }
      return false;
    }
    if (fresh) corpus.push(Uint8Array.from(input));
    if (executions % resetEvery === 0) await target.reset?.();
    return fresh;
  };

  {
    cov.take(filter); // drop what ran before the loop
    let seedsKept = 0;
    for (const s of opts.seeds) {
      if (stop || Date.now() > deadline) break;
      if (await execute(s)) seedsKept++;
    }
    if (corpus.length === 0) corpus.push(new Uint8Array(0));
    while (!stop && Date.now() < deadline) {
      // Newer entries are picked more often (they are where the frontier is).
      const i = rng.chance(0.5) ? corpus.length - 1 - rng.below(Math.min(corpus.length, 64)) : rng.below(corpus.length);
      await execute(mutate(rng, corpus[i]!, corpus, max));
      const now = Date.now();
      if (opts.progress && now - lastProgress >= (opts.progressEveryMs ?? 10_000)) {
        lastProgress = now;
        opts.progress(
          `[${target.name}] ${Math.round((now - started) / 1000)}s exec ${executions} (${Math.round((executions * 1000) / (now - started))}/s) corpus ${corpus.length} features ${seen.size} findings ${findings.length}`,
        );
      }
    }
    await target.reset?.();
    return { target: target.name, executions, corpusSize: corpus.length, features: seen.size, seedsKept, elapsedMs: Date.now() - started, findings, corpus };
  }
}
