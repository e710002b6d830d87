/**
 * Poll. KMIP 1.4 §4.28, KMIP 2.1 §6.1.36. The client names the Asynchronous Correlation Value an
 * Operation Pending answer gave it (operations/async-requests.ts); the answer is never itself
 * asynchronous.
 * - Still running (or waiting for an earlier item of its batch): Result Status Operation Pending,
 *   the same Asynchronous Correlation Value, an empty payload.
 * - Finished: the item's own result, as it would have been answered synchronously (status,
 *   reason, message, payload); the Poll item echoes Operation Poll. The result is handed over
 *   once: the value is then forgotten.
 * Result Reasons:
 * - Invalid Asynchronous Correlation Value (2.x) / Item Not Found (1.x, which has no such reason):
 *   no result is held under that value for the caller — never issued, already polled, canceled,
 *   expired (async.resultTtlMs), lost in a restart, or another identity's (indistinguishable).
 * - Invalid Field: a payload that breaks its schema.
 */
import { Operation, ResultReason, ResultStatus } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { payload, readPayload, required } from '../../kmip/payload.js';
import type { OperationContext, OperationHandler } from '../context.js';
import { versionReason } from '../../kmip/version-rules.js';

const Request = { value: required(Tag.AsynchronousCorrelationValue, 'ByteString') };

/** The refusal for a correlation value the caller holds no result under (Poll). */
export function unknownCorrelation(ctx: OperationContext): KmipError {
  return new KmipError(
    versionReason(ctx.version, 'InvalidAsynchronousCorrelationValue'),
    'no asynchronous result is held under this correlation value for this client (never issued, already polled, canceled or expired)',
  );
}

export const poll: OperationHandler = {
  operation: Operation.Poll,
  name: 'Poll',
  async handleItem(ctx, node) {
    const req = readPayload(node, Request, { what: 'Poll request payload' });
    const found = ctx.services.asyncRequests?.poll(ctx.principal.id, req.value.value) ?? { kind: 'unknown' as const };
    if (found.kind === 'unknown') throw unknownCorrelation(ctx);
    if (found.kind === 'pending') {
      return { status: ResultStatus.OperationPending, asynchronousCorrelationValue: req.value.value, payload: payload(Tag.ResponsePayload, []) };
    }
    const r = found.result;
    return {
      status: r.status,
      ...(r.reason !== undefined ? { reason: r.reason } : {}),
      ...(r.message !== undefined ? { message: r.message } : {}),
      ...(r.payload !== undefined ? { payload: r.payload } : {}),
    };
  },
  async handle(ctx, node) {
    const out = await this.handleItem!(ctx, node);
    if (out.status !== ResultStatus.Success)
      throw new KmipError((out.reason ?? ResultReason.GeneralFailure) as typeof ResultReason.GeneralFailure, out.message ?? 'the polled operation did not succeed');
    return out.payload ?? payload(Tag.ResponsePayload, []);
  },
};
