/**
 * Reports: the progress display while cases run, the per version × profile table, readable
 * diffs of failures, and the committed RESULTS.md / results.json (same results, two forms).
 */
import { CASE_SETS, compareVersionStrings, PREREQUISITES, type CaseSet } from './cases.js';
import { RULES, RULE_NAMES } from './compare.js';
import { caseKey, type ExpectedFailures, type GuardVerdict } from './guard.js';
import type { CaseResult, CaseStatus, StepFailure } from './runner.js';

export interface Counts {
  pass: number;
  fail: number;
  na: number;
}

export interface SummaryRow {
  readonly version: string;
  readonly profile: string;
  readonly bySet: Record<CaseSet, Counts>;
}

const zero = (): Counts => ({ pass: 0, fail: 0, na: 0 });
const bucket = (s: CaseStatus): keyof Counts => (s === 'pass' ? 'pass' : s === 'na' ? 'na' : 'fail');

/** One row per version × profile, versions newest first, profiles by name. */
export function summarize(results: readonly CaseResult[]): SummaryRow[] {
  const rows = new Map<string, SummaryRow>();
  for (const r of results) {
    const key = `${r.file.version}\u0000${r.file.profile}`;
    let row = rows.get(key);
    if (!row) {
      row = { version: r.file.version, profile: r.file.profile, bySet: { mandatory: zero(), optional: zero(), testcases: zero() } };
      rows.set(key, row);
    }
    row.bySet[r.file.set][bucket(r.status)]++;
  }
  return [...rows.values()].sort((a, b) => compareVersionStrings(b.version, a.version) || a.profile.localeCompare(b.profile, 'en'));
}

export function totals(results: readonly CaseResult[]): Record<CaseSet, Counts> & { all: Counts } {
  const t = { mandatory: zero(), optional: zero(), testcases: zero(), all: zero() };
  for (const r of results) {
    t[r.file.set][bucket(r.status)]++;
    t.all[bucket(r.status)]++;
  }
  return t;
}

function cell(c: Counts): string {
  if (c.pass + c.fail + c.na === 0) return '–';
  return `${c.pass} / ${c.fail} / ${c.na}`;
}

/** The table as Markdown (also readable as plain text). */
export function summaryTable(results: readonly CaseResult[]): string {
  const rows = summarize(results);
  const lines = ['| Version | Profile | Mandatory pass / fail / n/a | Optional pass / fail / n/a | Test Cases (TC) pass / fail / n/a |', '|---|---|---|---|---|'];
  for (const r of rows) lines.push(`| ${r.version} | ${r.profile} | ${cell(r.bySet.mandatory)} | ${cell(r.bySet.optional)} | ${cell(r.bySet.testcases)} |`);
  const t = totals(results);
  lines.push(`| **all** | | **${cell(t.mandatory)}** | **${cell(t.optional)}** | **${cell(t.testcases)}** |`);
  return lines.join('\n');
}

export function formatFailure(f: StepFailure): string[] {
  const out = [`  step ${f.step} (${f.operation})${f.error ? `: ${f.error}` : ''}`];
  if (f.outcome) out.push(`    server answered: ${f.outcome.join('; ')}`);
  for (const d of f.diffs) {
    out.push(`    at ${d.path}${d.line !== undefined ? ` (line ${d.line})` : ''}`);
    out.push(`      expected: ${d.expected}`);
    out.push(`      got:      ${d.got}`);
  }
  if (f.moreDiffs) out.push(`    … and ${f.moreDiffs} more differences in this step`);
  return out;
}

/** A readable diff for every non-passing case. */
export function failureReport(results: readonly CaseResult[], opts: { maxSteps?: number } = {}): string {
  const out: string[] = [];
  for (const r of results) {
    if (r.status === 'pass' || r.status === 'na') continue;
    out.push(`${caseKey(r.file)}: ${r.status === 'invalid' ? `INVALID FILE: ${r.note}` : `FAILED (${r.stepsRun}/${r.steps} steps exchanged)`}`);
    for (const f of r.failures.slice(0, opts.maxSteps ?? 3)) out.push(...formatFailure(f));
    if (r.failures.length > (opts.maxSteps ?? 3)) out.push(`  … and ${r.failures.length - (opts.maxSteps ?? 3)} more failing steps`);
  }
  return out.join('\n');
}

export function guardReport(v: GuardVerdict): string {
  const out: string[] = [];
  if (v.ok) return 'guard: OK (every failing case is listed in conformance/expected-failures.json, and every listed case still fails)';
  for (const r of v.unexpectedFailures) {
    const f = r.failures[0];
    const first = r.status === 'invalid' ? r.note : f ? `step ${f.step} (${f.operation}): ${f.error ?? `${f.diffs[0]?.path}: expected ${f.diffs[0]?.expected}, got ${f.diffs[0]?.got}`}` : '';
    out.push(`guard: NEW FAILURE ${caseKey(r.file)} — ${first}`);
  }
  for (const r of v.unexpectedPasses) out.push(`guard: NOW PASSES ${caseKey(r.file)} — remove it from conformance/expected-failures.json`);
  for (const r of v.listedNotApplicable) out.push(`guard: NOT APPLICABLE ${caseKey(r.file)} — ${r.note}; remove it from the list`);
  for (const k of v.unknownKeys) out.push(`guard: UNKNOWN KEY ${k} in conformance/expected-failures.json (no such case file)`);
  out.push('guard: to accept the new state: npm run conformance -- --update-expected --write-results (then review the reasons of new entries)');
  return out.join('\n');
}

/** One-line summary of a failure, for RESULTS.md. */
function firstProblem(r: CaseResult): string {
  if (r.status === 'invalid') return r.note ?? 'invalid file';
  const f = r.failures[0];
  if (!f) return '';
  if (f.error) return `step ${f.step} ${f.operation}: ${f.error}`;
  const d = f.diffs[0];
  return d ? `step ${f.step} ${f.operation}: ${d.path}: expected ${d.expected}; got ${d.got}` : `step ${f.step}`;
}

function md(s: string): string {
  const one = s.replace(/\s+/g, ' ').replace(/\|/g, '\\|');
  return one.length > 260 ? one.slice(0, 260) + '…' : one;
}

export interface ResultsMeta {
  readonly corpus: string;
  readonly target: string;
}

export function resultsMarkdown(results: readonly CaseResult[], expected: ExpectedFailures, meta: ResultsMeta): string {
  const t = totals(results);
  const out: string[] = [
    '# KMIP conformance results',
    '',
    'Generated by `npm run conformance -- --write-results` (the runner in `conformance/`); do not edit by hand.',
    `The same results, with every difference, are in \`conformance/results.json\`. Corpus: \`${meta.corpus}\` (the OASIS`,
    `test cases, see its README); target: ${meta.target}. Each case runs against a fresh server; a case that continues`,
    `from another's state (${Object.entries(PREREQUISITES)
      .map(([k, v]) => `${k} from ${v}`)
      .join(', ')}) runs after a replay of that one on the same server.`,
    '',
    `Overall: **${t.all.pass} passed, ${t.all.fail} failed, ${t.all.na} not applicable** of ${results.length} cases`,
    `(mandatory ${cell(t.mandatory)}, optional ${cell(t.optional)}, Test Cases notes ${cell(t.testcases)}; pass / fail / n/a).`,
    '"Not applicable": the case is written for a protocol version the server does not serve.',
    '',
    '## Per KMIP version and profile',
    '',
    summaryTable(results),
    '',
    '## Tolerance rules',
    '',
    'Differences that still pass, beyond placeholders (`conformance/compare.ts`). Uses: how often each rule let a difference pass in this run.',
    '',
    '| Rule | Where | What passes | Uses |',
    '|---|---|---|---|',
  ];
  const uses = new Map<string, number>();
  for (const r of results) for (const [k, n] of Object.entries(r.rulesApplied)) uses.set(k, (uses.get(k) ?? 0) + (n ?? 0));
  for (const name of RULE_NAMES) out.push(`| \`${name}\` | ${md(RULES[name].where)} | ${md(RULES[name].summary)} | ${uses.get(name) ?? 0} |`);
  out.push('', '## Cases that do not pass', '', 'Reason: from `conformance/expected-failures.json`. First difference: the first failing step of this run.', '');
  for (const set of CASE_SETS) {
    const failing = results.filter((r) => r.file.set === set && (r.status === 'fail' || r.status === 'invalid'));
    if (failing.length === 0) continue;
    out.push(`### ${set} (${failing.length})`, '', '| Case | Reason | First difference |', '|---|---|---|');
    for (const r of failing) out.push(`| ${caseKey(r.file)} | ${md(expected.cases[caseKey(r.file)] ?? '**not listed**')} | ${md(firstProblem(r))} |`);
    out.push('');
  }
  const passing = results.filter((r) => r.status === 'pass').map((r) => caseKey(r.file));
  out.push('## Passing cases', '', passing.length ? passing.map((k) => `\`${k}\``).join(', ') : '(none)', '');
  return out.join('\n');
}

function clip(s: string, n: number): string {
  return s.length > n ? s.slice(0, n) + '…' : s;
}

export function resultsJson(results: readonly CaseResult[], expected: ExpectedFailures, meta: ResultsMeta): string {
  const t = totals(results);
  const doc = {
    corpus: meta.corpus,
    target: meta.target,
    totals: t,
    summary: summarize(results),
    rules: RULES,
    cases: results.map((r) => ({
      key: caseKey(r.file),
      version: r.file.version,
      set: r.file.set,
      profile: r.file.profile,
      status: r.status,
      steps: r.steps,
      stepsRun: r.stepsRun,
      ...(r.note !== undefined && { note: r.note }),
      ...(r.prerequisite !== undefined && { prerequisite: r.prerequisite }),
      ...(caseKey(r.file) in expected.cases && { expectedFailure: expected.cases[caseKey(r.file)] }),
      rulesApplied: r.rulesApplied,
      // The first failing steps, each with its first differences (the console shows all).
      failures: r.failures.slice(0, 2).map((f) => ({
        ...f,
        diffs: f.diffs.slice(0, 3).map((d) => ({ ...d, expected: clip(d.expected, 160), got: clip(d.got, 160) })),
        ...(f.diffs.length > 3 && { moreDiffs: f.diffs.length - 3 + (f.moreDiffs ?? 0) }),
      })),
      ...(r.failures.length > 2 && { moreFailingSteps: r.failures.length - 2 }),
    })),
  };
  // One case per line keeps the file small and its diffs readable.
  const { cases, ...head } = doc;
  const top = JSON.stringify(head, null, 2).replace(/\n}$/, '');
  return `${top},\n  "cases": [\n${cases.map((c) => '    ' + JSON.stringify(c)).join(',\n')}\n  ]\n}\n`;
}

// ------------------------------------------------------------------------------- progress

export interface Progress {
  start(total: number): void;
  update(r: CaseResult, done: number, total: number): void;
  finish(): void;
}

/** A bar on a TTY (redrawn in place), plain lines every ~5 % otherwise. Writes to `stream`. */
export function progress(stream: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }): Progress {
  const tty = stream.isTTY === true;
  let failed = 0;
  let lastPct = -1;
  const t0 = Date.now();
  return {
    start(total) {
      if (!tty) stream.write(`conformance: ${total} cases\n`);
    },
    update(r, done, total) {
      if (r.status === 'fail' || r.status === 'invalid') failed++;
      const secs = ((Date.now() - t0) / 1000).toFixed(0);
      if (tty) {
        const width = 30;
        const filled = Math.round((done / total) * width);
        const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
        const line = `[${bar}] ${done}/${total} failed ${failed} ${secs}s ${caseKey(r.file)}`;
        const cols = stream.columns ?? 100;
        stream.write(`\r${line.slice(0, cols - 1).padEnd(cols - 1)}`);
      } else {
        const pct = Math.floor((done / total) * 20);
        if (pct !== lastPct || done === total) {
          lastPct = pct;
          stream.write(`conformance: ${done}/${total} cases done, ${failed} not passing, ${secs}s\n`);
        }
      }
    },
    finish() {
      if (tty) stream.write('\n');
    },
  };
}
