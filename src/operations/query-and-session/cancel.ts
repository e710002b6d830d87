/**
 * Cancel. KMIP 1.4 §4.27, KMIP 2.1 §6.1.5. The client names the Asynchronous Correlation Value of
 * an item answered Operation Pending (operations/async-requests.ts); the answer is never itself
 * asynchronous. Response: the same Asynchronous Correlation Value and a Cancellation Result:
 * - Canceled: the item had not started (it waited behind an earlier item of its batch); it will
 *   not run, and the value is forgotten (a later Poll answers the unknown-value reason);
 * - Unable to Cancel: the item is running; operations are not aborted midway here, so it
 *   completes and its result stays pollable;
 * - Completed / Failed: it had already finished with success / a failure; still pollable;
 * - Unavailable: no result is held under the value for the caller (never issued, polled,
 *   expired, or another identity's).
 * Result Reasons: Invalid Field (a payload that breaks its schema). Cancel itself always succeeds.
 */
import { Operation } from '../../kmip/generated/enums.gen.js';
import { CancellationResult } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { payload, readPayload, required } from '../../kmip/payload.js';
import type { OperationHandler } from '../context.js';
import { item } from '../../kmip/items.js';

const Request = { value: required(Tag.AsynchronousCorrelationValue, 'ByteString') };

export const cancel: OperationHandler = {
  operation: Operation.Cancel,
  name: 'Cancel',
  async handle(ctx, node) {
    const req = readPayload(node, Request, { what: 'Cancel request payload' });
    const result = ctx.services.asyncRequests?.cancel(ctx.principal.id, req.value.value) ?? CancellationResult.Unavailable;
    return payload(Tag.ResponsePayload, [item('AsynchronousCorrelationValue', req.value.value), item('CancellationResult', result)]);
  },
};
