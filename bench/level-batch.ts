/**
 * What one LevelDB batch put costs through abstract-level's sublevel delegation
 * (`batch.put(k, v, { sublevel })`) against a put on the root batch of the same, already
 * prefixed, key (what LevelStore's write path does since issue #16: one put per index term,
 * record, audit entry). Temporary database, 20 index-sized keys per batch.
 *
 *   npm run build && node dist/bench/level-batch.js [--n 20000]
 *
 * Prints ns per put. For before/after comparisons only, never for tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ClassicLevel } from 'classic-level';

type Batch = ReturnType<ClassicLevel<Uint8Array, Uint8Array>['batch']>;

const { values } = parseArgs({ options: { n: { type: 'string' } } });
const N = Number(values.n ?? 20_000);
const dir = mkdtempSync(join(tmpdir(), 'kms-bench-batch-'));
const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' });
await db.open();
const idx = db.sublevel<Uint8Array, Uint8Array>('i', { keyEncoding: 'view', valueEncoding: 'view' });
const prefix = Buffer.from(idx.prefix, 'utf8');
const EMPTY = new Uint8Array(0);
const keys = Array.from({ length: 20 }, (_, i) => Buffer.from(`field-${i}\u0000\u0001value-${i}\u0000\u0001uid-1234567890`));

async function run(label: string, f: (b: Batch) => void): Promise<void> {
  for (let round = 0; round < 2; round++) {
    let ns = 0n;
    for (let i = 0; i < N; i++) {
      const b = db.batch();
      const t0 = process.hrtime.bigint();
      f(b);
      ns += process.hrtime.bigint() - t0;
      await b.close();
    }
    if (round === 1) process.stdout.write(`${label.padEnd(36)} ${(Number(ns) / N / keys.length).toFixed(0).padStart(6)} ns/put\n`);
  }
}

try {
  await run('sublevel option (before)', (b) => {
    for (const k of keys) b.put(k, EMPTY, { sublevel: idx });
  });
  await run('root batch, key prefixed (after)', (b) => {
    for (const k of keys) b.put(Buffer.concat([prefix, k]), EMPTY);
  });
} finally {
  await db.close();
  rmSync(dir, { recursive: true, force: true });
}
