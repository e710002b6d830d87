/**
 * The fuzzer (fuzz/engine.ts) in CI: a bounded run of each target, the regression inputs
 * (test/fuzz/regressions, every finding of a fuzz run) replayed through both, and a check that
 * the engine really is guided by coverage. Long runs: `npm run fuzz -- --duration 10m`
 * (docs/fuzzing.md). KMS_FUZZ_SEED picks another PRNG seed for the bounded run.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { fuzz } from '../../fuzz/engine.js';
import { loadSeeds, regressionInputs } from '../../fuzz/seeds.js';
import { decoderTarget, dispatcherTarget } from '../../fuzz/targets.js';
import { Tag } from '../../src/kmip/generated/tags.gen.js';
import { decode, encode, t, TtlvError } from '../../src/ttlv/index.js';
import { toyTarget } from './toy-target.js';

const SEED = Number(process.env.KMS_FUZZ_SEED ?? 1);
const seeds = loadSeeds();

describe('the fuzz engine', () => {
  it('follows coverage: reaches a bug behind a chain of conditions on decoded TTLV a blind mutator would rarely meet', async () => {
    const stats = await fuzz(
      { name: 'toy', run: toyTarget },
      {
        durationMs: 38_000,
        seeds: [encode(t.struct(Tag.RequestPayload, [t.int(Tag.CryptographicLength, 5)])), encode(t.struct(Tag.RequestPayload, [t.bool(Tag.Sensitive, true)]))],
        seed: 7,
        stopOnFinding: true,
        coverageFilter: (url) => url.includes('toy-target'),
      },
    );
    expect(stats.findings.map((f) => f.signature)).toEqual([expect.stringContaining('toy bug reached')]);
    // It got there by keeping inputs that reached new blocks of the target.
    expect(stats.corpusSize).toBeGreaterThan(2);
  }, 45_000);

  it('loads every OASIS message as a seed', () => {
    expect(seeds.files).toBeGreaterThan(700);
    expect(seeds.requests.length).toBeGreaterThan(2500); // distinct messages
    // The one malformed file and the three PKCS#11 files the registry leaves unresolved.
    expect(seeds.skippedFiles.length).toBeLessThanOrEqual(4);
  });
});

describe('regression inputs (every finding becomes one)', () => {
  const inputs = regressionInputs();
  const dispatcher = dispatcherTarget({ verifyAuditEachInput: true });
  afterAll(async () => dispatcher.close?.());

  it('there is at least the first finding', () => {
    expect(inputs.map((i) => i.name)).toContain('decoder-tag-zero.hex');
  });

  it('decoder-tag-zero: an item with tag 000000 is refused by the decoder (BAD_TAG), as the encoder refuses it', () => {
    const bytes = inputs.find((i) => i.name === 'decoder-tag-zero.hex')!.bytes;
    let err: unknown;
    try {
      decode(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TtlvError);
    expect((err as TtlvError).code).toBe('BAD_TAG');
  });

  it.each(inputs.map((i) => [i.name, i.bytes] as const))('%s passes both targets', async (_name, bytes) => {
    await decoderTarget().run(bytes);
    await dispatcher.run(bytes);
  });
});

describe('bounded fuzz run (CI)', () => {
  // A deterministic sample of the seeds keeps this inside a minute; npm run fuzz takes them all.
  const sample = <T>(xs: readonly T[], n: number): T[] => xs.filter((_, i) => i % Math.max(1, Math.floor(xs.length / n)) === 0);

  it('decoder: no finding', async () => {
    const stats = await fuzz(decoderTarget(), {
      durationMs: 6_000,
      seeds: [...sample(seeds.requests, 300), ...sample(seeds.responses, 100), ...seeds.other],
      seed: SEED,
      stopOnFinding: true,
    });
    expect(stats.findings.map((f) => `${f.signature}\n${Buffer.from(f.input).toString('hex')}`)).toEqual([]);
    expect(stats.executions).toBeGreaterThan(400);
  }, 25_000);

  it('dispatcher: no finding (decode → dispatch against an in-process server)', async () => {
    const target = dispatcherTarget();
    try {
      const stats = await fuzz(target, { durationMs: 14_000, seeds: [...sample(seeds.requests, 150), ...seeds.other], seed: SEED, stopOnFinding: true, resetEvery: 500 });
      expect(stats.findings.map((f) => `${f.signature}\n${Buffer.from(f.input).toString('hex')}`)).toEqual([]);
      expect(stats.executions).toBeGreaterThan(150);
    } finally {
      await target.close?.();
    }
  }, 40_000);
});
