/**
 * Hash. KMIP 1.4 §4.37 (Tables 245-246, errors §11.38 Table 361), KMIP 2.1 §6.1.24
 * (Tables 235-237). Hashes Data with the Cryptographic Parameters' Hashing Algorithm: SHA-1,
 * SHA-224/256/384/512, SHA-512/224, SHA-512/256, SHA3-224/256/384/512 (policy:
 * src/policy/crypto-policy.ts). No key. Multi-part with Init/Final Indicator and Correlation Value.
 *
 * Result Reasons:
 * - Invalid Field: no Cryptographic Parameters, or a malformed payload.
 * - Invalid Field (1.x) / Bad Cryptographic Parameters (2.x): no Hashing Algorithm.
 * - Invalid Field (1.x) / Unsupported Cryptographic Parameters (2.x): a hash not served (MD5, …).
 * - Item Not Found (1.x) / Invalid Correlation Value (2.x): an unknown Correlation Value.
 */
import { Operation } from '../../kmip/generated/enums.gen.js';
import type { OperationHandler } from '../context.js';
import { digestOperation } from './digest-flow.js';

export const hash: OperationHandler = {
  operation: Operation.Hash,
  name: 'Hash',
  handle: (ctx, node) => digestOperation(ctx, node, 'Hash'),
};
