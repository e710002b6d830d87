/**
 * The conformance command line, shared by `npm run conformance` (conformance/cli.ts) and
 * `kms conformance` (src/cli/conformance.ts).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureDevCerts } from '../src/pki/dev-certs.js';
import { defaultTestcasesRoot, discoverCases, isCaseSet, repoRoot, selectCases, type CaseSet } from './cases.js';
import { caseKey, expectedFailuresPath, judge, loadExpectedFailures, type ExpectedFailures } from './guard.js';
import { suggestReason } from './reasons.js';
import { failureReport, guardReport, progress, resultsJson, resultsMarkdown, summaryTable } from './report.js';
import { runCases, type CaseResult, type Target } from './runner.js';

/** The list after a run: passing and not-applicable cases leave it, new failures join it with a drafted reason. */
/** Reasons drafted from an Operation Not Supported answer (hand-written reasons never match). */
const STALE_DRAFT = /^needs \w+ \(.*Operation Not Supported\)$/;

export function updateExpected(expected: ExpectedFailures, results: readonly CaseResult[]): ExpectedFailures {
  const cases: Record<string, string> = { ...expected.cases };
  for (const r of results) {
    const k = caseKey(r.file);
    if (r.status === 'pass' || r.status === 'na') delete cases[k];
    else if (!(k in cases)) cases[k] = suggestReason(r);
    else if (STALE_DRAFT.test(cases[k]!)) {
      // A drafted "needs X (… Operation Not Supported)" is stale once X is served: redraft it.
      const draft = suggestReason(r);
      if (draft !== cases[k]) cases[k] = draft;
    }
  }
  const sorted = Object.fromEntries(Object.entries(cases).sort(([a], [b]) => a.localeCompare(b, 'en')));
  return { ...(expected.$comment !== undefined && { $comment: expected.$comment }), cases: sorted };
}

export const CONFORMANCE_HELP = `Usage: kms conformance [options]

Replay the OASIS KMIP test cases (../shared/kmip-testcases) against the server and compare
every response with the expected one. By default each case runs against a fresh embedded
server (temporary data folder, the dev certificates in certs/dev).

Selection (repeatable; default: every case of every version and set):
  --version V        KMIP version folder, e.g. 2.1
  --profile P        profile, e.g. SKLC, CS-BC, BL (TC = the Test Cases notes)
  --case ID          one case, e.g. SKLC-M-1-21
  --set S            mandatory, optional or testcases
  --mandatory-only   same as --set mandatory

Target:
  --host H --port N  a running server instead of an embedded one (cases then share its data)
  --https-port N     the running server's HTTPS port, for the MSGENC-HTTPS/XML/JSON cases
                     (KMIP over HTTPS); embedded servers open one for those cases
  --servername NAME  name to verify the server certificate against (default: the host)
  --certs DIR        ca.pem, client.pem, client.key (and server.pem/.key when embedded);
                     default certs/dev (made if missing)
  --testcases DIR    the corpus (default KMS_TESTCASES or ../shared/kmip-testcases)
  --default-policy   embedded: the server's default crypto policy, not the one loosened for
                     the OASIS test keys (OASIS_TEST_KEY_POLICY in conformance/runner.ts)

Run:
  --concurrency N    cases at a time (default 2)
  --step-timeout MS  limit for one request/response (default 10000)
  --case-timeout MS  limit for one case (default 60000)
  --diffs N          failing steps shown per case (default 3; 0 = no diffs)
  --write-results    write conformance/RESULTS.md and conformance/results.json (whole corpus only)
  --json FILE        write the results (results.json form) to FILE
  --update-expected  rewrite conformance/expected-failures.json: drop cases that pass or do
                     not apply, add new failures with a drafted reason (review them)

Exit codes: 0 the guard holds (every failing case is listed in conformance/expected-failures.json
and every listed case still fails), 1 it does not, 2 usage error.`;

export class ConformanceUsageError extends Error {
  override readonly name = 'ConformanceUsageError';
}

export interface Io {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

function int(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new ConformanceUsageError(`${name} must be a non-negative integer`);
  return n;
}

export async function runConformance(argv: string[], io: Io): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        version: { type: 'string', multiple: true },
        profile: { type: 'string', multiple: true },
        case: { type: 'string', multiple: true },
        set: { type: 'string', multiple: true },
        'mandatory-only': { type: 'boolean' },
        host: { type: 'string' },
        port: { type: 'string' },
        servername: { type: 'string' },
        'https-port': { type: 'string' },
        certs: { type: 'string' },
        testcases: { type: 'string' },
        concurrency: { type: 'string' },
        'step-timeout': { type: 'string' },
        'case-timeout': { type: 'string' },
        diffs: { type: 'string' },
        'write-results': { type: 'boolean' },
        json: { type: 'string' },
        'update-expected': { type: 'boolean' },
        'default-policy': { type: 'boolean' },
      },
    }));
  } catch (e) {
    throw new ConformanceUsageError((e as Error).message);
  }
  const sets = (values.set ?? []).map((s) => {
    if (!isCaseSet(s)) throw new ConformanceUsageError(`--set must be mandatory, optional or testcases (got ${s})`);
    return s as CaseSet;
  });
  const root = values.testcases ? resolve(values.testcases) : defaultTestcasesRoot();
  const all = discoverCases(root);
  const selection = {
    ...(values.version && { versions: values.version }),
    ...(values.profile && { profiles: values.profile }),
    ...(values.case && { cases: values.case }),
    sets,
    mandatoryOnly: values['mandatory-only'] ?? false,
  };
  const cases = selectCases(all, selection);
  const partial = cases.length !== all.length;
  if (cases.length === 0) throw new ConformanceUsageError('the selection matches no case');
  if (values['write-results'] && partial) throw new ConformanceUsageError('--write-results needs the whole corpus (no selection)');
  if ((values.host === undefined) !== (values.port === undefined)) throw new ConformanceUsageError('--host and --port go together');

  let certsDir = values.certs ? resolve(values.certs) : join(repoRoot(), 'certs/dev');
  if (!values.certs && !existsSync(join(certsDir, 'client.pem'))) await ensureDevCerts(certsDir);
  certsDir = resolve(certsDir);
  const target: Target =
    values.host !== undefined
      ? {
          kind: 'remote',
          host: values.host,
          port: int(values.port, '--port', 5696),
          certsDir,
          ...(values.servername && { servername: values.servername }),
          ...(values['https-port'] !== undefined && { httpsPort: int(values['https-port'], '--https-port', 5697) }),
        }
      : { kind: 'embedded', certsDir, ...(values['default-policy'] && { defaultPolicy: true }) };

  const bar = progress(io.stderr);
  bar.start(cases.length);
  const t0 = Date.now();
  const results = await runCases(cases, {
    target,
    concurrency: int(values.concurrency, '--concurrency', 2) || 1,
    stepTimeoutMs: int(values['step-timeout'], '--step-timeout', 10_000),
    caseTimeoutMs: int(values['case-timeout'], '--case-timeout', 60_000),
    onCase: (r, done, total) => bar.update(r, done, total),
  });
  bar.finish();
  const secs = ((Date.now() - t0) / 1000).toFixed(1);

  let expected = loadExpectedFailures();
  if (values['update-expected']) {
    expected = updateExpected(expected, results);
    writeFileSync(expectedFailuresPath(), JSON.stringify(expected, null, 2) + '\n');
    io.stdout.write('updated conformance/expected-failures.json\n');
  }
  const verdict = judge(results, expected, all);
  const maxSteps = int(values.diffs, '--diffs', 3);
  if (maxSteps > 0) {
    const report = failureReport(results, { maxSteps });
    if (report) io.stdout.write(report + '\n\n');
  }
  io.stdout.write(summaryTable(results) + '\n\n');
  io.stdout.write(`${results.length} cases in ${secs}s\n`);
  io.stdout.write(guardReport(verdict) + '\n');

  const meta = {
    corpus: relative(repoRoot(), root) || root,
    target:
      target.kind === 'embedded'
        ? `embedded server (LevelDB, software key protector, dev certificates${target.defaultPolicy ? '' : ', crypto policy loosened for the OASIS test keys: OASIS_TEST_KEY_POLICY'})`
        : `${target.host}:${target.port}`,
  };
  if (values['write-results']) {
    writeFileSync(join(repoRoot(), 'conformance', 'RESULTS.md'), resultsMarkdown(results, expected, meta));
    writeFileSync(join(repoRoot(), 'conformance', 'results.json'), resultsJson(results, expected, meta));
    io.stdout.write('wrote conformance/RESULTS.md and conformance/results.json\n');
  }
  if (values.json) writeFileSync(resolve(values.json), resultsJson(results, expected, meta));
  return verdict.ok ? 0 : 1;
}
