#!/usr/bin/env node
/**
 * `npm run fuzz -- [--target decoder|dispatcher|all] [--duration 10m] [--seed N] [--out DIR]
 * [--stop-on-finding]`: coverage-guided fuzzing of the TTLV decoder and the dispatcher
 * (fuzz/engine.ts), seeded with every OASIS message. Findings are written to DIR (default
 * fuzz-out/) as `<target>-<n>.hex` (the input) and `.txt` (the error); each one becomes a
 * regression test (test/fuzz/regressions/, docs/fuzzing.md). Exit code 0: nothing found,
 * 1: findings, 2: usage error.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fuzz, type FuzzStats, type FuzzTarget } from './engine.js';
import { loadSeeds } from './seeds.js';
import { decoderTarget, dispatcherTarget } from './targets.js';

const HELP = `Usage: npm run fuzz -- [options]

Coverage-guided fuzzing (V8 block coverage) of the TTLV decoder and the dispatcher, seeded
with every OASIS test-case message (KMS_TESTCASES or ../shared/kmip-testcases).

  --target T         decoder, dispatcher or all (default all: 30% decoder, 70% dispatcher)
  --duration D       total run time: seconds, or with a unit (90s, 10m, 1h); default 60s
  --seed N           PRNG seed (default: the time); printed, so a run can be repeated
  --out DIR          where findings go (default fuzz-out)
  --stop-on-finding  stop at the first finding
  --max-bytes N      largest input the mutators make (default 65536)

Exit codes: 0 nothing found, 1 findings (written to --out), 2 usage error.`;

function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(s);
  if (!m) throw new Error(`--duration ${s}: give seconds or a number with ms, s, m or h`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000));
}

async function main(argv: string[]): Promise<number> {
  const opts = { target: 'all', durationMs: 60_000, seed: Date.now() % 0x7fffffff, out: 'fuzz-out', stop: false, maxBytes: 65536 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '-h' || a === '--help') {
      process.stdout.write(HELP + '\n');
      return 0;
    } else if (a === '--target') opts.target = val();
    else if (a === '--duration') opts.durationMs = parseDuration(val());
    else if (a === '--seed') opts.seed = Number(val());
    else if (a === '--out') opts.out = val();
    else if (a === '--stop-on-finding') opts.stop = true;
    else if (a === '--max-bytes') opts.maxBytes = Number(val());
    else throw new Error(`unknown option ${a}`);
  }
  if (!['decoder', 'dispatcher', 'all'].includes(opts.target)) throw new Error(`--target ${opts.target}: decoder, dispatcher or all`);
  if (!Number.isInteger(opts.seed) || !Number.isInteger(opts.maxBytes) || opts.maxBytes < 8) throw new Error('--seed and --max-bytes take whole numbers');

  const seeds = loadSeeds();
  process.stderr.write(
    `fuzz: seed ${opts.seed}; ${seeds.requests.length} request and ${seeds.responses.length} response messages from ${seeds.files} OASIS files` +
      ` (${seeds.skippedFiles.length} skipped: ${seeds.skippedFiles.join(', ') || 'none'}), ${seeds.other.length} other inputs\n`,
  );
  // The dispatcher is the slower target (a whole operation per input): it gets 70% of an `all` run.
  const targets: { target: FuzzTarget; seeds: Uint8Array[]; share: number }[] = [];
  if (opts.target !== 'dispatcher') targets.push({ target: decoderTarget(), seeds: [...seeds.requests, ...seeds.responses, ...seeds.other], share: opts.target === 'all' ? 0.3 : 1 });
  if (opts.target !== 'decoder') targets.push({ target: dispatcherTarget(), seeds: [...seeds.requests, ...seeds.other], share: opts.target === 'all' ? 0.7 : 1 });

  const results: FuzzStats[] = [];
  for (const { target, seeds: s, share } of targets) {
    try {
      results.push(
        await fuzz(target, {
          durationMs: Math.floor(opts.durationMs * share),
          seeds: s,
          seed: opts.seed,
          maxInputBytes: opts.maxBytes,
          stopOnFinding: opts.stop,
          progress: (line) => process.stderr.write(line + '\n'),
        }),
      );
    } finally {
      await target.close?.();
    }
  }
  let found = 0;
  for (const r of results) {
    process.stdout.write(
      `${r.target}: ${r.executions} executions in ${(r.elapsedMs / 1000).toFixed(0)} s (${Math.round((r.executions * 1000) / r.elapsedMs)}/s), ` +
        `${r.seedsKept} seeds kept, corpus ${r.corpusSize}, ${r.features} coverage features, ${r.findings.length} findings\n`,
    );
    r.findings.forEach((f, i) => {
      const dir = resolve(opts.out);
      mkdirSync(dir, { recursive: true });
      const base = join(dir, `${r.target}-${i + 1}`);
      writeFileSync(base + '.hex', Buffer.from(f.input).toString('hex') + '\n');
      writeFileSync(base + '.txt', `${f.signature}\n\n${f.error}\n`);
      process.stdout.write(`  finding ${i + 1}: ${f.signature}\n    input: ${base}.hex\n`);
      found++;
    });
  }
  return found > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`fuzz: ${e instanceof Error ? e.message : String(e)}\n(see npm run fuzz -- --help)\n`);
    process.exitCode = 2;
  },
);
