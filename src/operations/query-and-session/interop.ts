/**
 * Interop (KMIP 2.0 §6.1.26): the test harness tells the server that a named test case
 * begins, ends or resets. The server records it in its log and answers with an empty
 * payload; nothing else changes. Result Reasons: Invalid Field.
 */
import { InteropFunction, Operation } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { ResultReason } from '../../kmip/generated/enums.gen.js';
import { optional, payload, readPayload, required } from '../../kmip/payload.js';
import type { OperationHandler } from '../context.js';

const Request = {
  fn: required(Tag.InteropFunction, 'Enumeration'),
  id: optional(Tag.InteropIdentifier, 'TextString'),
};

export const interop: OperationHandler = {
  operation: Operation.Interop,
  name: 'Interop',
  async handle(ctx, node) {
    const req = readPayload(node, Request, { what: 'Interop request payload' });
    const fn = Object.entries(InteropFunction).find(([, v]) => v === req.fn.value)?.[0];
    if (fn === undefined) throw new KmipError(ResultReason.InvalidField, `unknown Interop Function ${req.fn.value}`);
    ctx.log.info({ interop: fn, case: req.id?.value }, 'interop');
    return payload(Tag.ResponsePayload, []);
  },
};
