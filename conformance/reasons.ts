/**
 * A first draft of the reason a case fails, read off its first failing step, for
 * `--update-expected` (which adds new failures to expected-failures.json with this draft and
 * drops entries that now pass). A person reviews the drafts; entries already in the list
 * keep their wording.
 */
import type { CaseResult, StepFailure } from './runner.js';

/** Operations that need the cryptographic services (keys used, not just stored). */
const CRYPTO_OPERATIONS = new Set([
  'Encrypt',
  'Decrypt',
  'Sign',
  'SignatureVerify',
  'MAC',
  'MACVerify',
  'RNGRetrieve',
  'RNGSeed',
  'Hash',
  'DeriveKey',
  'CreateKeyPair',
  'ReKeyKeyPair',
  'Certify',
  'ReCertify',
  'Import',
  'Export',
  'PKCS_11',
]);

function clip(s: string, n = 110): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > n ? one.slice(0, n) + '…' : one;
}

const isCorrelationEcho = (path: string) => path.endsWith('ResponseHeader/ClientCorrelationValue');

function fromStep(f: StepFailure): string {
  if (f.error) {
    if (f.error.startsWith('the case cannot be read')) return clip(f.error.replace('the case cannot be read: ', 'our XML reader/registry cannot read the case: '), 160);
    return `step ${f.step} ${f.operation}: ${clip(f.error)}`;
  }
  const outcome = f.outcome ?? [];
  const expectedStatus = f.diffs.find((d) => /BatchItem(\[\d+\])?\/ResultStatus$/.test(d.path));
  for (const o of outcome) {
    const m = /^(\w+): OperationFailed\/(\w+)(?: "(.*)")?$/.exec(o);
    if (!m) continue;
    const [, op = '?', reason = '?', msg] = m;
    if (reason === 'OperationNotSupported') {
      return CRYPTO_OPERATIONS.has(op) ? `needs ${op} (issue #4 HSM/crypto; server answers Operation Not Supported)` : `needs ${op} (server answers Operation Not Supported)`;
    }
    if (expectedStatus && /Success/.test(expectedStatus.expected)) return `step ${f.step}: ${op} fails with ${reason}${msg ? ` "${clip(msg, 70)}"` : ''} where the case expects Success`;
  }
  if (expectedStatus && /OperationFailed/.test(expectedStatus.expected)) {
    return `step ${f.step}: ${f.operation} succeeds where the case expects it to fail`;
  }
  const real = f.diffs.filter((d) => !isCorrelationEcho(d.path));
  const missingOps = real.filter((d) => d.got.startsWith('(absent from the Query response)')).map((d) => d.expected.replace(/^Enumeration /, ''));
  if (missingOps.length > 0) return `Query does not list ${missingOps.slice(0, 6).join(', ')}${missingOps.length > 6 ? ` and ${missingOps.length - 6} more` : ''}`;
  const d = real[0];
  if (d) return `step ${f.step} ${f.operation}: ${d.path.replace(/^ResponseMessage\//, '')}: expected ${clip(d.expected, 60)}, got ${clip(d.got, 60)}`;
  if (f.diffs.some((x) => isCorrelationEcho(x.path))) return 'server echoes ClientCorrelationValue in the response header, which the case does not expect (only difference)';
  return `step ${f.step} ${f.operation}`;
}

export function suggestReason(r: CaseResult): string {
  if (r.status === 'invalid') return `file defect: ${clip(r.note ?? 'invalid', 150)}`;
  // Prefer a step that shows more than the correlation-value echo.
  const f = r.failures.find((x) => x.error || x.diffs.some((d) => !isCorrelationEcho(d.path))) ?? r.failures[0];
  return f ? fromStep(f) : 'fails';
}
