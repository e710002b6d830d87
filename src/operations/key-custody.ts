/**
 * The key-custody seam (src/custody/) for a request: the server's residency setting and the
 * request's log. Operations ask it where a key lives and how to use it; none of them branches on
 * whether a key is in the HSM.
 */
import { custodies, type Custodies } from '../custody/index.js';
import type { OperationContext } from './context.js';

export function keyCustody(ctx: OperationContext): Custodies {
  return custodies(ctx.services.resident, ctx.log);
}
