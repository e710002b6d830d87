/**
 * Log (KMIP 2.1 §6.1.29, Tables 250-252): the client asks the server to write a message to its
 * log. The Log Message goes to the server log at info level, with the requester's identity,
 * cut to LOG_MESSAGE_MAX characters (a client cannot flood the log with one request); the
 * response payload is empty. A KMIP 2.x operation (the dispatcher answers Operation Not
 * Supported in 1.x, where it does not exist).
 * Result Reasons: Invalid Field (no Log Message, or a payload that breaks its schema).
 */
import { Operation } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { payload, readPayload, required } from '../../kmip/payload.js';
import type { OperationHandler } from '../context.js';

export const LOG_MESSAGE_MAX = 1024;

const Request = { message: required(Tag.LogMessage, 'TextString') };

export const log: OperationHandler = {
  operation: Operation.Log,
  name: 'Log',
  async handle(ctx, node) {
    const req = readPayload(node, Request, { what: 'Log request payload' });
    const text = req.message.value;
    const cut = text.length > LOG_MESSAGE_MAX;
    ctx.log.info({ client: ctx.principal.id, logMessage: cut ? text.slice(0, LOG_MESSAGE_MAX) : text, ...(cut && { truncatedFrom: text.length }) }, 'client Log message');
    return payload(Tag.ResponsePayload, []);
  },
};
