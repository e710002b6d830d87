/**
 * Removing an HSM-resident key's token object (Destroy, and an undone batch that created one),
 * through the key-custody seam (src/custody/). It goes after the record no longer refers to it,
 * so a failure here never leaves a live object without its key; a token object left behind is
 * unreachable and is logged for the operator.
 */
import type { OperationContext } from './context.js';
import { keyCustody } from './key-custody.js';

export async function destroyToken(ctx: OperationContext, uid: string, hsmKey: string): Promise<void> {
  try {
    await keyCustody(ctx).of({ uid, hsmKey }).destroy({ uid, hsmKey });
  } catch (e) {
    ctx.log.error({ uid, err: e }, 'an HSM-resident key no record refers to could not be destroyed in the HSM; remove its token object (label kms-obj-<uid>) by hand');
  }
}
