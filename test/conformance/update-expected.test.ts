/** --update-expected: drops passing cases, drafts new ones, redrafts only stale machine drafts. */
import { describe, expect, it } from 'vitest';
import { updateExpected } from '../../conformance/command.js';
import type { CaseResult } from '../../conformance/runner.js';

function result(id: string, status: CaseResult['status'], failedOp?: string): CaseResult {
  return {
    file: { version: '2.1', set: 'mandatory', id } as CaseResult['file'],
    status,
    steps: 1,
    stepsRun: 1,
    failures: failedOp
      ? [
          {
            step: 0,
            operation: failedOp,
            diffs: [{ path: 'ResponseMessage/BatchItem/ResultStatus', expected: 'Enumeration Success', got: 'Enumeration OperationFailed' }],
            outcome: [`${failedOp}: OperationFailed/InvalidField "nope"`],
          } as unknown as CaseResult['failures'][number],
        ]
      : [],
    rulesApplied: {},
    durationMs: 1,
  };
}

describe('updateExpected', () => {
  const expected = {
    cases: {
      '2.1/mandatory/A': 'needs CreateKeyPair (issue #4 HSM/crypto; server answers Operation Not Supported)',
      '2.1/mandatory/B': 'the case uses an id before the server returns it (defect in the OASIS file)',
      '2.1/mandatory/C': 'needs Encrypt (issue #4 HSM/crypto; server answers Operation Not Supported)',
    },
  };

  it('drops passing cases, keeps hand-written reasons, redrafts stale "needs X" drafts, adds new failures', () => {
    const out = updateExpected(expected, [result('A', 'fail', 'GetAttributes'), result('B', 'fail', 'Locate'), result('C', 'pass'), result('D', 'fail', 'Register')]);
    expect(Object.keys(out.cases)).toEqual(['2.1/mandatory/A', '2.1/mandatory/B', '2.1/mandatory/D']);
    expect(out.cases['2.1/mandatory/A']).toMatch(/GetAttributes fails with InvalidField/);
    expect(out.cases['2.1/mandatory/B']).toBe(expected.cases['2.1/mandatory/B']);
    expect(out.cases['2.1/mandatory/D']).toMatch(/Register fails with InvalidField/);
  });
});
