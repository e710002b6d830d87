/**
 * Decrypt. KMIP 1.4 §4.30 (Tables 231-232, errors §11.31 Table 354), KMIP 2.1 §6.1.13
 * (Tables 196-198). Decrypts Data with a Symmetric Key or an RSA Private Key (OAEP; PKCS#1 v1.5
 * decryption is refused, see src/crypto/mechanism.ts), checking the Authenticated Encryption Tag
 * for GCM and ChaCha20-Poly1305. Parameters, multi-part and mechanisms as for Encrypt
 * (operations/crypto/encrypt.ts, cipher-flow.ts).
 *
 * Result Reasons: as Encrypt, except
 * - the lifecycle: the key must be Active, Deactivated or Compromised, and not before its Process
 *   Start Date (Permission Denied in 1.x / Wrong Key Lifecycle State in 2.x);
 * - the usage mask needs the Decrypt bit;
 * - Illegal Operation (1.x) / Invalid Object Type (2.x): not a Symmetric Key or Private Key;
 * - Cryptographic Failure: the tag does not match, or bad padding / RSA decryption error (test
 *   cases CS-BC-M-GCM-1-21, CS-BC-M-CHACHA20POLY1305-1-21);
 * - Invalid Field (1.x) / Bad Cryptographic Parameters (2.x): no tag for an AEAD mode;
 * - Invalid Message: a mode needing an IV and none given (test cases CS-BC-M-11/12/13-21 and -14,
 *   "missing-iv"; the error tables are quoted in operations/crypto/key-use.ts).
 */
import { Operation } from '../../kmip/generated/enums.gen.js';
import type { OperationHandler } from '../context.js';
import { cipherOperation } from './cipher-flow.js';

export const decrypt: OperationHandler = {
  operation: Operation.Decrypt,
  name: 'Decrypt',
  handle: (ctx, node) => cipherOperation(ctx, node, 'decrypt'),
};
