/**
 * Encrypt. KMIP 1.4 §4.29 (Tables 229-230, errors §11.30 Table 353), KMIP 2.1 §6.1.17
 * (Tables 214-216). Encrypts Data with a Symmetric Key (AES ECB/CBC/CTR/GCM/XTS, ChaCha20,
 * ChaCha20-Poly1305; Triple DES only if the policy enables it) or an RSA Public Key (OAEP,
 * PKCS#1 v1.5), with the request's Cryptographic Parameters, else the key's attribute. Returns the
 * ciphertext, the IV/Counter/Nonce when the server generated it (Random IV), and the
 * Authenticated Encryption Tag (GCM, ChaCha20-Poly1305). Multi-part (1.3+): Init Indicator,
 * Correlation Value, Final Indicator (operations/crypto/cipher-flow.ts; mechanisms src/crypto/mechanism.ts).
 *
 * Result Reasons:
 * - Item Not Found (1.x) / Object Not Found (2.x): no such object, or not the caller's.
 * - Object Archived: the key is archived.
 * - Illegal Operation (1.x) / Invalid Object Type (2.x): not a Symmetric Key or Public Key.
 * - Permission Denied (1.x) / Wrong Key Lifecycle State (2.x): the key is not Active, or is past
 *   its Protect Stop Date (test case CS-BC-M-14-21).
 * - Permission Denied (1.x) / Incompatible Cryptographic Usage Mask (2.x): no Encrypt bit.
 * - Key Value Not Present (Object Destroyed in 2.x): the key was destroyed; Key Value Not Present
 *   for a key stored wrapped.
 * - Invalid Field (1.x) / Bad Cryptographic Parameters (2.x): parameters that do not fit the key
 *   or mode (IV length, Tag Length, missing Block Cipher Mode).
 * - Invalid Field (1.x) / Unsupported Cryptographic Parameters (2.x): a mechanism not served
 *   (policy: single DES, 3DES unless enabled, other modes/paddings).
 * - Invalid Message: a mode needing an IV, none given, and Random IV not set (test cases
 *   CS-BC-M-11/12/13; operations/crypto/key-use.ts quotes the error tables).
 * - General Failure: a Tag Length no AEAD mode has (test cases CS-BC-M-GCM-1 and
 *   CS-BC-M-CHACHA20POLY1305-1, steps 7-8).
 * - Invalid Field: data that is not whole blocks without padding; a malformed payload.
 * - Item Not Found (1.x) / Invalid Correlation Value (2.x): an unknown, expired or other
 *   principal's Correlation Value.
 * - Permission Denied: more data than the Usage Limits leave (test case CS-BC-M-7-21, -14).
 * - Feature Not Supported: multi-part RSA.
 */
import { Operation } from '../../kmip/generated/enums.gen.js';
import type { OperationHandler } from '../context.js';
import { cipherOperation } from './cipher-flow.js';

export const encrypt: OperationHandler = {
  operation: Operation.Encrypt,
  name: 'Encrypt',
  handle: (ctx, node) => cipherOperation(ctx, node, 'encrypt'),
};
