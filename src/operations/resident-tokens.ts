/**
 * Removing an HSM-resident key's token object (Destroy, and an undone batch that created one),
 * through the key-custody seam (src/custody/). It goes after the record no longer refers to it,
 * so a failure here never leaves a live object without its key; a token object left behind is
 * unreachable and is logged for the operator. The unit of work (operations/unit-of-work.ts) and
 * the Undo batch (operations/batch-undo.ts) call it; it needs the HSM backend and a logger,
 * nothing of a request.
 */
import type { Logger } from 'pino';
import { custodies } from '../custody/index.js';
import type { ResidentKeys } from '../hsm/resident.js';

export async function destroyToken(resident: ResidentKeys | undefined, log: Logger, uid: string, hsmKey: string): Promise<void> {
  try {
    await custodies(resident, log).of({ uid, hsmKey }).destroy({ uid, hsmKey });
  } catch (e) {
    log.error({ uid, err: e }, 'an HSM-resident key no record refers to could not be destroyed in the HSM; remove its token object (label kms-obj-<uid>) by hand');
  }
}
