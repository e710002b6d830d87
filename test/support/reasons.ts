/** Reasons whose value depends on the protocol version, as the server answers them. */
import { ResultReason } from '../../src/kmip/generated/enums.gen.js';

/** Unknown or invisible object: Item Not Found in 1.x, Object Not Found in 2.x. */
export function notFoundReason(v: { major: number }): number {
  return v.major >= 2 ? ResultReason.ObjectNotFound : ResultReason.ItemNotFound;
}
