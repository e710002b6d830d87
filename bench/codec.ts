/**
 * Codec benchmark: our TTLV `decode`/`encode` against PyKMIP's codec, on the same bytes.
 *
 *   npm run bench                       (builds, then runs dist/bench/codec.js; about a minute)
 *   npm run bench -- --rounds 3 --round-ms 200 --warmup-ms 200     (a quicker, noisier run)
 *
 * What happens
 * 1. `bench/pykmip_codec.py messages` (run with /usr/bin/python3, Debian's python3-pykmip 0.10)
 *    builds four messages as PyKMIP objects, KMIP 1.2 encoding, and prints their bytes:
 *      get-request            Get request, one batch item, one Unique Identifier
 *      get-response-rsa4096   Get response, RSA-4096 private key (PKCS#1 DER) in a Key Block
 *                             (Key Format Type, Cryptographic Algorithm RSA, Length 4096)
 *      locate-response-1000   Locate response, 1,000 Unique Identifiers (UUID strings)
 *      create-batch-32        request batch of 32 Create (AES-256: Algorithm, Length, Usage
 *                             Mask, Name as Template-Attribute attributes)
 * 2. For each message, our `decode` then `encode` must reproduce the bytes exactly; if not,
 *    the run aborts with exit code 1 before timing anything.
 * 3. Our side: per message and operation, a warm-up (not counted), then several rounds of a
 *    fixed time budget, timed with process.hrtime.bigint(); the median round is reported.
 *    Decode is `decode(bytes)` → tree; encode is `encode(tree)` → a fresh Buffer.
 * 4. PyKMIP side, in the same run: one long-lived `pykmip_codec.py serve` process times
 *    `RequestMessage/ResponseMessage.read(BytearrayStream(bytes))` and `.write(stream)` the
 *    same way (warm-up, rounds, median), so interpreter start and object building are not
 *    counted. The two sides take turns, never run at once: ours decode, PyKMIP decode, ours
 *    encode, PyKMIP encode, message by message, so both see about the same machine load.
 *
 * How to read the table
 * - msg/s is messages per second on one core; MB/s is msg/s × message bytes / 10^6.
 * - "ratio" is our msg/s ÷ PyKMIP's msg/s for the same message and direction; the issue's
 *   target is ≥ 30× for both decode and encode, and rows below it are flagged "< 30×".
 * - The second table gives, per measurement, the slowest and fastest round relative to the
 *   median: wide spreads mean a busy machine (the load average at start and end is printed
 *   and saved). The sides alternate, but a load change within a minute still skews a ratio;
 *   rerun before drawing conclusions from a single number.
 * - The comparison is codec against codec, but not like for like: our decode yields a
 *   generic TTLV tree (types, lengths, padding, UTF-8 and limits checked, no KMIP schema),
 *   while PyKMIP's read builds typed KMIP objects. Typed decoding on our side will cost
 *   extra on top of these numbers.
 * - PyKMIP encode is timed on message objects built as a client/server builds them, because
 *   PyKMIP 0.10 cannot write back a message it has read byte for byte (a decoded Text String
 *   whose length is a multiple of 8 gains 8 stray zero bytes); see pykmip_codec.py.
 *
 * Results are also written to bench/results/codec.json (git-ignored). Progress goes to stderr.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { decode, encode, type TtlvNode } from '../src/ttlv/index.js';

const PYTHON = '/usr/bin/python3';
const TARGET_RATIO = 30;

interface Options {
  readonly rounds: number;
  readonly roundMs: number;
  readonly warmupMs: number;
}

interface BenchMessage {
  readonly name: string;
  readonly description: string;
  readonly bytes: Buffer;
}

interface Measurement {
  /** Median round, in operations per second. */
  readonly opsPerSec: number;
  /** Every round, in operations per second. */
  readonly rounds: number[];
}

/** One answer of `pykmip_codec.py serve`. */
interface PyAnswer {
  readonly name: string;
  readonly op: 'decode' | 'encode';
  readonly bytes: number;
  readonly ops_per_sec: number;
  readonly rounds: number[];
}

interface PyReady {
  readonly python: string;
  readonly pykmip: string;
}

interface Row {
  readonly name: string;
  readonly description: string;
  readonly bytes: number;
  readonly ours: { readonly decode: Measurement; readonly encode: Measurement };
  readonly pykmip: { readonly decode: Measurement; readonly encode: Measurement };
  readonly ratio: { readonly decode: number; readonly encode: number };
}

function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

function parseOptions(argv: readonly string[]): Options {
  const opts = { rounds: 7, roundMs: 400, warmupMs: 500 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i];
    const value = Number(argv[i + 1]);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`bad value for ${String(key)}: ${String(argv[i + 1])}`);
    if (key === '--rounds') opts.rounds = Math.round(value);
    else if (key === '--round-ms') opts.roundMs = value;
    else if (key === '--warmup-ms') opts.warmupMs = value;
    else throw new Error(`unknown option ${String(key)} (known: --rounds, --round-ms, --warmup-ms)`);
  }
  return opts;
}

/** The repository root: the nearest ancestor of this file holding bench/pykmip_codec.py. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'bench', 'pykmip_codec.py'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find bench/pykmip_codec.py above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

/** Run the Python helper; its stderr (progress) passes through, its stdout is returned. */
function runPython(script: string, args: readonly string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(PYTHON, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolvePromise(Buffer.concat(chunks).toString('utf8'));
      else reject(new Error(`${PYTHON} ${script} ${args.join(' ')} exited with code ${String(code)}`));
    });
  });
}

function parseMessages(json: string): BenchMessage[] {
  const doc = JSON.parse(json) as { messages: { name: string; description: string; hex: string }[] };
  return doc.messages.map((m) => ({ name: m.name, description: m.description, bytes: Buffer.from(m.hex, 'hex') }));
}

/** Our decode → encode must give back the input byte for byte. */
function checkRoundTrip(messages: readonly BenchMessage[]): void {
  for (const m of messages) {
    const again = encode(decode(m.bytes));
    if (!again.equals(m.bytes)) {
      let at = 0;
      while (at < again.length && at < m.bytes.length && again[at] === m.bytes[at]) at++;
      throw new Error(`ROUND TRIP FAILED for ${m.name}: encode(decode(bytes)) gives ${again.length} bytes, ` + `expected ${m.bytes.length}; first difference at offset ${at}`);
    }
  }
}

// Results feed this sink so that no call can be optimised away.
let sink = 0;

/** ops/s of `fn` over about `ms` milliseconds, calling it `batch` times between clock reads. */
function rate(fn: () => number, batch: number, ms: number): number {
  const budget = BigInt(Math.round(ms * 1e6));
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  do {
    for (let i = 0; i < batch; i++) sink = (sink + fn()) | 0;
    n += batch;
    elapsed = process.hrtime.bigint() - start;
  } while (elapsed < budget);
  return (n * 1e9) / Number(elapsed);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function measure(fn: () => number, opts: Options): Measurement {
  // Warm-up, also used to size the batch so that reading the clock costs nothing measurable
  // (about 1 ms of work between two reads).
  const warm = rate(fn, 1, opts.warmupMs);
  const batch = Math.max(1, Math.round(warm / 1000));
  const rounds: number[] = [];
  for (let r = 0; r < opts.rounds; r++) rounds.push(rate(fn, batch, opts.roundMs));
  return { opsPerSec: median(rounds), rounds };
}

/**
 * A long-lived `pykmip_codec.py serve` process: PyKMIP measurements on request, so that they
 * alternate with ours and both sides see the same machine load.
 */
class PyKmip {
  private readonly lines: AsyncIterator<string>;
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly info: PyReady,
    lines: AsyncIterator<string>,
  ) {
    this.lines = lines;
  }

  static async start(script: string, messagesFile: string, opts: Options): Promise<PyKmip> {
    const args = [script, 'serve', messagesFile, '--rounds', String(opts.rounds), '--round-seconds', String(opts.roundMs / 1000), '--warmup-seconds', String(opts.warmupMs / 1000)];
    const child = spawn(PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stderr.pipe(process.stderr);
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await PyKmip.nextLine(child, lines);
    return new PyKmip(child, JSON.parse(first) as PyReady, lines);
  }

  private static async nextLine(child: ChildProcessWithoutNullStreams, lines: AsyncIterator<string>): Promise<string> {
    const r = await lines.next();
    if (r.done === true) {
      const code = child.exitCode ?? (await new Promise<number | null>((res) => child.once('exit', (c) => res(c))));
      throw new Error(`${PYTHON} pykmip_codec.py serve ended early (exit code ${String(code)})`);
    }
    return r.value;
  }

  async measure(op: 'decode' | 'encode', m: BenchMessage): Promise<Measurement> {
    this.child.stdin.write(`${op} ${m.name}\n`);
    const a = JSON.parse(await PyKmip.nextLine(this.child, this.lines)) as PyAnswer;
    if (a.name !== m.name || a.op !== op) throw new Error(`PyKMIP answered ${a.op} ${a.name} to ${op} ${m.name}`);
    if (a.bytes !== m.bytes.length) throw new Error(`PyKMIP timed ${a.bytes} bytes for ${m.name}, we have ${m.bytes.length}`);
    return { opsPerSec: a.ops_per_sec, rounds: a.rounds };
  }

  close(): void {
    this.child.stdin.end('quit\n');
  }
}

// ---- output ---------------------------------------------------------------------------

function num(x: number): string {
  if (x >= 100) return Math.round(x).toLocaleString('en-US');
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

function ratioText(r: number): string {
  return `${r >= 100 ? Math.round(r).toLocaleString('en-US') : r.toFixed(1)}×${r < TARGET_RATIO ? ' < 30×' : ''}`;
}

function mbps(opsPerSec: number, bytes: number): string {
  return ((opsPerSec * bytes) / 1e6).toFixed(1);
}

function spread(m: Measurement): string {
  const lo = Math.min(...m.rounds) / m.opsPerSec;
  const hi = Math.max(...m.rounds) / m.opsPerSec;
  return `${Math.round((lo - 1) * 100)}% / +${Math.round((hi - 1) * 100)}%`;
}

function renderTable(head: readonly string[], body: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string => '| ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ') + ' |';
  const rule = '|' + widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':')).join('|') + '|';
  return [line(head), rule, ...body.map(line)].join('\n');
}

function spreadTable(rows: readonly Row[]): string {
  const head = ['round spread vs median', 'our decode', 'PyKMIP decode', 'our encode', 'PyKMIP encode'];
  const body = rows.map((r) => [r.name, spread(r.ours.decode), spread(r.pykmip.decode), spread(r.ours.encode), spread(r.pykmip.encode)]);
  return renderTable(head, body);
}

function table(rows: readonly Row[]): string {
  const head = ['message', 'bytes', 'our decode msg/s', 'MB/s', 'PyKMIP decode msg/s', 'ratio', 'our encode msg/s', 'MB/s', 'PyKMIP encode msg/s', 'ratio'];
  const body = rows.map((r) => [
    r.name,
    r.bytes.toLocaleString('en-US'),
    num(r.ours.decode.opsPerSec),
    mbps(r.ours.decode.opsPerSec, r.bytes),
    num(r.pykmip.decode.opsPerSec),
    ratioText(r.ratio.decode),
    num(r.ours.encode.opsPerSec),
    mbps(r.ours.encode.opsPerSec, r.bytes),
    num(r.pykmip.encode.opsPerSec),
    ratioText(r.ratio.encode),
  ]);
  return renderTable(head, body);
}

// ---- main -----------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const root = repoRoot();
  const script = join(root, 'bench', 'pykmip_codec.py');
  const started = Date.now();
  const loadStart = loadavg();
  if ((loadStart[0] ?? 0) > cpus().length * 0.5) {
    progress(`note: load average ${(loadStart[0] ?? 0).toFixed(2)} on ${cpus().length} cores; other work will add noise to both sides`);
  }

  progress(`building the messages with PyKMIP (${PYTHON} ${script} messages; includes an RSA-4096 keygen) ...`);
  const messagesJson = await runPython(script, ['messages']);
  const messages = parseMessages(messagesJson);
  for (const m of messages) progress(`  ${m.name}: ${m.bytes.length} bytes — ${m.description}`);

  progress('checking that our decode → encode reproduces every message byte for byte ...');
  checkRoundTrip(messages);
  progress('  ok');

  const perMeasure = (opts.warmupMs + opts.rounds * opts.roundMs) / 1000;
  progress(
    `timing both codecs, alternating ours and PyKMIP's per measurement: ${opts.rounds} rounds × ${opts.roundMs} ms ` +
      `after ${opts.warmupMs} ms warm-up, ~${Math.ceil(perMeasure * 4 * messages.length)} s`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'kmip-bench-'));
  let py: PyKmip;
  try {
    // The messages hold a freshly generated test key: keep them out of the repository, and
    // remove them as soon as the Python side has read them.
    const file = join(dir, 'messages.json');
    writeFileSync(file, messagesJson, { mode: 0o600 });
    py = await PyKmip.start(script, file, opts);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const rows: Row[] = [];
  try {
    for (const m of messages) {
      const bytes = m.bytes;
      const tree: TtlvNode = decode(bytes);
      const step = (who: string, op: string): void => progress(`  ${who.padEnd(6)} ${m.name.padEnd(22)} ${op} ...`);
      step('ours', 'decode');
      const od = measure(() => decode(bytes).tag, opts);
      step('pykmip', 'decode');
      const pd = await py.measure('decode', m);
      step('ours', 'encode');
      const oe = measure(() => encode(tree).length, opts);
      step('pykmip', 'encode');
      const pe = await py.measure('encode', m);
      rows.push({
        name: m.name,
        description: m.description,
        bytes: bytes.length,
        ours: { decode: od, encode: oe },
        pykmip: { decode: pd, encode: pe },
        ratio: { decode: od.opsPerSec / pd.opsPerSec, encode: oe.opsPerSec / pe.opsPerSec },
      });
    }
  } finally {
    py.close();
  }

  const load = loadavg();
  const loadText = (xs: readonly number[]): string => xs.map((x) => x.toFixed(2)).join(' ');
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const out: string[] = [];
  out.push('');
  out.push(`TTLV codec vs PyKMIP ${py.info.pykmip} (Python ${py.info.python}), KMIP 1.2 messages, median of ${opts.rounds} rounds × ${opts.roundMs} ms`);
  out.push(`Node ${process.version}, ${cpu} (${cpus().length} cores), load average ${loadText(loadStart)} at start, ${loadText(load)} at end`);
  out.push('');
  out.push(table(rows));
  out.push('');
  out.push(spreadTable(rows));
  out.push('');
  const below = rows.flatMap((r) => [...(r.ratio.decode < TARGET_RATIO ? [`${r.name} decode`] : []), ...(r.ratio.encode < TARGET_RATIO ? [`${r.name} encode`] : [])]);
  out.push(below.length === 0 ? `Target met: every ratio is at least ${TARGET_RATIO}×.` : `Below the ${TARGET_RATIO}× target: ${below.join(', ')}.`);
  process.stdout.write(out.join('\n') + '\n');

  const resultsDir = join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const resultsFile = join(resultsDir, 'codec.json');
  const json = {
    date: new Date().toISOString(),
    node: process.version,
    python: py.info.python,
    pykmip: py.info.pykmip,
    cpu,
    cores: cpus().length,
    loadavg: { start: loadStart, end: load },
    options: opts,
    targetRatio: TARGET_RATIO,
    units: { opsPerSec: 'messages per second (median round)', mbPerSec: '10^6 bytes per second' },
    results: rows.map((r) => ({
      ...r,
      mbPerSec: {
        ours: { decode: (r.ours.decode.opsPerSec * r.bytes) / 1e6, encode: (r.ours.encode.opsPerSec * r.bytes) / 1e6 },
        pykmip: { decode: (r.pykmip.decode.opsPerSec * r.bytes) / 1e6, encode: (r.pykmip.encode.opsPerSec * r.bytes) / 1e6 },
      },
    })),
  };
  writeFileSync(resultsFile, JSON.stringify(json, null, 2) + '\n');
  progress(`wrote ${resultsFile} (${((Date.now() - started) / 1000).toFixed(0)} s in all)`);
}

main().catch((e: unknown) => {
  process.stderr.write(`[bench] FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exitCode = 1;
});
