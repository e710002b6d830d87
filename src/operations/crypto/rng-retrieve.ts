/**
 * RNG Retrieve. KMIP 1.4 §4.35 (Tables 241-242, errors §11.36 Table 359), KMIP 2.1 §6.1.49
 * (Tables 316-318). Data Length bytes from node's CSPRNG (crypto.randomBytes, OpenSSL's DRBG),
 * at most CIPHER_POLICY.rngMaxBytes per request.
 *
 * Result Reasons:
 * - Invalid Field: Data Length missing, not positive, or over the limit; a malformed payload.
 * - Cryptographic Failure: the generator fails.
 */
import { randomBytes } from 'node:crypto';
import { Operation, ResultReason } from '../../kmip/generated/enums.gen.js';
import { Tag } from '../../kmip/generated/tags.gen.js';
import { KmipError } from '../../kmip/errors.js';
import { payload, readPayload, required } from '../../kmip/payload.js';
import { CIPHER_POLICY } from '../../policy/crypto-policy.js';
import type { OperationHandler } from '../context.js';
import { item } from '../../kmip/items.js';

const Request = { dataLength: required(Tag.DataLength, 'Integer') };

export const rngRetrieve: OperationHandler = {
  operation: Operation.RNGRetrieve,
  name: 'RNGRetrieve',
  async handle(_ctx, node) {
    const req = readPayload(node, Request, { what: 'RNG Retrieve request payload' });
    const n = req.dataLength.value;
    if (n <= 0 || n > CIPHER_POLICY.rngMaxBytes) throw new KmipError(ResultReason.InvalidField, `Data Length must be between 1 and ${CIPHER_POLICY.rngMaxBytes}`);
    let data: Uint8Array;
    try {
      data = new Uint8Array(randomBytes(n));
    } catch (e) {
      throw new KmipError(ResultReason.CryptographicFailure, 'the random number generator failed', { cause: e });
    }
    return payload(Tag.ResponsePayload, [item('Data', data)]);
  },
};
