/**
 * Signature Verify. KMIP 1.4 §4.32 (Tables 254-255), KMIP 2.1 §6.1.53 (Tables 346-347).
 * Verifies Signature Data over the Data (or a Digested Data, RSA PKCS#1 v1.5) with a Public Key;
 * answers Validity Indicator Valid or Invalid (a malformed signature is Invalid, not an error; a
 * wrong hash gives Invalid, as test case CS-AC-M-3-21 expects). SHA-1 verifies (legacy use, NIST SP
 * 800-131A). Schemes and key checks: crypto/signing-keys.ts; multi-part as in Sign (not built).
 *
 * Result Reasons:
 * - Item Not Found (1.x) / Object Not Found (2.x); Object Archived; Object Destroyed (2.x) / Key
 *   Value Not Present (1.x).
 * - Invalid Object Type (2.x) / Illegal Operation (1.x): not a Public Key.
 * - Wrong Key Lifecycle State (2.x) / Permission Denied (1.x): not Active, Deactivated or
 *   Compromised (test case CS-AC-M-8-21).
 * - Incompatible Cryptographic Usage Mask (2.x) / Permission Denied (1.x): no Verify bit.
 * - Unsupported / Bad Cryptographic Parameters (2.x), Invalid Field (1.x) as in Sign.
 * - Missing Data: no Signature Data, or neither Data nor Digested Data.
 * - Feature Not Supported: multi-part requests.
 */
import { Operation, ResultReason, ValidityIndicator } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { optional, readPayload } from '../../kmip/payload.js';
import type { OperationHandler } from '../context.js';
import { asymmetricFailure, SignRequest, signatureFlow } from './sign.js';
import { item } from '../../kmip/items.js';

const Request = { ...SignRequest, signatureData: optional(Tag.SignatureData, 'ByteString') };

export const signatureVerify: OperationHandler = {
  operation: Operation.SignatureVerify,
  name: 'SignatureVerify',
  async handle(ctx, node) {
    const req = readPayload(node, Request, { what: 'Signature Verify request payload' });
    return signatureFlow(
      ctx,
      req,
      'SignatureVerify',
      (key, scheme, input, signature) => {
        if (signature === undefined) throw new KmipError(ResultReason.MissingData, 'no part of the request carried Signature Data');
        let valid: boolean;
        try {
          valid = key.verify(scheme, input, signature);
        } catch (e) {
          asymmetricFailure(ctx, e);
        }
        return [item('ValidityIndicator', valid ? ValidityIndicator.Valid : ValidityIndicator.Invalid)];
      },
      req.signatureData?.value,
    );
  },
};
