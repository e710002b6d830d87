/**
 * Sign. KMIP 1.4 §4.31 (Tables 252-253), KMIP 2.1 §6.1.52 (Tables 344-345).
 * Signs the Data, or a Digested Data the client computed (RSA PKCS#1 v1.5 only: node:crypto has
 * no pre-hashed call for PSS/ECDSA), with a Private Key; returns Unique Identifier and Signature
 * Data (ECDSA signatures DER-encoded, RFC 3279). Schemes and key checks: signature-support.ts.
 * Multi-part (Correlation Value, Init/Final Indicator) is not built: a request that is not a
 * single part gets Feature Not Supported.
 *
 * Result Reasons:
 * - Item Not Found (1.x) / Object Not Found (2.x); Object Archived; Object Destroyed (2.x) / Key
 *   Value Not Present (1.x).
 * - Invalid Object Type (2.x) / Illegal Operation (1.x): not a Private Key.
 * - Wrong Key Lifecycle State (2.x) / Permission Denied (1.x): the key is not Active.
 * - Incompatible Cryptographic Usage Mask (2.x) / Permission Denied (1.x): no Sign bit.
 * - Unsupported / Bad Cryptographic Parameters (2.x), Invalid Field (1.x): parameters that do not
 *   fit the key or that the policy refuses (SHA-1), a digest of the wrong length.
 * - Missing Data / Invalid Field: neither Data nor Digested Data, or both.
 * - Feature Not Supported: multi-part requests.
 */
import { Operation, ResultReason } from '../kmip/generated/enums.gen.js';
import { Tag } from '../kmip/generated/tags.gen.js';
import { KmipError } from '../kmip/errors.js';
import { optional, payload, readPayload } from '../kmip/payload.js';
import { AsymmetricError, signWith, type SignInput } from '../crypto/asymmetric.js';
import type { OperationContext, OperationHandler } from './context.js';
import { byVersion } from './object-support.js';
import { resolveUid } from './support.js';
import { loadSigningKey, signatureParams, signatureScheme } from './signature-support.js';

export const SignRequest = {
  uid: optional(Tag.UniqueIdentifier, 'TextString'),
  cryptographicParameters: optional(Tag.CryptographicParameters, 'Structure'),
  data: optional(Tag.Data, 'ByteString'),
  digestedData: optional(Tag.DigestedData, 'ByteString'),
  correlationValue: optional(Tag.CorrelationValue, 'ByteString'),
  initIndicator: optional(Tag.InitIndicator, 'Boolean'),
  finalIndicator: optional(Tag.FinalIndicator, 'Boolean'),
};

/** The single-part input of a Sign / Signature Verify request. */
export function signInput(ctx: OperationContext, req: { data?: { value: Uint8Array }; digestedData?: { value: Uint8Array }; correlationValue?: unknown; initIndicator?: { value: boolean }; finalIndicator?: { value: boolean } }): SignInput {
  if (req.correlationValue !== undefined || req.initIndicator?.value === false || req.finalIndicator?.value === false || (req.initIndicator?.value === true && req.finalIndicator?.value !== true)) {
    throw new KmipError(ResultReason.FeatureNotSupported, 'multi-part signatures are not supported; send the whole message in one request');
  }
  if (req.data !== undefined && req.digestedData !== undefined) throw new KmipError(ResultReason.InvalidField, 'give Data or Digested Data, not both');
  if (req.digestedData !== undefined) return { digest: req.digestedData.value };
  if (req.data !== undefined) return { data: req.data.value };
  throw new KmipError(ResultReason.MissingData, 'the request carries neither Data nor Digested Data');
}

/** A mechanism refusal as the version's reason. */
export function asymmetricFailure(ctx: OperationContext, e: unknown): never {
  if (e instanceof AsymmetricError) {
    const reason = e.code === 'UNSUPPORTED' ? ResultReason.UnsupportedCryptographicParameters : ResultReason.BadCryptographicParameters;
    throw new KmipError(byVersion(ctx.version, ResultReason.InvalidField, reason), e.message);
  }
  throw new KmipError(ResultReason.CryptographicFailure, 'the signature operation failed', { cause: e });
}

export const sign: OperationHandler = {
  operation: Operation.Sign,
  name: 'Sign',
  async handle(ctx, node) {
    const req = readPayload(node, SignRequest, { what: 'Sign request payload' });
    const uid = resolveUid(ctx, req.uid);
    const input = signInput(ctx, req);
    const { record, key } = await loadSigningKey(ctx, uid, 'Sign');
    const scheme = signatureScheme(ctx, key, signatureParams(req.cryptographicParameters, record), 'Sign');
    let signature: Uint8Array;
    try {
      signature = signWith(key, scheme, input);
    } catch (e) {
      asymmetricFailure(ctx, e);
    }
    return payload(Tag.ResponsePayload, [
      { tag: Tag.UniqueIdentifier, type: 'TextString', value: uid },
      { tag: Tag.SignatureData, type: 'ByteString', value: signature },
    ]);
  },
};
