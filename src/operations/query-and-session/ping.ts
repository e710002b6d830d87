/**
 * Ping (KMIP 2.1 §6.1.36): an empty request answered with an empty payload, to check
 * that the server is alive and the connection works.
 * Result Reasons: Invalid Field (a non-empty payload).
 */
import { Operation } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { payload, readPayload } from '../../kmip/payload.js';
import type { OperationHandler } from '../context.js';

export const ping: OperationHandler = {
  operation: Operation.Ping,
  name: 'Ping',
  async handle(_ctx, node) {
    readPayload(node, {}, { what: 'Ping request payload' });
    return payload(Tag.ResponsePayload, []);
  },
};
