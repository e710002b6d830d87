/**
 * The one handler table. The dispatcher, Query and Discover Versions all read it.
 * Adding an operation = one file + one line in the list that groups it.
 */
import type { HandlerTable, OperationHandler } from './context.js';
import { discoverVersions } from './discover-versions.js';
import { interop } from './interop.js';
import { ping } from './ping.js';
import { log } from './log.js';
import { setEndpointRole } from './set-endpoint-role.js';
import { makeQuery } from './query.js';
import { poll } from './poll.js';
import { cancel } from './cancel.js';
import { OBJECT_HANDLERS } from './object-handlers.js';
import { ATTRIBUTE_HANDLERS } from './attribute-handlers.js';
import { ASYMMETRIC_HANDLERS } from './asymmetric-handlers.js';
import { CRYPTO_HANDLERS } from './crypto-handlers.js';
import { CERTIFICATE_HANDLERS } from './certificate-handlers.js';

const table = new Map<number, OperationHandler>();
const handlers: OperationHandler[] = [discoverVersions, ping, interop, makeQuery(() => table), ...OBJECT_HANDLERS, ...ATTRIBUTE_HANDLERS, ...CRYPTO_HANDLERS, ...ASYMMETRIC_HANDLERS, ...CERTIFICATE_HANDLERS, log, setEndpointRole, poll, cancel];
for (const h of handlers) {
  if (table.has(h.operation)) throw new Error(`two handlers for operation ${h.name}`);
  table.set(h.operation, h);
}

export const HANDLERS: HandlerTable = table;
