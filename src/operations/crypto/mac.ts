/**
 * MAC. KMIP 1.4 §4.33 (Tables 237-238, errors §11.34 Table 357), KMIP 2.1 §6.1.32
 * (Tables 259-261). Computes a MAC over Data: HMAC with an HMAC-SHA1/224/256/384/512 (or SHA3)
 * key, AES-CMAC (NIST SP 800-38B) with an AES key; the algorithm is the Cryptographic Parameters'
 * Cryptographic Algorithm, else the key's. Multi-part with Init/Final Indicator and Correlation
 * Value (operations/crypto/digest-flow.ts).
 *
 * Result Reasons:
 * - Item Not Found (1.x) / Object Not Found (2.x): no such object, or not the caller's.
 * - Object Archived: the key is archived.
 * - Illegal Operation (1.x) / Invalid Object Type (2.x): not a Symmetric Key or Secret Data.
 * - Permission Denied (1.x) / Wrong Key Lifecycle State (2.x): the key is not Active, or is past
 *   its Protect Stop Date.
 * - Permission Denied (1.x) / Incompatible Cryptographic Usage Mask (2.x): no MAC Generate bit.
 * - Key Value Not Present (Object Destroyed in 2.x): destroyed, or stored wrapped.
 * - Invalid Field (1.x) / Unsupported Cryptographic Parameters (2.x): an algorithm not served.
 * - Invalid Field (1.x) / Bad Cryptographic Parameters (2.x): parameters that do not fit the key.
 * - Item Not Found (1.x) / Invalid Correlation Value (2.x): an unknown Correlation Value.
 * - Permission Denied: more data than the Usage Limits leave (as Encrypt, test case CS-BC-M-7-21;
 *   operations/crypto/key-use.ts).
 * - Invalid Field: a malformed payload.
 */
import { Operation } from '../../kmip/generated/enums.gen.js';
import type { OperationHandler } from '../context.js';
import { digestOperation } from './digest-flow.js';

export const mac: OperationHandler = {
  operation: Operation.MAC,
  name: 'MAC',
  handle: (ctx, node) => digestOperation(ctx, node, 'MAC'),
};
