/**
 * The one handler table. The dispatcher, Query and Discover Versions all read it.
 * Adding an operation = one file + one line here.
 */
import type { HandlerTable, OperationHandler } from './context.js';
import { discoverVersions } from './discover-versions.js';
import { interop } from './interop.js';
import { ping } from './ping.js';
import { makeQuery } from './query.js';

const handlers: OperationHandler[] = [discoverVersions, ping, interop];

const table = new Map<number, OperationHandler>();
handlers.push(makeQuery(() => table));
for (const h of handlers) {
  if (table.has(h.operation)) throw new Error(`two handlers for operation ${h.name}`);
  table.set(h.operation, h);
}

export const HANDLERS: HandlerTable = table;
