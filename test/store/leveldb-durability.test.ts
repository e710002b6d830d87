/**
 * Durability: a child process commits records through LevelStore and prints each commit
 * after it resolved; we SIGKILL it at a random moment, reopen the folder and check that
 * every printed commit is there, with indexes that match the records exactly. Several
 * rounds on the same folder, so later rounds also write over a store recovered from a kill.
 *
 * The child runs plain Node on compiled JavaScript: the store's module closure is compiled
 * with tsc into a scratch folder under node_modules/.cache (so `classic-level` resolves).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LevelStore, indexText } from '../../src/store/index.js';

const repo = resolve(import.meta.dirname, '../..');
const fixture = join(repo, 'test/store/fixtures/crash-writer.mjs');
let built: string;
const dbRoot = mkdtempSync(join(tmpdir(), 'kms-crash-'));

beforeAll(() => {
  const cache = join(repo, 'node_modules/.cache');
  mkdirSync(cache, { recursive: true });
  built = mkdtempSync(join(cache, 'kms-store-fixture-'));
  // tsc exits non-zero on a type error anywhere in the closure (someone's work in progress)
  // but still emits; only a missing output is fatal here (`npx tsc` is the type gate).
  try {
    compile();
  } catch (e) {
    if (!existsSync(join(built, 'src/store/leveldb/index.js'))) throw e;
  }
});

function compile(): void {
  execFileSync(
    process.execPath,
    [
      join(repo, 'node_modules/typescript/bin/tsc'),
      ...['--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--strict'],
      ...['--skipLibCheck', '--types', 'node', '--rootDir', repo, '--outDir', built],
      join(repo, 'src/store/leveldb/index.ts'),
    ],
    { cwd: repo, stdio: 'pipe' },
  );
}

afterAll(() => {
  if (built) rmSync(built, { recursive: true, force: true });
  rmSync(dbRoot, { recursive: true, force: true });
});

interface Round {
  lines: string[];
  stderr: string;
  exit: { code: number | null; signal: NodeJS.Signals | null };
}

/** Run the writer until `killAfterMs` after it is ready, then SIGKILL it. */
function runAndKill(dbPath: string, prefix: string, killAfterMs: number): Promise<Round> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [fixture, built, dbPath, prefix], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      if (!timer && out.startsWith('ready\n')) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Only whole lines were acknowledged.
      const lines = out
        .split('\n')
        .slice(0, -1)
        .filter((l) => l !== 'ready');
      resolvePromise({ lines, stderr, exit: { code, signal } });
    });
  });
}

describe('LevelStore durability under SIGKILL', () => {
  it('every acknowledged commit survives, indexes stay exact', async () => {
    const dbPath = join(dbRoot, 'db');
    /**
     * What the acknowledged commits imply: uid → minimum revision, 'gone', or 'either' when
     * a delete was started but not acknowledged before the kill.
     */
    const expected = new Map<string, number | 'gone' | 'either'>();
    let acknowledged = 0;
    const rounds = 5;
    for (let r = 0; r < rounds; r++) {
      const killAfter = 20 + Math.floor(Math.random() * 200);
      const round = await runAndKill(dbPath, `r${r}`, killAfter);
      expect(round.exit.signal, `writer died on its own: ${round.stderr}`).toBe('SIGKILL');
      expect(round.stderr).toBe('');
      for (const line of round.lines) {
        const [op, uid, rev] = line.split(' ');
        if (!uid) throw new Error(`bad line ${line}`);
        if (op === 'put') expected.set(uid, Math.max(Number(rev), (expected.get(uid) as number | undefined) ?? 0));
        else if (op === 'del?') expected.set(uid, 'either');
        else if (op === 'del') expected.set(uid, 'gone');
        else throw new Error(`bad line ${line}`);
      }
      acknowledged += round.lines.length;

      const s = new LevelStore({ path: dbPath });
      await s.open();
      try {
        for (const [uid, want] of expected) {
          const got = await s.get(uid);
          if (want === 'gone') expect(got, `${uid} was deleted`).toBeUndefined();
          else if (want === 'either')
            expected.set(uid, got ? got.revision : 'gone'); // settled now
          else {
            expect(got, `${uid} was acknowledged`).toBeDefined();
            expect(got?.revision).toBeGreaterThanOrEqual(want);
          }
        }
        const all = await s.list(undefined, 1_000_000);
        expect(await s.find({ field: '$owner', equals: indexText('crash-owner') })).toEqual(all);
        expect(await s.find({ field: 'Name', exists: true })).toEqual(all);
        expect(await s.count()).toBe(all.length);
        const report = await s.check();
        expect(report.problems).toEqual([]);
        expect(report.records).toBe(all.length);
      } finally {
        await s.close();
      }
    }
    // The test is only meaningful if the writer got somewhere before each kill.
    expect(acknowledged).toBeGreaterThan(rounds);
  });
});
