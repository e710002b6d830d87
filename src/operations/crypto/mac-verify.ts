/**
 * MAC Verify. KMIP 1.4 §4.34 (Tables 239-240, errors §11.35 Table 358), KMIP 2.1 §6.1.33
 * (Tables 262-264). Recomputes the MAC over Data (as MAC does) and compares it with MAC Data in
 * constant time: Validity Indicator Valid or Invalid (a wrong MAC is an answer, not an error).
 * Multi-part: the intermediate parts answer Unknown, the final part Valid/Invalid.
 *
 * Result Reasons: as MAC, except the key must be Active, Deactivated or Compromised and not
 * before its Process Start Date, and the usage mask needs MAC Verify; MAC Data missing from the
 * final part: Invalid Field.
 */
import { Operation } from '../../kmip/generated/enums.gen.js';
import type { OperationHandler } from '../context.js';
import { digestOperation } from './digest-flow.js';

export const macVerify: OperationHandler = {
  operation: Operation.MACVerify,
  name: 'MACVerify',
  handle: (ctx, node) => digestOperation(ctx, node, 'MACVerify'),
};
