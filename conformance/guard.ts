/**
 * The expected-failures guard. `conformance/expected-failures.json` names every case that
 * does not pass yet (key: `<version>/<set>/<id>`), each with a short, specific reason. A run
 * is good when every failing case is listed and every listed case that ran still fails: a
 * case that starts passing must leave the list, so the list only shrinks.
 *
 * A not-well-formed file counts as failing (it cannot pass) and is listed like any other;
 * a case the server does not apply to (`na`: its protocol version is not served) must not be
 * listed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CaseFile } from './cases.js';
import { repoRoot } from './cases.js';
import type { CaseResult } from './runner.js';

export interface ExpectedFailures {
  readonly $comment?: string;
  /** `<version>/<set>/<id>` → reason. */
  readonly cases: Readonly<Record<string, string>>;
}

export function caseKey(c: CaseFile): string {
  return `${c.version}/${c.set}/${c.id}`;
}

export function expectedFailuresPath(): string {
  return join(repoRoot(), 'conformance', 'expected-failures.json');
}

export function loadExpectedFailures(path = expectedFailuresPath()): ExpectedFailures {
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { cases?: unknown }).cases !== 'object') {
    throw new Error(`${path}: expected {"cases": {"<version>/<set>/<id>": "reason", …}}`);
  }
  const cases = (parsed as ExpectedFailures).cases;
  for (const [k, v] of Object.entries(cases)) {
    if (typeof v !== 'string' || v.trim().length < 8) throw new Error(`${path}: ${k} needs a specific reason`);
  }
  return parsed as ExpectedFailures;
}

export interface GuardVerdict {
  readonly ok: boolean;
  /** Failing (or invalid) cases that are not listed. */
  readonly unexpectedFailures: readonly CaseResult[];
  /** Listed cases that passed: remove them from the list. */
  readonly unexpectedPasses: readonly CaseResult[];
  /** Listed cases that are not applicable (their version is not served): remove them. */
  readonly listedNotApplicable: readonly CaseResult[];
  /** Listed keys that name no case file at all. */
  readonly unknownKeys: readonly string[];
}

/**
 * Judge `results` against the list. `all` is every case file in the corpus (to find listed
 * keys that name nothing); only the cases in `results` are judged otherwise.
 */
export function judge(results: readonly CaseResult[], expected: ExpectedFailures, all: readonly CaseFile[]): GuardVerdict {
  const listed = expected.cases;
  const known = new Set(all.map(caseKey));
  const unexpectedFailures = results.filter((r) => (r.status === 'fail' || r.status === 'invalid') && !(caseKey(r.file) in listed));
  const unexpectedPasses = results.filter((r) => r.status === 'pass' && caseKey(r.file) in listed);
  const listedNotApplicable = results.filter((r) => r.status === 'na' && caseKey(r.file) in listed);
  const unknownKeys = Object.keys(listed).filter((k) => !known.has(k));
  return {
    ok: unexpectedFailures.length === 0 && unexpectedPasses.length === 0 && listedNotApplicable.length === 0 && unknownKeys.length === 0,
    unexpectedFailures,
    unexpectedPasses,
    listedNotApplicable,
    unknownKeys,
  };
}
